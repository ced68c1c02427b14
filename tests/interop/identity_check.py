#!/usr/bin/env python3
"""Recomputes every test's `descriptor_hash` and `result_hash` in proof files with the
`rfc8785` package and `hashlib`, independently of proofgate (docs/formats.md § Test
identity). Prints {"checked": N} and exits 0 when all match, 1 with the first mismatch.

    python3 identity_check.py proof-A.json [proof-B.json …]
"""
import hashlib
import json
import sys

import rfc8785


def digest(value):
    return "sha256:" + hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def main(paths):
    checked = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            proof = json.load(f)
        seeds = proof.get("context", {}).get("seeds") or {}
        for t in proof["tests"]:
            descriptor = {"classname": t["classname"], "file": t.get("file"), "name": t["name"]}
            if seeds:
                descriptor["seeds"] = seeds
            message = t.get("message")
            result = {
                "message_digest": None
                if message is None
                else "sha256:" + hashlib.sha256(message.encode("utf-8")).hexdigest(),
                "status": t["status"],
            }
            for key, value in (("descriptor_hash", descriptor), ("result_hash", result)):
                if t.get(key) != digest(value):
                    print(json.dumps({"file": path, "test": t["name"], "field": key,
                                      "ours": t.get(key), "theirs": digest(value)}))
                    return 1
            checked += 1
    print(json.dumps({"checked": checked}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
