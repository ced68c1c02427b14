#!/usr/bin/env python3
"""Generates the verify benchmark's input: a repository of N scripts with goldenpath
headers and test files, a proofgate.yaml trusting one ed25519 key and requiring
signatures, and N signed proofs (proof-<ID>.json + proof-<ID>.dsse.json) for commit C.

The proofs and envelopes follow the formats proofgate generate writes; they are built
here, independently, so the benchmark measures verify alone.

usage: gen.py N OUT_DIR COMMIT
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def pae(t, p):
    t = t.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(p), p)


def jcs(v):
    # ASCII-only strings and no numbers: sorted keys and no spaces is RFC 8785.
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def main():
    n, out, commit = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    repo, proofs = os.path.join(out, "repo"), os.path.join(out, "proofs")
    os.makedirs(os.path.join(repo, "scripts"), exist_ok=True)
    os.makedirs(os.path.join(repo, "tests"), exist_ok=True)
    os.makedirs(proofs, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keyid = sha(pub)
    with open(os.path.join(repo, "proofgate.yaml"), "w") as f:
        f.write("trusted_keys:\n  - name: bench\n    public_key: %s\n" % base64.b64encode(pub).decode())
        f.write("policy:\n  require_signatures: true\n")
    for i in range(n):
        sid = "s%05d" % i
        spath, tpath = "scripts/%s.py" % sid, "tests/test_%s.py" % sid
        script = (
            '#!/usr/bin/env python3\n"""\n---\nid: %s\ntype: script\nowner: platform-team\n'
            "status: active\nmaturity: 3\ntest:\n  runner: pytest\n  command: \"pytest -q %s\"\n"
            "  evidence: ci\ndry_run:\n  supported: true\nrisk_profile:\n  production_impact: high\n"
            "  security_risk: low\n  coupling_risk: low\n---\nBenchmark script %d.\n\"\"\"\n\nprint(%d)\n"
            % (sid, tpath, i, i)
        ).encode()
        test = ("from %s import *\n\n\ndef test_%s():\n    assert True\n" % (sid, sid)).encode()
        with open(os.path.join(repo, spath), "wb") as f:
            f.write(script)
        with open(os.path.join(repo, tpath), "wb") as f:
            f.write(test)
        test_files = [{"path": tpath, "digest": "sha256:" + sha(test)}]
        proof = {
            "schema_version": "2.0",
            "script_id": sid,
            "generated_at": "2026-01-01T00:00:00Z",
            "commit_sha": commit,
            "ci_run_id": "1",
            "test_summary": {"total": 1, "passed": 1, "failed": 0, "errors": 0, "skipped": 0, "pass_rate": 100.0},
            "verdict": "PASS",
            "reasons": [],
            "evidence": "ci",
            "script_path": spath,
            "script_digest": "sha256:" + sha(script),
            "script_git_blob": hashlib.sha1(b"blob %d\0" % len(script) + script).hexdigest(),
            "tests_digest": "sha256:" + sha(jcs(test_files)),
            "test_files": test_files,
            "sources": [{"path": "test-results/junit.xml", "digest": "sha256:" + "0" * 64}],
            "flaky": 0,
            "context": {"tool": "bench", "sha": commit},
            "tests": [{"name": "test_" + sid, "classname": "tests.test_" + sid, "file": tpath,
                       "status": "passed", "time": 0.001, "attempts": 1, "message": None}],
        }
        pbytes = json.dumps(proof, indent=2).encode() + b"\n"
        name = "proof-%s.json" % sid
        stmt = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": spath, "digest": {"sha256": sha(script)}}],
            "predicateType": "https://in-toto.io/attestation/test-result/v0.1",
            "predicate": {
                "result": "PASSED",
                "configuration": [],
                "passedTests": ["test_" + sid],
                "proofgate": {"scriptId": sid, "proof": {"name": name, "digest": "sha256:" + sha(pbytes)}},
            },
        }
        payload = json.dumps(stmt, separators=(",", ":")).encode()
        sig = key.sign(pae(PAYLOAD_TYPE, payload))
        env = {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}],
        }
        with open(os.path.join(proofs, name), "wb") as f:
            f.write(pbytes)
        with open(os.path.join(proofs, "proof-%s.dsse.json" % sid), "w") as f:
            json.dump(env, f, indent=2)


if __name__ == "__main__":
    main()
