#!/usr/bin/env python3
"""JUnit ingestion benchmark: proofgate vs Python's iterparse vs junitparser.

Run through `bash benches/junit/run.sh [--full]`, which builds proofgate in release mode
and installs the pinned Python baseline (requirements.txt) first. Sub-commands:

    bench.py run --proofgate BIN [--quick|--full] [--runs N]   the benchmark and its table
    bench.py gen CASES OUT                             write a synthetic report
    bench.py count-iterparse FILE                      count statuses (xml.etree.iterparse)
    bench.py count-junitparser FILE                    count statuses (junitparser)

The synthetic report is deterministic (fixed seed) and cached under target/bench-junit/:
nested suites (outer package suites holding module suites), 90% passing cases, 5% failures
with multi-line CDATA stack traces and captured output, 3% skipped, 2% errors, and
<system-out> chunks on some passing cases and on every module suite. Every case has a
unique (classname, name), so the three tools must agree on every count.
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATOR_VERSION = 1
SEED = 20_261_122
CASES_PER_MODULE = 1_000
MODULES_PER_PACKAGE = 10
KEYS = ("tests", "passed", "failed", "errors", "skipped")

TARGET_RSS_MB = 16.0
TARGET_VS_ITERPARSE = 10.0
TARGET_VS_JUNITPARSER = 30.0


# --------------------------------------------------------------------------- generator


def _stack(rng, mod, cls, name, depth):
    frames = []
    for d in range(depth):
        frames.append(
            f'  File "/home/runner/work/app/app/src/pkg{mod}/layer{d}.py", line {rng.randint(10, 900)}, '
            f"in handler_{d}\n    result = self.dispatch(request, retries={d}) "
            f"if request else None\n"
        )
    return (
        "Traceback (most recent call last):\n"
        f'  File "/home/runner/work/app/app/tests/{cls}.py", line {rng.randint(10, 400)}, in {name}\n'
        + "".join(frames)
    )


def generate(cases, out):
    """Write a report of `cases` test cases to `out`; return the expected counts."""
    rng = random.Random(SEED)
    counts = dict.fromkeys(KEYS, 0)
    tmp = Path(str(out) + ".tmp")
    per_package = CASES_PER_MODULE * MODULES_PER_PACKAGE
    packages = (cases + per_package - 1) // per_package
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(f'<testsuites name="synthetic" tests="{cases}">\n')
        case_no = 0
        for p in range(packages):
            # Decide every status of the package first, so suite counts are right.
            modules = []
            for _ in range(MODULES_PER_PACKAGE):
                n = min(CASES_PER_MODULE, cases - case_no - sum(len(m) for m in modules))
                if n <= 0:
                    break
                statuses = []
                for _ in range(n):
                    r = rng.random()
                    statuses.append("p" if r < 0.90 else "f" if r < 0.95 else "s" if r < 0.98 else "e")
                modules.append(statuses)
            flat = [s for m in modules for s in m]
            f.write(
                f'  <testsuite name="pkg{p:04d}" tests="{len(flat)}" failures="{flat.count("f")}" '
                f'errors="{flat.count("e")}" skipped="{flat.count("s")}" time="{len(flat) * 0.01:.3f}" '
                f'timestamp="2026-11-22T00:00:00+00:00" hostname="runner-{p % 7}">\n'
            )
            for m, statuses in enumerate(modules):
                parts = [
                    f'    <testsuite name="pkg{p:04d}.mod{m:02d}" tests="{len(statuses)}" '
                    f'failures="{statuses.count("f")}" errors="{statuses.count("e")}" '
                    f'skipped="{statuses.count("s")}" time="{len(statuses) * 0.01:.3f}" '
                    f'file="tests/pkg{p:04d}/test_mod{m:02d}.py">\n'
                ]
                cls_base = f"tests.pkg{p:04d}.test_mod{m:02d}"
                for i, s in enumerate(statuses):
                    cls = f"{cls_base}.TestGroup{i // 50:02d}"
                    name = f"test_case_{case_no:07d}"
                    if i % 97 == 0:
                        name += f"[param-{i % 5}-&lt;{i}&gt;]"
                    head = (
                        f'      <testcase classname="{cls}" name="{name}" '
                        f'line="{10 + i * 7}" '
                        f'time="{rng.random() * 0.2:.3f}"'
                    )
                    counts["tests"] += 1
                    if s == "p":
                        counts["passed"] += 1
                        if case_no % 20 == 0:
                            parts.append(
                                head + "><system-out><![CDATA[starting fixture db\n"
                                f"connected to 127.0.0.1:{5400 + i % 100} in 3ms\n"
                                f"case {case_no}: 12 assertions ok\n]]></system-out></testcase>\n"
                            )
                        else:
                            parts.append(head + "/>\n")
                    elif s == "f":
                        counts["failed"] += 1
                        trace = _stack(rng, p, cls, name, rng.randint(3, 7))
                        parts.append(
                            head + ">\n        <failure message=\"AssertionError: expected "
                            f'{i} == {i + 1} &amp; status &lt;200&gt;" type="AssertionError"><![CDATA['
                            + trace
                            + f"AssertionError: expected {i} == {i + 1} & status <200>\n"
                            + "]]></failure>\n        <system-out><![CDATA["
                            + f"request id {rng.getrandbits(64):016x}\nresponse body: "
                            + '{"ok": false, "items": [1, 2, 3]}\n'
                            + "]]></system-out>\n      </testcase>\n"
                        )
                    elif s == "e":
                        counts["errors"] += 1
                        trace = _stack(rng, p, cls, name, rng.randint(2, 5))
                        parts.append(
                            head + ">\n        <error message='failed on setup with \"RuntimeError: "
                            f"pool exhausted ({i})\"' type=\"RuntimeError\"><![CDATA["
                            + trace
                            + "RuntimeError: pool exhausted\n]]></error>\n      </testcase>\n"
                        )
                    else:
                        counts["skipped"] += 1
                        parts.append(
                            head + '>\n        <skipped type="pytest.skip" message="needs a GPU">'
                            f"tests/pkg{p:04d}/test_mod{m:02d}.py:{10 + i * 7}: needs a GPU"
                            "</skipped>\n      </testcase>\n"
                        )
                    case_no += 1
                parts.append(
                    "      <system-out><![CDATA[module setup: 1000 fixtures, 42 tables\n"
                    "module teardown: ok\n]]></system-out>\n    </testsuite>\n"
                )
                f.write("".join(parts))
            f.write("  </testsuite>\n")
        f.write("</testsuites>\n")
    tmp.replace(out)
    return counts


def ensure_report(cache, cases):
    """The cached report of `cases` cases and its expected counts (generated on demand)."""
    xml = cache / f"junit-{cases}-v{GENERATOR_VERSION}.xml"
    meta = xml.with_suffix(".json")
    if xml.exists() and meta.exists():
        return xml, json.loads(meta.read_text())
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    counts = generate(cases, xml)
    meta.write_text(json.dumps(counts))
    mb = xml.stat().st_size / 1e6
    print(f"generated {xml} ({mb:.0f} MB) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return xml, counts


# --------------------------------------------------------------------------- baselines


def count_iterparse(path):
    """Stream with xml.etree.ElementTree.iterparse, dropping each case once counted."""
    import xml.etree.ElementTree as ET

    counts = dict.fromkeys(KEYS, 0)
    stack = []
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            stack.append(elem)
            continue
        stack.pop()
        if elem.tag == "testcase":
            counts["tests"] += 1
            tags = {child.tag for child in elem}
            if "error" in tags:
                counts["errors"] += 1
            elif "failure" in tags:
                counts["failed"] += 1
            elif "skipped" in tags:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
        if elem.tag in ("testcase", "testsuite", "system-out", "system-err"):
            elem.clear()
            if stack:
                # A finished element is its parent's last child: drop it.
                del stack[-1][-1]
    return counts


def count_junitparser(path):
    """Load with junitparser (lxml underneath when installed); a suite iterates its own
    cases and those of its nested suites."""
    from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

    counts = dict.fromkeys(KEYS, 0)

    def walk(suite):
        for case in suite:
            counts["tests"] += 1
            kinds = {type(r) for r in case.result}
            if Error in kinds:
                counts["errors"] += 1
            elif Failure in kinds:
                counts["failed"] += 1
            elif Skipped in kinds:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1

    xml = JUnitXml.fromfile(str(path))
    for suite in xml if not isinstance(xml, TestSuite) else [xml]:
        walk(suite)
    return counts


# --------------------------------------------------------------------------- measuring


GNU_TIME = "/usr/bin/time"


def run_measured(cmd):
    """Run `cmd` under GNU time; return (wall seconds, CPU seconds, peak RSS in MB, stdout,
    stderr, exit code).

    Peak RSS comes from GNU time's own wait4 of the command, not from ours: Linux carries a
    process's high-water RSS across exec, and Python spawns children with vfork, so a child
    reaped here would report this interpreter's RSS as its floor."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss, tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [GNU_TIME, "-f", "%M %U %S", "-o", rss.name, *cmd], stdout=subprocess.PIPE, stderr=errf, check=False
        )
        seconds = time.perf_counter() - t0
        errf.seek(0)
        err = errf.read()
        text = rss.read().strip().splitlines()
        try:
            rss_kb, user, system = text[-1].split()
            rss_kb, cpu = int(rss_kb), float(user) + float(system)
        except (IndexError, ValueError):
            sys.exit(f"no peak RSS from {GNU_TIME} for {cmd}: {text!r}\n{err.decode(errors='replace')}")
    return seconds, cpu, rss_kb / 1024.0, proc.stdout, err, proc.returncode


def totals_from_proofgate(stdout):
    doc = json.loads(stdout)
    t = doc["totals"]
    # No retries in the synthetic report: a flaky count would be a parser bug.
    return {k: t[k] for k in KEYS} | ({"flaky": t["flaky"]} if t.get("flaky") else {})


def sizes_for(args):
    """(cases, rounds) per report size for the chosen mode."""
    if args.quick:
        sizes = [(400_000, 3)]
    elif args.full:
        sizes = [(1_000_000, 5), (5_000_000, 3)]
    else:
        sizes = [(1_000_000, 5)]
    return [(cases, args.runs or rounds) for cases, rounds in sizes]


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def bench(args):
    root = Path(__file__).resolve().parents[2]
    cache = root / "target" / "bench-junit"
    py = sys.executable
    me = str(Path(__file__).resolve())
    results = []
    failed = False
    for cases, rounds in sizes_for(args):
        xml, expected = ensure_report(cache, cases)
        size_mb = xml.stat().st_size / 1e6
        with open(xml, "rb") as f:  # warm the page cache once for everyone
            while f.read(1 << 24):
                pass
        tools = [
            ("proofgate", [args.proofgate, "inspect", "--format", "json", "--summary", str(xml)], totals_from_proofgate),
            ("iterparse", [py, me, "count-iterparse", str(xml)], json.loads),
            ("junitparser", [py, me, "count-junitparser", str(xml)], json.loads),
        ]
        samples = {name: [] for name, _, _ in tools}
        # Paired: every round runs each tool once, in the same order (A B C A B C …).
        for r in range(rounds):
            for name, cmd, parse in tools:
                seconds, cpu, rss, out, err, code = run_measured(cmd)
                if code not in (0, 1):
                    sys.exit(f"{name} exited {code} on {xml}:\n{err.decode(errors='replace')}")
                got = parse(out)
                if got != expected:
                    print(f"MISMATCH {name} on {xml.name}: {got} != {expected}", file=sys.stderr)
                    failed = True
                samples[name].append((seconds, cpu, rss))
                print(
                    f"  round {r + 1}/{rounds} {name:<12} {cases:>9} cases  {seconds:7.2f}s wall {cpu:7.2f}s CPU {rss:8.1f} MB",
                    file=sys.stderr,
                )
        row = {}
        for name, runs in samples.items():
            row[name] = {
                "seconds": median([x[0] for x in runs]),
                "cpu_seconds": median([x[1] for x in runs]),
                "rss_mb": max(x[2] for x in runs),
                "runs": len(runs),
                "all_seconds": [x[0] for x in runs],
            }
        results.append({"cases": cases, "file_mb": size_mb, "counts": expected, "tools": row})

    checks = print_table(results, args)
    (cache / "results.json").write_text(json.dumps(results, indent=2))
    rows_file = os.environ.get("BENCH_ROWS")
    if rows_file:
        with open(rows_file, "a", encoding="utf-8") as f:
            for row in checks:
                f.write("\t".join(row) + "\n")
    if failed:
        sys.exit("the tools disagree on the counts (see MISMATCH above)")


def print_table(results, args):
    """Prints the table and the targets; returns the rows of the shared bench protocol
    (path, figure, anchor, ratio, target, met|missed)."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mode = "quick" if args.quick else "full" if args.full else "default"
    print(f"\nJUnit ingestion, {mode} run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    try:
        load = "load average %.1f" % os.getloadavg()[0]
    except OSError:
        load = "load average unknown"
    print(
        f"{cpu}, {os.cpu_count()} CPUs, {load}, {platform.python_implementation()} "
        f"{platform.python_version()}; median of N paired rounds (A B C A B C …), page cache warm\n"
    )
    print("| tool | cases | file MB | rounds | median s | MB/s | median CPU s | peak RSS MB | vs iterparse | vs junitparser |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    checks = []
    rows = []
    for r in results:
        t = r["tools"]
        for name in ("proofgate", "iterparse", "junitparser"):
            s = t[name]["seconds"]
            vs_it = t["iterparse"]["seconds"] / s
            vs_jp = t["junitparser"]["seconds"] / s
            print(
                f"| {name} | {r['cases']:,} | {r['file_mb']:.0f} | {t[name]['runs']} | {s:.2f} | "
                f"{r['file_mb'] / s:.0f} | {t[name]['cpu_seconds']:.2f} | {t[name]['rss_mb']:.1f} | "
                f"{vs_it:.1f}× | {vs_jp:.1f}× |"
            )
        pg = t["proofgate"]
        path = f"inspect --summary {r['file_mb']:.0f} MB"
        for base, target in (("iterparse", TARGET_VS_ITERPARSE), ("junitparser", TARGET_VS_JUNITPARSER)):
            wall = t[base]["seconds"] / pg["seconds"]
            cpu_ratio = t[base]["cpu_seconds"] / max(pg["cpu_seconds"], 0.01)
            ok = wall >= target
            checks.append((f"{r['cases']:,} cases: ≥ {target:.0f}× {base}, wall time ({wall:.1f}×)", ok))
            checks.append((f"{r['cases']:,} cases: (CPU time, for reference: {cpu_ratio:.1f}×)", None))
            rows.append(
                (
                    f"{path} vs {base}",
                    f"{pg['seconds']:.2f} s",
                    f"{base} {t[base]['seconds']:.2f} s",
                    f"{wall:.1f}×",
                    f"≥ {target:.0f}×",
                    "met" if ok else "missed",
                )
            )
        ok = pg["rss_mb"] <= TARGET_RSS_MB
        checks.append((f"{r['cases']:,} cases: proofgate peak RSS ≤ {TARGET_RSS_MB:.0f} MB ({pg['rss_mb']:.1f} MB)", ok))
        rows.append(
            (
                f"{path} peak RSS",
                f"{pg['rss_mb']:.1f} MB",
                f"iterparse {t['iterparse']['rss_mb']:.1f} MB",
                f"{t['iterparse']['rss_mb'] / pg['rss_mb']:.1f}×",
                f"≤ {TARGET_RSS_MB:.0f} MB",
                "met" if ok else "missed",
            )
        )
    print(
        "\nRatios are median wall seconds of the baseline over proofgate's, measured in the same "
        "paired run; CPU s is user + system time (GNU time), which a busy machine distorts less.\n"
    )
    for text, ok in checks:
        print(f"{'    ' if ok is None else 'MET ' if ok else 'MISS'}  {text}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--proofgate", required=True)
    r.add_argument("--quick", action="store_true", help="400k cases (~82 MB), 3 rounds: about 20 s")
    r.add_argument("--full", action="store_true", help="1M and 5M cases (~200 MB and ~1 GB)")
    r.add_argument("--runs", type=int, default=0, help="paired rounds per size (the median is kept)")
    g = sub.add_parser("gen")
    g.add_argument("cases", type=int)
    g.add_argument("out")
    for name in ("count-iterparse", "count-junitparser"):
        sub.add_parser(name).add_argument("file")
    args = ap.parse_args()
    if args.cmd == "run":
        bench(args)
    elif args.cmd == "gen":
        print(json.dumps(generate(args.cases, Path(args.out))))
    elif args.cmd == "count-iterparse":
        print(json.dumps(count_iterparse(args.file)))
    else:
        print(json.dumps(count_junitparser(args.file)))


if __name__ == "__main__":
    main()
