#!/usr/bin/env python3
"""Lists the Rust functions longer than N lines (default 100), longest first.

Usage: python3 scripts/long-functions.py [N] [DIR...]   (DIR defaults to src)
A function counts from its `fn` line to its closing brace; strings, characters and
comments are blanked first so braces inside them do not count."""
import re, sys, pathlib
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 100
roots = sys.argv[2:] or ["src"]
fn_re = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)')

def blank(text):
    """Blanks string, char and comment contents (keeping newlines) so braces can be counted."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i); j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2); j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c == 'r' and re.match(r'r#*"', text[i:i+10]) and (i == 0 or not (text[i-1].isalnum() or text[i-1] == '_')):
            m = re.match(r'r(#*)"', text[i:]); close = '"' + m.group(1)
            j = text.find(close, i + len(m.group(0))); j = n if j < 0 else j + len(close)
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            j = min(j + 1, n)
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif c == "'":
            m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|[^'\\\n])'", text[i:])
            if m:
                out.append(' ' * len(m.group(0))); i += len(m.group(0))
            else:
                out.append(c); i += 1   # a lifetime
        else:
            out.append(c); i += 1
    return ''.join(out)

rows = []
for root in roots:
    for p in sorted(pathlib.Path(root).rglob('*.rs')):
        raw = p.read_text().splitlines()
        lines = blank(p.read_text()).splitlines()
        for i, line in enumerate(raw):
            m = fn_re.match(line)
            if not m:
                continue
            depth, started, j = 0, False, i
            while j < len(lines):
                s = lines[j]
                if not started and ';' in s and '{' not in s:
                    break
                depth += s.count('{') - s.count('}')
                if '{' in s:
                    started = True
                if started and depth <= 0:
                    break
                j += 1
            if started and j - i + 1 > limit:
                rows.append((j - i + 1, f"{p}:{i+1}", m.group(6)))
for n, loc, name in sorted(rows, reverse=True):
    print(f"{n:5d}  {loc}  {name}")
