#!/usr/bin/env python3
"""measure.py OUT -- CMD...: run CMD, append "<label> <seconds> <peak RSS KiB>" to OUT.

The label is the environment variable LABEL. CMD's stdout goes to /dev/null, its stderr is
kept. A failing CMD fails the measurement."""
import os
import resource
import subprocess
import sys
import time

out, sep, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
assert sep == "--", "usage: measure.py OUT -- CMD..."
t = time.monotonic()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
dt = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if r.returncode != 0:
    sys.exit(f"measure: {cmd} exited {r.returncode}")
with open(out, "a") as f:
    f.write(f"{os.environ.get('LABEL', cmd[0])} {dt:.3f} {rss}\n")
