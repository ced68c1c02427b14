#!/usr/bin/env python3
"""Bench rows: the table `benches/run.sh` prints, and the regression check.

A row is one tab-separated line, no header (the protocol every bench script follows when
BENCH_ROWS names a file):

    path<TAB>figure<TAB>anchor<TAB>ratio<TAB>target<TAB>met|missed

`ratio` is a number followed by `×`; higher is better for proofgate.

    python3 benches/rows.py table ROWS            # Markdown table of ROWS
    python3 benches/rows.py check BASELINE ROWS   # exit 1 when a ratio fell by more than 2×

`check` compares each row of ROWS with the row of the same path in BASELINE and fails when
ratio_now < ratio_baseline / FACTOR (FACTOR 2 unless --factor says otherwise). Rows only
on one side are reported and do not fail the check. Malformed rows on either side fail it.
"""

import argparse
import re
import sys

FIELDS = ("path", "figure", "anchor", "ratio", "target", "status")
RATIO = re.compile(r"^([0-9]+(?:\.[0-9]+)?)×$")


class RowError(Exception):
    """A line that does not follow the row protocol."""


def parse(path):
    """Rows of the file at `path` as a list of dicts, in file order."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != len(FIELDS):
                raise RowError(f"{path}:{n}: {len(parts)} fields, expected {len(FIELDS)}: {line!r}")
            row = dict(zip(FIELDS, parts))
            m = RATIO.match(row["ratio"])
            if not m:
                raise RowError(f"{path}:{n}: ratio `{row['ratio']}` is not a number followed by ×")
            if row["status"] not in ("met", "missed"):
                raise RowError(f"{path}:{n}: status `{row['status']}` is neither met nor missed")
            row["value"] = float(m.group(1))
            rows.append(row)
    return rows


def by_path(rows, source):
    out = {}
    for r in rows:
        if r["path"] in out:
            raise RowError(f"{source}: path `{r['path']}` appears twice")
        out[r["path"]] = r
    return out


def cell(text):
    return text.replace("|", "\\|")


def table(rows):
    lines = [
        "| path | figure | anchor | ratio | target | met/missed |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for r in rows:
        status = "met" if r["status"] == "met" else "**missed**"
        lines.append(
            "| " + " | ".join(cell(r[k]) for k in FIELDS[:5]) + f" | {status} |"
        )
    return "\n".join(lines)


def check(baseline, now, factor):
    """(report lines, number of regressions)."""
    base = by_path(baseline, "baseline")
    cur = by_path(now, "this run")
    lines, regressions = [], 0
    for path, r in cur.items():
        b = base.get(path)
        if b is None:
            lines.append(f"new (not in the baseline): {path} {r['ratio']}")
            continue
        if r["value"] < b["value"] / factor:
            regressions += 1
            lines.append(
                f"REGRESSED: {path}: ratio {r['ratio']} < {b['ratio']} / {factor:g}"
            )
        else:
            lines.append(f"ok: {path}: ratio {r['ratio']} (baseline {b['ratio']})")
    for path, b in base.items():
        if path not in cur:
            lines.append(f"missing from this run: {path} (baseline {b['ratio']})")
    return lines, regressions


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="print ROWS as a Markdown table")
    t.add_argument("rows")
    c = sub.add_parser("check", help="compare ROWS with BASELINE")
    c.add_argument("baseline")
    c.add_argument("rows")
    c.add_argument("--factor", type=float, default=2.0)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "table":
            print(table(parse(a.rows)))
            return 0
        lines, regressions = check(parse(a.baseline), parse(a.rows), a.factor)
    except (RowError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if regressions:
        print(f"{regressions} ratio(s) regressed by more than {a.factor:g}× against {a.baseline}")
        return 1
    print(f"no ratio regressed by more than {a.factor:g}× against {a.baseline}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
