#!/usr/bin/env bash
# Regenerates the flag reference at the end of docs/cli.md (between its GENERATED markers)
# from the binary's own `--help` output, so the reference cannot drift from the code.
#
#   bash scripts/gen-cli-doc.sh            rewrite docs/cli.md
#   bash scripts/gen-cli-doc.sh --check    exit 1 with a diff when docs/cli.md is stale
#   bash scripts/gen-cli-doc.sh --stdout   print the generated section only
#
# PROOFGATE=path/to/proofgate uses that binary; otherwise `cargo build --locked` builds one.
# The help is rendered in an empty environment with no terminal attached, so its width
# (100 columns) and `[env: …]` notes do not depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --stdout) mode=stdout ;;
  *) echo "usage: bash scripts/gen-cli-doc.sh [--check|--stdout]" >&2; exit 2 ;;
esac

if [ -z "${PROOFGATE:-}" ]; then
  cargo build --quiet --locked --bin proofgate
  PROOFGATE=target/debug/proofgate
fi
[ -x "$PROOFGATE" ] || { echo "error: \`$PROOFGATE\` is not an executable" >&2; exit 2; }

DOC=docs/cli.md
BEGIN='<!-- BEGIN GENERATED: bash scripts/gen-cli-doc.sh -->'
END='<!-- END GENERATED -->'

help_of() {
  env -i PATH="$PATH" "$PROOFGATE" "$@" --help </dev/null 2>/dev/null | sed 's/[[:space:]]*$//'
}

# The subcommands a help text lists under `Commands:` (without `help`).
subcommands() {
  awk '/^Commands:$/ { on = 1; next } on && /^$/ { exit } on && $1 != "help" { print $1 }'
}

section() {
  local text
  text=$(help_of "$@")
  printf '\n### `proofgate%s`\n\n```text\n%s\n```\n' "${*:+ $*}" "$text"
  local sub
  for sub in $(printf '%s\n' "$text" | subcommands); do
    section "$@" "$sub"
  done
}

generated() {
  echo "$BEGIN"
  section
  echo
  echo "$END"
}

new=$(mktemp)
trap 'rm -f "$new"' EXIT
{
  awk -v b="$BEGIN" '$0 == b { exit } { print }' "$DOC"
  generated
  awk -v e="$END" 'found { print } $0 == e { found = 1 }' "$DOC"
} > "$new"

grep -qxF "$BEGIN" "$DOC" && grep -qxF "$END" "$DOC" || {
  echo "error: $DOC lacks the markers \`$BEGIN\` and \`$END\`" >&2
  exit 2
}

case "$mode" in
  stdout) generated ;;
  write) cp "$new" "$DOC"; echo "wrote $DOC" >&2 ;;
  check)
    if ! diff -u "$DOC" "$new" >&2; then
      echo "error: $DOC does not match \`proofgate --help\`; run \`bash scripts/gen-cli-doc.sh\` and commit $DOC" >&2
      exit 1
    fi
    ;;
esac
