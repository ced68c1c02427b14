#!/usr/bin/env python3
"""Generates a goldenpath-shaped repository of N scripts for the model benchmark.

Half the scripts are Python with a docstring header, half Bash with a comment header;
evidence, risk and maturity rotate; every script names an existing test file.

    gen.py OUT N              the repository
    gen.py --headers FILE N   only the N header YAML texts, NUL-separated, as proofgate
                              extracts them from those scripts (for benches/model/yaml.sh)
"""
import os
import sys

HEADER = """id: {id}
type: script
owner: platform-team
status: active
maturity: {maturity}
test:
  runner: {runner}
  command: "{command}"
  evidence: {evidence}
dry_run:
  supported: true
  command_hint: "{path} --dry-run"
risk_profile:
  production_impact: {impact}
  security_risk: low
  coupling_risk: low
"""

BODY_PY = "import sys\n\n\ndef main():\n    return 0\n\n\nif __name__ == '__main__':\n    sys.exit(main())\n" * 4
BODY_SH = "set -euo pipefail\necho \"working\"\nfor i in 1 2 3; do echo $i; done\n" * 6


def headers(out: str, n: int) -> None:
    evidences = ["ci", "declared", "manual"]
    impacts = {"ci": "high", "declared": "medium", "manual": "low"}
    texts = []
    for i in range(n):
        g = i % 100
        ev = evidences[i % 3]
        if i % 2 == 0:
            path = f"scripts/group{g:03}/job_{i:05}.py"
            runner, command = "pytest", f"pytest -q tests/unit/test_job_{i:05}.py"
        else:
            path = f"scripts/group{g:03}/task_{i:05}.sh"
            runner, command = "bats", f"bats tests/bats/task_{i:05}.bats"
        texts.append(HEADER.format(id=f"SCRIPT-{i:05}", maturity=2, runner=runner, command=command,
                                   evidence=ev, path=path, impact=impacts[ev]))
    with open(out, "w") as f:
        f.write("\0".join(texts))


def main() -> int:
    if sys.argv[1] == "--headers":
        headers(sys.argv[2], int(sys.argv[3]))
        return 0
    out = sys.argv[1]
    n = int(sys.argv[2])
    groups = 100
    os.makedirs(os.path.join(out, "tests", "unit"), exist_ok=True)
    os.makedirs(os.path.join(out, "tests", "bats"), exist_ok=True)
    for g in range(groups):
        os.makedirs(os.path.join(out, "scripts", f"group{g:03}"), exist_ok=True)
    evidences = ["ci", "declared", "manual"]
    impacts = {"ci": "high", "declared": "medium", "manual": "low"}
    for i in range(n):
        g = i % groups
        ev = evidences[i % 3]
        sid = f"SCRIPT-{i:05}"
        if i % 2 == 0:
            path = f"scripts/group{g:03}/job_{i:05}.py"
            test = f"tests/unit/test_job_{i:05}.py"
            with open(os.path.join(out, test), "w") as f:
                f.write("def test_ok():\n    assert True\n")
            header = HEADER.format(id=sid, maturity=2, runner="pytest", command=f"pytest -q {test}",
                                   evidence=ev, path=path, impact=impacts[ev])
            text = f'#!/usr/bin/env python3\n"""\n---\n{header}---\nPurpose: job {i}.\n"""\n{BODY_PY}'
        else:
            path = f"scripts/group{g:03}/task_{i:05}.sh"
            test = f"tests/bats/task_{i:05}.bats"
            with open(os.path.join(out, test), "w") as f:
                f.write('@test "ok" {\n  true\n}\n')
            header = HEADER.format(id=sid, maturity=2, runner="bats", command=f"bats {test}",
                                   evidence=ev, path=path, impact=impacts[ev])
            commented = "".join(("# " + line).rstrip() + "\n" for line in header.splitlines())
            text = f"#!/usr/bin/env bash\n# ---\n{commented}# ---\n{BODY_SH}"
        with open(os.path.join(out, path), "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
