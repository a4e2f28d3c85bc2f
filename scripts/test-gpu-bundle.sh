#!/usr/bin/env bash
# Proves the offline bundle on this machine (PoCL stands in for a GPU): builds it with
# scripts/gpu-bundle.sh, copies it to an empty folder, and from there, with a bare environment
# (env -i, PATH=/usr/bin:/bin, no JDK), runs gpt verify and 20 training iterations on the tornado
# backend. Needs TORNADOVM_HOME (source tornado-env.sh) and ../shared. Exit 0 when all of it works.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "test-gpu-bundle: FAILED: $*" >&2; exit 1; }

"$here/scripts/gpu-bundle.sh" "$work/made"
size=$(du -sb "$work/made" | cut -f1)
[ "$size" -le $((60 * 1024 * 1024)) ] || fail "the bundle is $((size / 1048576)) MiB"
cp -a "$work/made" "$work/server"          # what reaches the server: the folder alone
rm -rf "$work/made"
mkdir "$work/empty" && cd "$work/empty"
bare() { env -i PATH=/usr/bin:/bin HOME="$work/empty" "$@"; }

out=$(bare "$work/server/gpt" verify --backend tornado --reference "$work/server/fixtures/ref_tiny.safetensors" 2>&1) \
  || fail "gpt verify: $out"
grep -q '^OK: all ' <<<"$out" || fail "gpt verify printed no OK line: $out"
out=$(bare "$work/server/gpt" train --backend tornado --iters 20 --eval-interval 10 --eval-iters 2 \
  --out "$work/empty/m.safetensors" --sample-tokens 20 2>&1) || fail "gpt train: $out"
grep -q '^trained 20 iterations' <<<"$out" || fail "gpt train did not finish 20 iterations: $out"
grep -q 'backend tornado backend' <<<"$out" || fail "gpt train did not run on the tornado backend: $out"
[ -z "$(ls -A "$work/empty" | grep -v '^m.safetensors$')" ] || fail "the run left files in the working folder"
echo "test-gpu-bundle: OK: $((size / 1048576)) MiB; verify and 20 tornado iterations ran from the bundle under env -i"
