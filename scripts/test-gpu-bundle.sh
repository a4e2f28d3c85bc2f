#!/usr/bin/env bash
# Proves the offline bundle on this machine (PoCL stands in for a GPU): builds it with
# scripts/gpu-bundle.sh, copies it to an empty folder, and from there, with a bare environment
# (env -i, PATH=/usr/bin:/bin, no JDK), runs gpt verify and 20 training iterations on the tornado
# backend. When the SDK has TornadoVM's PTX backend (a release SDK built for NVIDIA), it also starts
# the bundle with a stand-in for the NVIDIA driver's libcuda.so.1 (dump_libcuda.c), which
# must make the PTX device appear, and without it, which must leave PTX out; likewise TornadoVM's CUDA
# backend, with the NVRTC the bundle carries. As root, it hides the
# machine's fonts and fontconfig and draws the loss picture with the bundle's. Needs TORNADOVM_HOME and
# ../shared. Exit 0 when all of it works.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "test-gpu-bundle: FAILED: $*" >&2; exit 1; }

"$here/scripts/gpu-bundle.sh" "$work/made"
size=$(du -sb "$work/made" | cut -f1)
limit=60; [ -f "$work/made/payload/nvrtc.tar.xz" ] && limit=90   # NVRTC, for TornadoVM's CUDA backend
[ "$size" -le $((limit * 1024 * 1024)) ] || fail "the bundle is $((size / 1048576)) MiB"
cp -a "$work/made" "$work/server"          # what reaches the server: the folder alone
rm -rf "$work/made"
mkdir "$work/empty" "$work/home" && cd "$work/empty"
# HOME apart from the working folder: the OpenCL driver (PoCL) caches compiled kernels under ~/.cache
bare() { env -i PATH=/usr/bin:/bin HOME="$work/home" "$@"; }

out=$(bare "$work/server/gpt" verify --backend tornado --reference "$work/server/fixtures/ref_tiny.safetensors" 2>&1) \
  || fail "gpt verify: $out"
grep -q '^OK: all ' <<<"$out" || fail "gpt verify printed no OK line: $out"
out=$(bare "$work/server/gpt" train --backend tornado --iters 20 --eval-interval 10 --eval-iters 2 \
  --out "$work/empty/m.safetensors" --sample-tokens 20 2>&1) || fail "gpt train: $out"
grep -q '^trained 20 iterations' <<<"$out" || fail "gpt train did not finish 20 iterations: $out"
grep -q 'backend tornado backend' <<<"$out" || fail "gpt train did not run on the tornado backend: $out"
grep -q "loss curves: $work/empty/m.loss.png" <<<"$out" || fail "gpt train drew no loss curves: $out"
[ -z "$(ls -A "$work/empty" | grep -v -E '^m\.(safetensors|metrics\.jsonl|loss\.png)$')" ] \
  || fail "the run left files in the working folder besides its model, metrics and picture"
# a bare server has neither fonts nor fontconfig (seen on a GPU server): both hidden in a mount
# namespace (root only), the bundle's own must still draw the picture
fonts=""
fc="$(readlink -f /usr/lib/x86_64-linux-gnu/libfontconfig.so.1 2>/dev/null || true)"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -d /usr/share/fonts ] && [ -f "$fc" ]; then
  mkdir "$work/nofonts" && : > "$work/nocache"
  out=$(bare unshare -m bash -c 'mount --bind "$1" /usr/share/fonts && mount --bind /dev/null "$2" \
      && mount --bind "$3" /etc/ld.so.cache && exec "$4" plot --metrics "$5" --out "$6"' \
    _ "$work/nofonts" "$fc" "$work/nocache" "$work/server/gpt" "$work/empty/m.metrics.jsonl" "$work/nofonts.png" 2>&1) \
    || fail "gpt plot with the machine's fonts and fontconfig hidden: $out"
  [ "$(head -c 4 "$work/nofonts.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "no PNG without the machine's fonts: $out"
  fonts="; the loss picture drawn with the machine's fonts and fontconfig hidden"
fi
ptx=""
if [ -f "$work/server/runtime/tornado-argfile-ptx" ]; then
  out=$(bare "$work/server/gpt" devices 2>&1) || fail "gpt devices: $out"
  ! grep -q 'PTX' <<<"$out" || fail "without libcuda.so.1 the PTX backend must stay out: $out"
  "$here/scripts/stand-in-driver.sh" "$work/driver"
  out=$(bare LD_LIBRARY_PATH="$work/driver" "$work/server/gpt" devices 2>&1) || fail "gpt devices with libcuda: $out"
  grep -q 'PTX dump.*PTX' <<<"$out" || fail "with libcuda.so.1 the PTX device should be listed: $out"
  grep -q '^tornado (default)' <<<"$out" || fail "a GPU should make tornado the default: $out"
  grep -q 'OPENCL' <<<"$out" || fail "OpenCL (PoCL) should stay listed beside PTX: $out"
  ptx="; with a stand-in libcuda.so.1 the PTX device is listed (and tornado the default), without it PTX stays out"
fi
if [ -f "$work/server/runtime/tornado-argfile-cuda" ]; then
  [ -f "$work/server/runtime/nvrtc/libnvrtc.so.13" ] || fail "a bundle with TornadoVM's CUDA backend must carry NVRTC"
  out=$(bare "$work/server/gpt" devices 2>&1) || fail "gpt devices: $out"
  ! grep -q 'CUDA GPU' <<<"$out" || fail "without libcuda.so.1 the CUDA backend must stay out: $out"
  out=$(bare LD_LIBRARY_PATH="$work/driver" "$work/server/gpt" devices 2>&1) || fail "gpt devices with libcuda: $out"
  grep -q 'CUDA GPU' <<<"$out" || fail "with libcuda.so.1 and the bundle's NVRTC the CUDA device should be listed: $out"
  out=$(bare LD_LIBRARY_PATH="$work/driver" GPT_TORNADO_BACKENDS=cuda "$work/server/gpt" devices 2>&1) \
    || fail "gpt devices with the CUDA backend alone: $out"
  ! grep -q 'OPENCL\|PTX GPU' <<<"$out" || fail "GPT_TORNADO_BACKENDS=cuda must start the CUDA backend alone: $out"
  ptx="$ptx; the CUDA backend too (the bundle's NVRTC), alone with GPT_TORNADO_BACKENDS=cuda"
fi
echo "test-gpu-bundle: OK: $((size / 1048576)) MiB; verify and 20 tornado iterations ran from the bundle under env -i$fonts$ptx"
