// proofgate GitHub Action shim: a small, dependency-free node script.
//
// A node action (not a composite one) because ACTIONS_RUNTIME_TOKEN and
// ACTIONS_RESULTS_URL reach only node and docker actions. It picks the static binary
// for the runner, checks its sha256 against dist/checksums.txt, and runs it with the
// action's inputs. PROOFGATE_BINARY overrides the binary (tests, self-hosted runners);
// an overriding binary is not checksummed.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

/**
 * `process.platform-process.arch` → the release binary for that runner: the Rust target it
 * was built for and its file name under dist/bin/<target>/.
 */
const TARGETS = {
  'linux-x64': { target: 'x86_64-unknown-linux-musl', file: 'proofgate' },
  'linux-arm64': { target: 'aarch64-unknown-linux-musl', file: 'proofgate' },
  'darwin-x64': { target: 'x86_64-apple-darwin', file: 'proofgate' },
  'darwin-arm64': { target: 'aarch64-apple-darwin', file: 'proofgate' },
  // Cross-built with mingw-w64; a `proofgate run` timeout there ends the command only,
  // not the processes it started (Windows has no process groups).
  'win32-x64': { target: 'x86_64-pc-windows-gnu', file: 'proofgate.exe' },
};

/** What `generate --shard` accepts as a matrix leg's name. */
const SHARD_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Escapes the message of a workflow command, so it stays one command. */
function escapeData(message) {
  return String(message).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function fail(message) {
  // A workflow command, so the error shows as an annotation.
  process.stdout.write(`::error title=proofgate::${escapeData(message)}\n`);
  process.exit(2);
}

/** The value of input `name`, as the runner passes it (INPUT_<NAME>), trimmed. */
function input(name, env = process.env) {
  const v = env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
  return v === undefined ? '' : String(v).trim();
}

function bool(name, env) {
  const v = input(name, env).toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  fail(`input \`${name}\` must be \`true\` or \`false\`, not \`${v}\``);
  return false;
}

function sha256File(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Finds the binary: PROOFGATE_BINARY, else dist/bin/<target>/proofgate checked against dist/checksums.txt. */
function resolveBinary(env = process.env, platform = process.platform, arch = process.arch, distDir = __dirname) {
  if (env.PROOFGATE_BINARY) {
    if (!fs.existsSync(env.PROOFGATE_BINARY)) {
      throw new Error(`PROOFGATE_BINARY \`${env.PROOFGATE_BINARY}\` does not exist`);
    }
    return env.PROOFGATE_BINARY;
  }
  const t = TARGETS[`${platform}-${arch}`];
  if (!t) {
    throw new Error(`proofgate has no binary for ${platform}/${arch} (supported: ${Object.keys(TARGETS).join(', ')}); ` +
      'set PROOFGATE_BINARY to a proofgate you built (`cargo install --locked --git https://github.com/proofgate/proofgate`)');
  }
  const rel = `bin/${t.target}/${t.file}`;
  const bin = path.join(distDir, rel);
  if (!fs.existsSync(bin)) {
    throw new Error(`\`dist/${rel}\` is missing: use a release tag of the action (e.g. \`@v1\`), whose dist/ carries the binaries, ` +
      'or set PROOFGATE_BINARY');
  }
  const sums = path.join(distDir, 'checksums.txt');
  if (!fs.existsSync(sums)) throw new Error('`dist/checksums.txt` is missing: the release is incomplete');
  const want = fs.readFileSync(sums, 'utf8').split('\n')
    .map((l) => l.trim().split(/\s+\*?/))
    .find((f) => f.length >= 2 && f[1].replace(/^\*/, '') === rel);
  if (!want) throw new Error(`\`dist/checksums.txt\` has no line for \`${rel}\``);
  const got = sha256File(bin);
  if (got !== want[0].toLowerCase()) {
    throw new Error(`checksum mismatch for \`dist/${rel}\`: expected ${want[0]}, got ${got}; refusing to run it`);
  }
  if (platform !== 'win32') fs.chmodSync(bin, 0o755);
  return bin;
}

function lines(v) {
  return v.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * The matrix leg this job is, so that every leg of a matrix uploads under its own name and
 * its proofs record which leg made them. In order: the `shard` input; else, in a matrix job
 * (`matrix`, defaulting to `toJSON(matrix)`, is an object with keys), `strategy.job-index`
 * (the `job-index` input's default) when the runner gives it, else `m` + 12 hex digits of
 * the sha256 of the matrix JSON with its whitespace removed (as `proofgate upload` hashes
 * it); else none. A leg is stable across re-runs of the same run; the attempt number goes
 * into the artifact name separately.
 */
function leg(env = process.env) {
  const explicit = input('shard', env);
  if (explicit) {
    if (!SHARD_RE.test(explicit)) {
      fail(`input \`shard\` must match [A-Za-z0-9._-]{1,64}, not ${JSON.stringify(explicit)}`);
    }
    return explicit;
  }
  const matrix = input('matrix', env).replace(/\s+/g, '');
  if (matrix === '' || matrix === 'null' || matrix === '{}') return '';
  const index = input('job-index', env);
  if (/^[0-9]{1,9}$/.test(index)) return index;
  return `m${crypto.createHash('sha256').update(matrix).digest('hex').slice(0, 12)}`;
}

/** The command lines to run, in order, for the inputs; extra environment; warnings to print. */
function plan(env = process.env) {
  const mode = input('mode', env) || 'generate';
  const common = [];
  if (input('root', env)) common.push('--root', input('root', env));
  if (input('config', env)) common.push('--config', input('config', env));
  const dir = input('path', env) || path.join(env.RUNNER_TEMP || os.tmpdir(), 'proofgate-proofs');
  const extraEnv = {};
  const warnings = [];
  const token = input('github-token', env);
  if (token) extraEnv.GITHUB_TOKEN = token;

  if (mode === 'generate') {
    const gen = ['generate', ...common, '--out', dir];
    for (const j of lines(input('junit', env) || 'test-results/**/*.xml')) gen.push('--junit', j);
    const key = input('signing-key', env);
    if (key) {
      // Through the child's environment, never the command line or a file.
      extraEnv.PROOFGATE_SIGNING_KEY = key;
      gen.push('--signing-key-env', 'PROOFGATE_SIGNING_KEY');
    } else {
      warnings.push('input `signing-key` is empty: the proofs are not signed, and a gate that trusts a key will deny them ' +
        '(secrets are not given to pull requests from forks)');
    }
    const shard = leg(env);
    const up = ['upload', '--path', dir];
    if (shard) {
      // Read by `generate` (the producer recorded in each proof) and by `upload`.
      extraEnv.PROOFGATE_SHARD = shard;
      up.push('--shard', shard);
    }
    if (input('name', env)) up.push('--name', input('name', env));
    if (input('retention-days', env)) up.push('--retention-days', input('retention-days', env));
    if (bool('overwrite', env)) up.push('--overwrite');
    const commands = [gen, up];
    const server = input('server', env);
    if (server) {
      // The token through the child's environment, never the command line.
      extraEnv.PROOFGATE_SERVER_TOKEN = input('server-token', env);
      commands.push(['publish', dir, '--server', server, '--token-env', 'PROOFGATE_SERVER_TOKEN']);
    }
    return { mode, commands, extraEnv, dir, warnings };
  }
  if (mode === 'verify') {
    const v = ['verify', ...common, '--download-to', dir];
    const lock = input('lock', env);
    if (lock) {
      // The release gate on a lock: the pinned proofs come from the store, else from the
      // artifacts the lock names; nothing is downloaded by name or pattern.
      v.push('--lock', lock);
      const server = input('server', env);
      if (server) {
        extraEnv.PROOFGATE_SERVER_TOKEN = input('server-token', env);
        v.push('--server', server, '--token-env', 'PROOFGATE_SERVER_TOKEN');
      }
    } else {
      const name = input('name', env);
      const pattern = input('pattern', env) || 'proofs-*';
      if (name) v.push('--name', name);
      else v.push('--pattern', pattern);
      if (bool('merge-multiple', env)) v.push('--merge-multiple');
      if (input('run-id', env)) v.push('--run-id', input('run-id', env));
    }
    if (input('commit', env)) v.push('--commit', input('commit', env));
    if (input('base', env)) v.push('--base', input('base', env));
    for (const k of lines(input('trusted-keys', env))) v.push('--trusted-key', k);
    if (bool('release', env) || lock) v.push('--release');
    if (input('check-run', env)) v.push('--check-run', input('check-run', env));
    v.push('--report', path.join(env.RUNNER_TEMP || os.tmpdir(), 'proofgate-report.json'));
    return { mode, commands: [v], extraEnv, dir, warnings };
  }
  fail(`input \`mode\` must be \`generate\` or \`verify\`, not \`${mode}\``);
  return null;
}

/** How many proof-<ID>.json files (not envelopes) are in `dir`. */
function countProofs(dir) {
  try {
    return fs.readdirSync(dir).filter((f) => /^proof-.+\.json$/.test(f) && !f.endsWith('.dsse.json')).length;
  } catch (e) {
    return 0;
  }
}

function main() {
  let bin;
  try {
    bin = resolveBinary();
  } catch (e) {
    fail(e.message);
  }
  const { mode, commands, extraEnv, dir, warnings } = plan();
  for (const w of warnings) process.stdout.write(`::warning title=proofgate::${escapeData(w)}\n`);
  let worst = 0;
  for (const args of commands) {
    process.stderr.write(`proofgate ${args.join(' ')}\n`);
    const r = spawnSync(bin, args, { stdio: 'inherit', env: { ...process.env, ...extraEnv } });
    if (r.error) fail(`could not run \`${bin}\`: ${r.error.message}`);
    const code = r.status === null ? 3 : r.status;
    // `generate` exits 1 when a script's tests failed: its FAIL proofs are still
    // uploaded, so the gate can name them; the step then fails with that 1.
    const failedTests = mode === 'generate' && args[0] === 'generate' && code === 1;
    if (code !== 0 && !failedTests) process.exit(code);
    worst = Math.max(worst, code);
    if (mode === 'generate' && args[0] === 'generate' && process.env.GITHUB_OUTPUT) {
      fs.appendFileSync(process.env.GITHUB_OUTPUT, `proofs=${countProofs(dir)}\n`);
    }
  }
  process.exit(worst);
}

module.exports = { input, leg, plan, resolveBinary, TARGETS, SHARD_RE };

if (require.main === module) main();
