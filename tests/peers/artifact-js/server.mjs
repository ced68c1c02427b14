// A results service + blob store with GitHub's semantics, for tests and benchmarks only.
// Listens on 127.0.0.1 (PORT, default a free port) and prints `listening <port>` first.
//
// What it checks, as GitHub does: the bearer token on Twirp calls, version 4 or 7,
// ordered Put Block List commits of equal-length block ids, no Authorization header on
// blob requests, `size` and the `sha256:` hash at FinalizeArtifact, unique names per run
// (409). It answers snake_case with int64 as strings, like GitHub's service.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

const dir = fs.mkdtempSync(path.join(process.env.STORE_DIR || os.tmpdir(), 'pg-results-'));
const artifacts = new Map(); // id -> record
let nextId = 1000;
let port = 0;

const PREFIX = '/twirp/github.actions.results.api.v1.ArtifactService/';

function twirpError(res, status, code, msg) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code, msg }));
}
function json(res, body) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
function find(run, name) {
  for (const a of artifacts.values()) if (a.run === run && a.name === name) return a;
  return undefined;
}
function listed(a) {
  return {
    workflow_run_backend_id: a.run, workflow_job_run_backend_id: a.job,
    database_id: String(a.id), name: a.name, size: String(a.size),
    created_at: a.created, digest: a.digest,
  };
}
function blobUrl(a, extra) {
  return `http://127.0.0.1:${port}/blob/${a.id}.zip?sv=2026-04-06&sig=c2lnbmF0dXJl%2B%3D${extra}`;
}

async function twirp(req, res, method) {
  if (!/^Bearer .+/.test(req.headers.authorization || '')) return twirpError(res, 401, 'unauthenticated', 'missing bearer token');
  let body;
  try { body = JSON.parse((await readBody(req)).toString('utf8') || '{}'); } catch { return twirpError(res, 400, 'malformed', 'body is not JSON'); }
  const run = body.workflow_run_backend_id, job = body.workflow_job_run_backend_id;
  if (!run || !job) return twirpError(res, 400, 'invalid_argument', 'backend ids are required');
  switch (method) {
    case 'CreateArtifact': {
      if (body.version !== 4 && body.version !== 7) return twirpError(res, 400, 'invalid_argument', `unsupported version ${body.version}`);
      if (!body.name) return twirpError(res, 400, 'invalid_argument', 'name is required');
      const old = find(run, body.name);
      if (old) return twirpError(res, 409, 'already_exists', 'an artifact with this name already exists on the workflow run');
      const a = { id: nextId++, run, job, name: body.name, size: 0, digest: undefined, finalized: false,
        committed: false, blocks: new Map(), created: new Date().toISOString(), expires: body.expires_at };
      artifacts.set(a.id, a);
      return json(res, { ok: true, signed_upload_url: blobUrl(a, '&sp=cw') });
    }
    case 'FinalizeArtifact': {
      const a = find(run, body.name);
      if (!a || a.finalized) return twirpError(res, 404, 'not_found', 'artifact not found');
      if (!a.committed) return twirpError(res, 400, 'failed_precondition', 'no blob was committed');
      if (String(a.size) !== String(body.size)) return twirpError(res, 400, 'invalid_argument', `size ${body.size} does not match the blob (${a.size})`);
      if (body.hash && body.hash !== a.digest) return twirpError(res, 400, 'invalid_argument', 'checksum is invalid');
      a.finalized = true;
      return json(res, { ok: true, artifact_id: String(a.id) });
    }
    case 'ListArtifacts': {
      const out = [];
      for (const a of artifacts.values()) {
        if (!a.finalized || a.run !== run) continue;
        if (body.name_filter && a.name !== body.name_filter) continue;
        if (body.id_filter && String(a.id) !== String(body.id_filter)) continue;
        out.push(listed(a));
      }
      return json(res, { artifacts: out });
    }
    case 'GetSignedArtifactURL': {
      const a = find(run, body.name);
      if (!a || !a.finalized) return twirpError(res, 404, 'not_found', 'artifact not found');
      return json(res, { signed_url: blobUrl(a, '&sp=r&rsct=application%2Fzip') });
    }
    case 'DeleteArtifact': {
      const a = find(run, body.name);
      if (!a) return twirpError(res, 404, 'not_found', 'artifact not found');
      artifacts.delete(a.id);
      fs.rmSync(path.join(dir, String(a.id)), { recursive: true, force: true });
      return json(res, { ok: true, artifact_id: String(a.id) });
    }
    default:
      return twirpError(res, 404, 'bad_route', `no method ${method}`);
  }
}

async function blob(req, res, url) {
  const m = /^\/blob\/(\d+)\.zip$/.exec(url.pathname);
  const a = m && artifacts.get(Number(m[1]));
  if (!a) { res.writeHead(404); return res.end('BlobNotFound'); }
  if (req.headers.authorization) { res.writeHead(400); return res.end('InvalidAuthenticationInfo: a signed URL takes no Authorization header'); }
  const adir = path.join(dir, String(a.id));
  fs.mkdirSync(adir, { recursive: true });
  const final = path.join(adir, 'blob.zip');
  if (req.method === 'GET') {
    if (!a.finalized) { res.writeHead(404); return res.end('BlobNotFound'); }
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': a.size });
    return fs.createReadStream(final).pipe(res);
  }
  if (req.method !== 'PUT' || a.finalized) { res.writeHead(403); return res.end('AuthorizationPermissionMismatch'); }
  const comp = url.searchParams.get('comp');
  if (comp === 'block') {
    const id = url.searchParams.get('blockid');
    if (!id) { res.writeHead(400); return res.end('InvalidQueryParameterValue'); }
    const file = path.join(adir, 'block-' + Buffer.from(id).toString('hex'));
    await new Promise((resolve, reject) => req.pipe(fs.createWriteStream(file)).on('finish', resolve).on('error', reject));
    a.blocks.set(id, file);
    res.writeHead(201); return res.end();
  }
  if (comp === 'blocklist') {
    const xml = (await readBody(req)).toString('utf8');
    const ids = [...xml.matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map((x) => x[1]);
    if (ids.length === 0 || new Set(ids.map((i) => i.length)).size !== 1 || ids.some((i) => !a.blocks.has(i))) {
      res.writeHead(400); return res.end('InvalidBlockList');
    }
    const hash = crypto.createHash('sha256');
    const out = fs.openSync(final, 'w');
    let size = 0;
    for (const id of ids) {
      const data = fs.readFileSync(a.blocks.get(id));
      hash.update(data); fs.writeSync(out, data); size += data.length;
    }
    fs.closeSync(out);
    for (const f of a.blocks.values()) fs.rmSync(f, { force: true });
    a.blocks.clear();
    a.size = size; a.digest = 'sha256:' + hash.digest('hex'); a.committed = true;
    res.writeHead(201); return res.end();
  }
  res.writeHead(400); return res.end('MissingRequiredHeader: x-ms-blob-type (single-shot Put Blob is not supported here)');
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname.startsWith(PREFIX)) return await twirp(req, res, url.pathname.slice(PREFIX.length));
    if (url.pathname.startsWith('/blob/')) return await blob(req, res, url);
    res.writeHead(404); res.end('not found');
  } catch (e) {
    res.writeHead(500); res.end(String(e));
  }
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(`listening ${port}\n`);
});
const stop = () => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.SERVER_DETACHED !== '1') {
  process.stdin.on('end', stop); // the parent went away
  process.stdin.resume();
}
