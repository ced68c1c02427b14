#!/usr/bin/env python3
"""The baseline: goldenpath's `validate_scripts_tested.py --verify-proofs` gate, reduced to
what it does: read every script's header and check that proof-<id>.json exists (no
signature, no digest, no verdict). usage: goldenpath_gate.py REPO PROOFS"""
import os
import re
import sys

import yaml

repo, proofs = sys.argv[1], sys.argv[2]
missing = 0
for name in sorted(os.listdir(os.path.join(repo, "scripts"))):
    text = open(os.path.join(repo, "scripts", name)).read()
    m = re.search(r'"""\s*\n---\n(.*?)\n---\s*\n', text, re.S)
    meta = yaml.safe_load(m.group(1))
    if meta["test"]["evidence"] == "ci" and not os.path.exists(os.path.join(proofs, "proof-%s.json" % meta["id"])):
        missing += 1
sys.exit(1 if missing else 0)
