#!/usr/bin/env python3
"""Compares proofgate's RFC 8785 output with the `rfc8785` package, byte for byte.

Usage:
  jcs_check.py vectors DIR      # DIR/input/*.json -> DIR/output/*.json, DIR/numbers.txt
  jcs_check.py corpus FILE      # JSON lines: {"input": "<json text>", "canonical": "<our bytes>"}

Prints a summary line; exits 0 when everything matches, 1 otherwise.
"""
import json
import os
import struct
import sys

import rfc8785


def vectors(d):
    n = 0
    bad = []
    for name in sorted(os.listdir(os.path.join(d, "input"))):
        with open(os.path.join(d, "input", name), "rb") as f:
            value = json.loads(f.read())
        with open(os.path.join(d, "output", name), "rb") as f:
            expected = f.read()
        if rfc8785.dumps(value) != expected:
            bad.append(name)
        n += 1
    with open(os.path.join(d, "numbers.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            bits, text = line.split(" ", 1)
            v = struct.unpack(">d", bytes.fromhex(bits))[0]
            if rfc8785.dumps(v).decode() != text:
                bad.append(bits)
            n += 1
    return n, bad


def corpus(path):
    n = 0
    bad = []
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            value = json.loads(rec["input"])
            ours = rec["canonical"].encode("utf-8")
            theirs = rfc8785.dumps(value)
            if ours != theirs:
                bad.append({"line": i + 1, "ours": ours.decode("utf-8", "replace")[:200],
                            "rfc8785": theirs.decode("utf-8", "replace")[:200]})
            n += 1
    return n, bad


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("vectors", "corpus"):
        print(__doc__, file=sys.stderr)
        return 2
    n, bad = (vectors if sys.argv[1] == "vectors" else corpus)(sys.argv[2])
    print(json.dumps({"checked": n, "mismatches": len(bad), "first": bad[:3]}, ensure_ascii=False))
    return 0 if n > 0 and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
