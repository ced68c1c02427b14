"""Builds the HTML page that scripts/screenshot.sh photographs: the workflow-command
annotations proofgate printed (one `::error file=…,line=…,title=…::message` per line) as
GitHub shows them on a pull request, and the Markdown job summary it appended, rendered.

    python3 scripts/screenshot/page.py STDOUT SUMMARY.md OUT.html
"""

import html
import re
import sys

import markdown

COMMAND = re.compile(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$")


def unescape_data(s):
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(s):
    return unescape_data(s).replace("%3A", ":").replace("%2C", ",")


def annotations(stdout):
    out = []
    for line in stdout.splitlines():
        m = COMMAND.match(line)
        if not m:
            continue
        props = {}
        for kv in (m.group(2) or "").split(","):
            if "=" in kv:
                k, v = kv.split("=", 1)
                props[k] = unescape_property(v)
        out.append((m.group(1), props, unescape_data(m.group(3))))
    return out


CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", "Noto Color Emoji", sans-serif; color: #1f2328;
       background: #f6f8fa; margin: 0; padding: 16px; width: 968px; }
.box { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin-bottom: 16px; }
.head { padding: 8px 16px; border-bottom: 1px solid #d0d7de; font-weight: 600; background: #f6f8fa;
        border-radius: 6px 6px 0 0; }
.ann { padding: 8px 16px; border-top: 1px solid #d0d7de; }
.ann:first-of-type { border-top: none; }
.ann .title { font-weight: 600; }
.ann .where { color: #59636e; font-size: 12px; }
.ann .msg { white-space: pre-wrap; font-size: 13px; overflow-wrap: anywhere; }
.error .title::before { content: "✖ "; color: #d1242f; }
.warning .title::before { content: "⚠ "; color: #9a6700; }
.notice .title::before { content: "ℹ "; color: #0969da; }
.md { padding: 8px 16px; }
.md table { border-collapse: collapse; margin: 8px 0; font-size: 13px; width: 100%; }
.md th, .md td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top;
                 overflow-wrap: anywhere; }
.md td:not(:last-child), .md th:not(:last-child) { white-space: nowrap; overflow-wrap: normal; }
.md th { background: #f6f8fa; }
.md code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; font-size: 12px; }
.md h2, .md h3 { margin: 8px 0; }
"""


def page(stdout, summary):
    rows = []
    for level, props, msg in annotations(stdout):
        where = props.get("file", "")
        if "line" in props:
            where += "#L" + props["line"]
        rows.append(
            f'<div class="ann {level}"><div class="title">{html.escape(props.get("title", level))}</div>'
            f'<div class="where">{html.escape(where)}</div>'
            f'<div class="msg">{html.escape(msg)}</div></div>'
        )
    body = markdown.markdown(summary, extensions=["tables", "md_in_html"])
    return (
        f"<!doctype html><meta charset=utf-8><style>{CSS}</style>"
        f'<div class="box"><div class="head">Annotations · certify</div>{"".join(rows)}</div>'
        f'<div class="box"><div class="head">certify summary</div><div class="md">{body}</div></div>'
    )


def main():
    stdout = open(sys.argv[1], encoding="utf-8").read()
    summary = open(sys.argv[2], encoding="utf-8").read()
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        f.write(page(stdout, summary))


if __name__ == "__main__":
    main()
