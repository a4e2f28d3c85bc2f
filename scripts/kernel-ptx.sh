#!/usr/bin/env bash
# What a GPU compiler can make of the tornado backend's kernels, on a machine without a GPU: the
# OpenCL C that TornadoVM generates (printed on PoCL), compiled by clang for NVIDIA's PTX and then by
# CUDA's ptxas for a chosen architecture, with ptxas's registers, stack frame, spills and shared
# memory per kernel and the PTX's count of multiply-adds, shared and local memory accesses.
#
#   scripts/kernel-ptx.sh [--arch sm_90] [--kernels REGEX] [--config small] [--keep DIR]
#
# Needs TORNADOVM_HOME (source tornado-env.sh; PoCL compiles the kernels first, a few minutes),
# clang (15 or later, with the NVPTX target) and ptxas (CUDA toolkit). clang's LLVM is not NVIDIA's
# own OpenCL front end: the figures say what a compiler can make of the code (does a loop unroll, do
# the accumulators stay in registers), not what a GPU runs. Each distinct kernel is reported once.
# ptx-local counts the PTX's local-memory loads and stores; ptxas may still keep those values in
# registers, and its stack frame says whether it did (0: all of them). --keep DIR leaves each kernel's
# OpenCL C (.cl) and PTX (.ptx) in DIR, to read.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
arch=sm_90 kernels='^gemm' config=small keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2;;
    --kernels) kernels="$2"; shift 2;;
    --config) config="$2"; shift 2;;
    --keep) keep="$2"; shift 2;;
    *) echo "usage: scripts/kernel-ptx.sh [--arch sm_90] [--kernels REGEX] [--config NAME] [--keep DIR]" >&2; exit 2;;
  esac
done
die() { echo "kernel-ptx: $*" >&2; exit 1; }
[ -n "${TORNADOVM_HOME:-}" ] || die "TORNADOVM_HOME is not set (source tornado-env.sh)"
clang=$(command -v clang || ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -V | tail -1 || true)
[ -n "$clang" ] || die "no clang (apt-get install clang)"
command -v ptxas >/dev/null || die "no ptxas (the CUDA toolkit's)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "kernel-ptx: TornadoVM generating the kernels of gpt bench --products --config $config ..." >&2
JAVA_OPTS="${JAVA_OPTS:-} -Dtornado.printKernel=True" \
  "$here/gpt" bench --products --config "$config" --backend tornado --iters 1 --warmup 0 > "$work/print.txt" 2>&1 \
  || { tail -20 "$work/print.txt" >&2; die "gpt bench failed"; }

# the work-item functions and the OpenCL built-ins TornadoVM's code calls, for clang's nvptx target
cat > "$work/prelude.h" <<'EOF'
static inline uint gid_(uint d){return d==0?__nvvm_read_ptx_sreg_ctaid_x():d==1?__nvvm_read_ptx_sreg_ctaid_y():__nvvm_read_ptx_sreg_ctaid_z();}
static inline uint lid_(uint d){return d==0?__nvvm_read_ptx_sreg_tid_x():d==1?__nvvm_read_ptx_sreg_tid_y():__nvvm_read_ptx_sreg_tid_z();}
static inline uint lsz_(uint d){return d==0?__nvvm_read_ptx_sreg_ntid_x():d==1?__nvvm_read_ptx_sreg_ntid_y():__nvvm_read_ptx_sreg_ntid_z();}
static inline uint ngr_(uint d){return d==0?__nvvm_read_ptx_sreg_nctaid_x():d==1?__nvvm_read_ptx_sreg_nctaid_y():__nvvm_read_ptx_sreg_nctaid_z();}
#define get_group_id(d) gid_(d)
#define get_local_id(d) lid_(d)
#define get_local_size(d) lsz_(d)
#define get_num_groups(d) ngr_(d)
#define get_global_id(d) (gid_(d)*lsz_(d)+lid_(d))
#define get_global_size(d) (ngr_(d)*lsz_(d))
#define barrier(x) __nvvm_bar_sync(0)
#define max(a,b) __builtin_elementwise_max((a),(b))
#define min(a,b) __builtin_elementwise_min((a),(b))
#define fma(a,b,c) __builtin_fmaf((a),(b),(c))
#define isless(a,b) ((a)<(b))
#define isgreater(a,b) ((a)>(b))
#define exp(x) __nvvm_ex2_approx_f((x)*1.4426950408889634f)
#define native_exp(x) __nvvm_ex2_approx_f((x)*1.4426950408889634f)
#define sqrt(x) __nvvm_sqrt_rn_f(x)
#define native_sqrt(x) __nvvm_sqrt_rn_f(x)
EOF

python3 - "$work" "$kernels" <<'EOF'
import re, sys
work, pattern = sys.argv[1], re.compile(sys.argv[2])
src = open(f"{work}/print.txt").read()
seen = set()
for part in re.split(r'(?=#pragma OPENCL EXTENSION cl_khr_fp64 : enable)', src):
    m = re.search(r'__kernel void (\w+)\(', part)
    if not m or not pattern.search(m.group(1)) or m.group(1) in seen:
        continue
    seen.add(m.group(1))
    end = part.find('}  //  kernel')
    open(f"{work}/{m.group(1)}.cl", "w").write(part[:end + len('}  //  kernel')] + "\n")
if not seen:
    sys.exit("kernel-ptx: no kernel matched " + sys.argv[2])
EOF

source "$here/scripts/ptxas-table.sh"
ptxas_header
for cl in "$work"/*.cl; do
  k=$(basename "$cl" .cl)
  "$clang" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -Xclang -finclude-default-header -include "$work/prelude.h" \
    -O3 -S -o "$work/$k.ptx" "$cl" -Wno-everything || die "clang could not compile $k"
  sed -i "s/^\.version .*/.version 8.0/; s/^\.target .*/.target $arch/" "$work/$k.ptx"
  ptxas_row "$k" "$work/$k.ptx" "$arch" || die "ptxas failed on $k"
done
if [ -n "$keep" ]; then
  mkdir -p "$keep" && cp "$work"/*.cl "$work"/*.ptx "$keep"/ && echo "kernel-ptx: OpenCL and PTX kept in $keep" >&2
fi
