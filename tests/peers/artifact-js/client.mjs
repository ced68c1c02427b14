// The official client (@actions/artifact), driven from the command line for interop tests
// and benchmarks. Reads ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL like any action.
//   node client.mjs upload NAME DIR      -> {"id":..,"size":..,"digest":..}
//   node client.mjs list                 -> {"artifacts":[...]}
//   node client.mjs download NAME DEST   -> {"id":..,"digestMismatch":..}
import fs from 'node:fs';
import path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';

const client = new DefaultArtifactClient();
const [cmd, ...args] = process.argv.slice(2);

function walk(root) {
  const out = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) out.push(...walk(p)); else out.push(p);
  }
  return out;
}

try {
  if (cmd === 'upload') {
    const [name, dir] = args;
    const r = await client.uploadArtifact(name, walk(dir), dir, { retentionDays: 90 });
    console.log(JSON.stringify(r));
  } else if (cmd === 'list') {
    const r = await client.listArtifacts();
    console.log(JSON.stringify(r));
  } else if (cmd === 'download') {
    const [name, dest] = args;
    const { artifact } = await client.getArtifact(name);
    const r = await client.downloadArtifact(artifact.id, { path: dest, expectedHash: artifact.digest });
    console.log(JSON.stringify({ id: artifact.id, digest: artifact.digest, ...r }));
    if (r.digestMismatch) process.exit(4);
  } else {
    console.error(`unknown command ${cmd}`);
    process.exit(2);
  }
} catch (e) {
  console.error(String(e && e.stack || e));
  process.exit(1);
}
