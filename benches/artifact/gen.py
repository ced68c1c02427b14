#!/usr/bin/env python3
"""gen.py DIR N: write N proof-like JSON files (~2 KB each) under DIR, deterministically."""
import json
import os
import random
import sys

root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(n):
    sub = os.path.join(root, f"shard-{i % 10}")
    os.makedirs(sub, exist_ok=True)
    tests = [
        {
            "nodeid": f"tests/test_s{i}.py::TestCase::test_{j}_{rng.getrandbits(32):08x}",
            "status": rng.choice(["passed", "passed", "passed", "skipped"]),
            "duration": round(rng.random(), 4),
        }
        for j in range(12)
    ]
    proof = {
        "schema_version": "1.0",
        "script_id": f"script-{i:05d}",
        "script_digest": f"sha256:{rng.getrandbits(256):064x}",
        "commit_sha": f"{rng.getrandbits(160):040x}",
        "generated_at": "2026-01-01T00:00:00Z",
        "verdict": "PASS",
        "tests": tests,
    }
    with open(os.path.join(sub, f"proof-script-{i:05d}.json"), "w") as f:
        json.dump(proof, f, indent=2)
