#!/usr/bin/env python3
"""Validates proof files against schemas/proof.schema.json (JSON Schema 2020-12).

Usage: check_schema.py SCHEMA FILE...   (exit 0 all valid, 1 any invalid)
"""
import json
import sys

from jsonschema import Draft202012Validator, FormatChecker


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    ok = True
    for path in sys.argv[2:]:
        with open(path) as f:
            doc = json.load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for e in errors[:5]:
            print("%s: %s: %s" % (path, "/".join(map(str, e.path)), e.message))
        ok = ok and not errors
    print(json.dumps({"checked": len(sys.argv) - 2, "valid": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
