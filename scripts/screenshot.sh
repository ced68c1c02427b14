#!/usr/bin/env bash
# Regenerates docs/img/pull-request.png: what a pull request shows when the gate denies —
# the error annotations and the job summary, both exactly as proofgate writes them
# (`verify` in Actions mode on the demo repository with one script edited after its proof
# and one proof edited after signing), rendered as HTML and photographed by headless
# Chromium.
#
#   bash scripts/screenshot.sh            rewrite docs/img/pull-request.png
#
# Needs Debian's `chromium` (with the DejaVu and Noto emoji fonts) and Python's `markdown`
# (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core \
    fonts-noto-color-emoji >/dev/null
fi
python3 -c 'import markdown' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'markdown==3.7'

cargo build --quiet --locked --bin proofgate
pg="$PWD/target/debug/proofgate"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The demo repository, a key it trusts, signed proofs for one commit.
repo="$work/repo"
mkdir -p "$repo"
cp -r tests/fixtures/gate/demo/scripts tests/fixtures/gate/demo/tests "$repo/"
pub=$("$pg" keygen --out "$work/key.pem" | sed -n 's/^public-key: //p')
printf 'trusted_keys:\n  - name: ci\n    public_key: %s\n' "$pub" > "$repo/proofgate.yaml"
commit=3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39
"$pg" --root "$repo" generate --junit "$PWD/tests/fixtures/gate/demo/junit.xml" \
  --out "$work/proofs" --signing-key-file "$work/key.pem" --commit "$commit" \
  --repository acme/ops-scripts --generated-at 2026-11-30T09:12:00Z 2>/dev/null

# The pull request: one script edited after its proof, one proof edited after signing.
echo '# tuned after review' >> "$repo/scripts/backup_db.py"
sed -i 's/"tool": "proofgate [^"]*"/"tool": "proofgate (edited)"/' "$work/proofs/proof-rotate-logs.json"

set +e
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$work/summary.md" GITHUB_OUTPUT="$work/out" \
  "$pg" --root "$repo" verify --proofs "$work/proofs" --commit "$commit" \
  --now 2026-11-30T09:20:00Z > "$work/stdout.txt" 2>/dev/null
code=$?
set -e
[ "$code" = 1 ] || { echo "error: verify exited $code, expected 1 (the gate denies)" >&2; exit 1; }

python3 scripts/screenshot/page.py "$work/stdout.txt" "$work/summary.md" "$work/page.html"
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
  --force-device-scale-factor=1 --window-size=1000,720 \
  --screenshot="$work/shot.png" "file://$work/page.html" >/dev/null 2>&1
mv "$work/shot.png" docs/img/pull-request.png
echo "wrote docs/img/pull-request.png"
