#!/usr/bin/env bash
# The PTX that TornadoVM's own PTX backend hands the NVIDIA driver for the tornado backend's kernels,
# on a machine without a GPU: a stand-in libcuda.so.1 (scripts/dump_libcuda.c) that runs nothing
# keeps every module TornadoVM loads, and CUDA's ptxas compiles each for a chosen architecture with
# the registers, stack frame and spills per kernel and the PTX's count of multiply-adds, shared and
# local memory accesses. scripts/kernel-ptx.sh is the other route (TornadoVM's OpenCL C through
# clang); this one is exactly what TornadoVM's PTX backend emits. The stand-in runs no kernel, so
# the step's numbers are meaningless: only the code is.
#
#   scripts/tornado-ptx.sh [--arch sm_90] [--kernels REGEX] [--step] [--config NAME] [--keep DIR]
#
# --step compiles a whole training step's kernels (default: gpt bench --products, the products only).
# Needs TORNADOVM_HOME pointing at an installed TornadoVM SDK with the PTX backend, gcc
# and ptxas. Each distinct kernel is reported once (TornadoVM compiles a module per task).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch=sm_90 kernels='.' config=small keep= step=
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2;;
    --kernels) kernels="$2"; shift 2;;
    --config) config="$2"; shift 2;;
    --keep) keep="$2"; shift 2;;
    --step) step=1; shift;;
    *) echo "usage: scripts/tornado-ptx.sh [--arch sm_90] [--kernels REGEX] [--step] [--config NAME] [--keep DIR]" >&2; exit 2;;
  esac
done
die() { echo "tornado-ptx: $*" >&2; exit 1; }
[ -n "${TORNADOVM_HOME:-}" ] || die "TORNADOVM_HOME is not set (an SDK with the PTX backend)"
grep -q 'tornado.drivers.ptx' "$TORNADOVM_HOME/tornado-argfile" 2>/dev/null \
  || die "$TORNADOVM_HOME has no PTX backend (install TornadoVM's SDK with its PTX backend)"
command -v gcc >/dev/null || die "no gcc"
command -v ptxas >/dev/null || die "no ptxas (the CUDA toolkit's)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/dump"
"$here/scripts/stand-in-driver.sh" "$work/lib"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" GPT_PTX_DUMP="$work/dump"
device=$("$here/gpt" devices 2>/dev/null | sed -n 's/^ *\([0-9]*\): PTX dump.*/\1/p' | head -1)
[ -n "$device" ] || die "TornadoVM listed no PTX device with the stand-in driver (see: gpt devices)"
what=(--products) && [ -n "$step" ] && what=()
echo "tornado-ptx: TornadoVM's PTX backend compiling the kernels of gpt bench ${what[*]} --config $config ..." >&2
"$here/gpt" bench "${what[@]}" --config "$config" --backend tornado \
  --device "$device" --iters 1 --warmup 1 > "$work/run.txt" 2>&1 || { tail -20 "$work/run.txt" >&2; die "gpt bench failed"; }

source "$here/scripts/ptxas-table.sh"
ptxas_header
declare -A seen
for ptx in "$work"/dump/*.ptx; do
  # TornadoVM names a module's entry graph_task-id_method_arguments: the Java method is the kernel
  k=$(basename "$ptx" .ptx | sed -E 's/^[0-9]+-//; s/^[a-z_]+[0-9]+_[a-z_]+_[0-9]+_//; s/_(uk_ac|arrays|org_gptjvm)_.*//')
  [[ "$k" != upload* && -z "${seen[$k]:-}" ]] || continue
  [[ "$k" =~ $kernels ]] || continue
  seen[$k]=1
  ptxas_row "$k" "$ptx" "$arch" || die "ptxas failed on $k"
  [ -z "$keep" ] || { mkdir -p "$keep" && cp "$ptx" "$keep/$k.ptx"; }
done
[ -z "$keep" ] || echo "tornado-ptx: PTX kept in $keep" >&2
