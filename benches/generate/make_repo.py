#!/usr/bin/env python3
"""Writes a synthetic script repository for the `generate` benchmark.

Usage: make_repo.py DIR SCRIPTS CASES_PER_SCRIPT JUNIT_FILES

DIR/scripts/sNNNNN.py carry goldenpath headers (evidence ci, one declared test file
each), DIR/tests/test_sNNNNN.py exist, and DIR/junit/part-K.xml hold pytest-style
results: every script's cases, 1 in 1000 failing, 1 in 500 skipped.
"""
import os
import sys

HEADER = '''#!/usr/bin/env python3
"""
---
id: {id}
type: script
owner: platform-team
status: active
maturity: 2
test:
  runner: pytest
  command: "pytest -q tests/test_{id}.py"
  evidence: ci
dry_run:
  supported: true
risk_profile:
  production_impact: low
  security_risk: none
  coupling_risk: low
---
"""
print("{id}")
'''


def main():
    root, scripts, per, parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    for d in ("scripts", "tests", "junit"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    ids = ["s%05d" % i for i in range(scripts)]
    for sid in ids:
        with open(os.path.join(root, "scripts", sid + ".py"), "w") as f:
            f.write(HEADER.format(id=sid))
        with open(os.path.join(root, "tests", "test_%s.py" % sid), "w") as f:
            f.write("def test_ok():\n    assert True\n")
    per_part = (scripts + parts - 1) // parts
    n = 0
    for k in range(parts):
        chunk = ids[k * per_part:(k + 1) * per_part]
        # As pytest writes it: the suite's counts are those of its cases (a report whose
        # counts disagree is read correctly too, but through the full reader, with a warning).
        lines, failures, skipped = [], 0, 0
        for sid in chunk:
            mod = "tests.test_" + sid
            path = "tests/test_%s.py" % sid
            for j in range(per):
                n += 1
                head = '<testcase classname="%s" name="test_case_%d" file="%s" line="%d" time="0.001"' % (mod, j, path, j + 1)
                if n % 1000 == 0:
                    failures += 1
                    lines.append(head + '><failure message="assert 1 == 2">assert 1 == 2</failure></testcase>\n')
                elif n % 500 == 0:
                    skipped += 1
                    lines.append(head + '><skipped message="not today" /></testcase>\n')
                else:
                    lines.append(head + ' />\n')
        with open(os.path.join(root, "junit", "part-%d.xml" % k), "w") as f:
            f.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">')
            f.write('<testsuite name="pytest" errors="0" failures="%d" skipped="%d" tests="%d">\n'
                    % (failures, skipped, len(chunk) * per))
            f.writelines(lines)
            f.write("</testsuite></testsuites>\n")
    print("wrote %d scripts, %d cases in %d JUnit files under %s" % (scripts, n, parts, root), file=sys.stderr)


if __name__ == "__main__":
    main()
