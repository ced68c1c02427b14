#!/usr/bin/env python3
"""Baseline for the model benchmark: the goldenpath way, in Python — walk `scripts/`,
pull each header out with a regex (docstring) or a comment scan (Bash), `yaml.safe_load`
it (libyaml when available), check the required keys and the manual-evidence rule, then
render the matrix table. Written for this benchmark; prints the number of scripts.
"""
import os
import re
import sys

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DOC = re.compile(r'"""\s*\n---\n(.*?)\n---\s*\n', re.DOTALL)
COMMENT = re.compile(r"^\s*# ?(.*)")


def header(text):
    m = DOC.search(text)
    if m:
        return m.group(1)
    lines, inside = [], False
    for line in text.splitlines():
        c = COMMENT.match(line)
        if not c:
            continue
        body = c.group(1).rstrip()
        if body == "---":
            if inside:
                break
            inside = True
            continue
        if inside:
            lines.append(body)
    return "\n".join(lines) if lines else None


def main():
    root = sys.argv[1]
    rows, errors = [], 0
    for dirpath, _, files in os.walk(os.path.join(root, "scripts")):
        for name in files:
            if not name.endswith((".py", ".sh")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                raw = header(f.read())
            meta = yaml.load(raw, Loader=LOADER) if raw else None
            if not isinstance(meta, dict):
                errors += 1
                continue
            test, risk = meta.get("test") or {}, meta.get("risk_profile") or {}
            for key in ("runner", "command", "evidence"):
                if key not in test:
                    errors += 1
            if risk.get("production_impact") in ("medium", "high") and test.get("evidence") == "manual":
                errors += 1
            rows.append((os.path.relpath(path, root), meta.get("id"), meta.get("owner"), meta.get("maturity"),
                         (meta.get("dry_run") or {}).get("supported"), test.get("runner"), test.get("evidence"),
                         risk.get("production_impact")))
    rows.sort()
    out = ["| Script | ID | Owner | Maturity | Dry-run | Test Runner | Evidence | Prod Impact |"]
    for r in rows:
        out.append("| `%s` | `%s` | `%s` | %s | %s | `%s` | `%s` | `%s` |" % r)
    sys.stdout.write("\n".join(out) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
