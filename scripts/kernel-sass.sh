#!/usr/bin/env bash
# The machine code (SASS) NVIDIA's assembler makes of the tornado backend's kernels, per TornadoVM
# route, on a machine without a GPU: the kernels of one training step (or of gpt bench --products)
# compiled the way each route compiles them for a GPU, and per kernel its registers, stack frame,
# spill instructions, shared memory, work-groups per SM (compute capability 9.0's limits, with the
# work-group size the launch asked for), and its main loop's instruction count, FFMA share, shared
# loads by width, FFMAs per shared load, global loads by width and barriers, and where the main loop
# runs a known number of times inside another (the GEMMs' k loop in their loop over slices) that
# loop per iteration, a slice with its staging, or where the k loop is unrolled into the loop over
# slices that loop itself ("1x"; MachineCode in the bench module says how each is counted). Routes:
#   cuda  TornadoVM's CUDA backend: its CUDA C through NVRTC to a cubin (what runs on the GPU)
#   ptx   TornadoVM's PTX backend: its PTX through CUDA's ptxas with the JIT options TornadoVM gave the
#         driver (the register cap among them), as the driver's JIT does
# A stand-in libcuda.so.1 (scripts/dump_libcuda.c) runs nothing but keeps every module and launch,
# so the step's timings are meaningless: only the code is.
#
#   scripts/kernel-sass.sh [--config lecture] [--routes cuda,ptx] [--arch sm_90] [--kernels REGEX]
#                          [--products] [--variants] [--json FILE] [--keep DIR] [--nvdisasm PATH] [--nvrtc DIR]
#
# --variants: a row per version of a kernel (TornadoVM compiles each task on its own, specialised on its
# scalar arguments) with the number of launches that run it, not only each kernel's first module.
#
# Needs: TORNADOVM_HOME, an SDK with the CUDA and/or PTX backends; gcc; ptxas (ptx route);
# nvdisasm (CUDA toolkit; --nvdisasm, or on PATH: one from CUDA 11.8 on reads CUDA 12/13's cubins,
# MachineCode hands it a copy with an older ELF header); libnvrtc.so.13 (cuda route: NVIDIA's
# nvidia-cuda-nvrtc wheel or the toolkit's lib64; --nvrtc DIR, or found on LD_LIBRARY_PATH/ldconfig).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config=lecture routes=cuda,ptx arch=sm_90 kernels='.' products= variants= json= keep= nvdisasm="${NVDISASM:-nvdisasm}" nvrtc=
usage="usage: scripts/kernel-sass.sh [--config NAME] [--routes cuda,ptx] [--arch sm_90] [--kernels REGEX] [--products] [--variants] [--json FILE] [--keep DIR] [--nvdisasm PATH] [--nvrtc DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2;;
    --routes) routes="$2"; shift 2;;
    --arch) arch="$2"; shift 2;;
    --kernels) kernels="$2"; shift 2;;
    --products) products=1; shift;;
    --variants) variants=1; shift;;
    --json) json="$2"; shift 2;;
    --keep) keep="$2"; shift 2;;
    --nvdisasm) nvdisasm="$2"; shift 2;;
    --nvrtc) nvrtc="$2"; shift 2;;
    *) echo "$usage" >&2; exit 2;;
  esac
done
die() { echo "kernel-sass: $*" >&2; exit 1; }
has_nvrtc() { # libnvrtc.so.13 on LD_LIBRARY_PATH or in ldconfig's cache
  local d
  for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do [ -f "$d/libnvrtc.so.13" ] && return 0; done
  ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so\.13 '
}
[[ "$arch" =~ ^sm_[0-9]+$ ]] || die "--arch takes sm_NN, got '$arch'"
[ -n "${TORNADOVM_HOME:-}" ] || die "TORNADOVM_HOME is not set (a TornadoVM SDK with the CUDA or PTX backend)"
command -v gcc >/dev/null || die "no gcc (it builds the stand-in driver)"
command -v "$nvdisasm" >/dev/null || die "no nvdisasm (the CUDA toolkit's; --nvdisasm PATH)"
for r in ${routes//,/ }; do
  case "$r" in
    cuda) grep -q 'tornado.drivers.cuda' "$TORNADOVM_HOME/tornado-argfile" 2>/dev/null \
            || die "$TORNADOVM_HOME has no CUDA backend (--routes ptx, or an SDK built with it)"
          if [ -n "$nvrtc" ]; then
            [ -f "$nvrtc/libnvrtc.so.13" ] || die "no libnvrtc.so.13 in $nvrtc"
          elif ! has_nvrtc; then
            nvrtc=$(python3 -c 'import nvidia, os; print(next(p for p in (os.path.join(d, "cu13", "lib") for d in nvidia.__path__) if os.path.exists(os.path.join(p, "libnvrtc.so.13"))))' 2>/dev/null) \
              || die "no libnvrtc.so.13 for the CUDA route (pip install nvidia-cuda-nvrtc, or --nvrtc DIR)"
          fi;;
    ptx) grep -q 'tornado.drivers.ptx' "$TORNADOVM_HOME/tornado-argfile" 2>/dev/null \
           || die "$TORNADOVM_HOME has no PTX backend (--routes cuda, or an SDK built with it)"
         command -v ptxas >/dev/null || die "no ptxas (the CUDA toolkit's) for the PTX route";;
    *) die "unknown route '$r' (cuda, ptx)";;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/scripts/stand-in-driver.sh" "$work/lib"
export LD_LIBRARY_PATH="$work/lib${nvrtc:+:$nvrtc}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" GPT_CUDA_ARCH="$arch"

(cd "$here" && source scripts/find-jdk25.sh && ./mvn25 -B -q -pl bench -am package -DskipTests) \
  || die "building the bench module (MachineCode) failed"
"$here/gpt" devices > "$work/devices.txt" 2>&1 || { cat "$work/devices.txt" >&2; die "gpt devices failed"; }
what=() && [ -n "$products" ] && what=(--products)
args=()
for r in ${routes//,/ }; do
  kind=$([ "$r" = cuda ] && echo "CUDA GPU" || echo "PTX GPU")
  device=$(grep -F "($kind," "$work/devices.txt" | sed -n 's/^ *\([0-9]*\): .*/\1/p' | head -1)
  [ -n "$device" ] || { cat "$work/devices.txt" >&2; die "TornadoVM listed no $kind device with the stand-in driver"; }
  mkdir -p "$work/$r"
  echo "kernel-sass: $r route (device $device) compiling the kernels of gpt bench ${what[*]} --config $config for $arch ..." >&2
  # kernel by kernel: the stand-in driver cannot capture CUDA graphs (and the code is the same)
  GPT_CUDA_GRAPHS=off GPT_PTX_DUMP="$work/$r" "$here/gpt" bench "${what[@]}" --config "$config" --backend tornado --device "$device" \
    --iters 1 --warmup 1 > "$work/$r.log" 2>&1 || { tail -20 "$work/$r.log" >&2; die "gpt bench on the $r route failed"; }
  if [ "$r" = ptx ]; then
    for ptx in "$work/$r"/*.ptx; do
      # the options TornadoVM gave the driver's JIT (the stand-in's first line, "// JIT options: 0=128 7=4"),
      # as ptxas takes them: CU_JIT_MAX_REGISTERS (0) and CU_JIT_OPTIMIZATION_LEVEL (7)
      jit=()
      for o in $(head -1 "$ptx" | sed -n 's#^// JIT options:##p'); do
        case "$o" in
          0=*) jit+=(--maxrregcount="${o#0=}");;
          7=*) jit+=(-O"$(( ${o#7=} > 3 ? 3 : ${o#7=} ))");;
        esac
      done
      ptxas -arch="$arch" "${jit[@]}" -o "${ptx%.ptx}.cubin" "$ptx" || die "ptxas failed on $ptx"
    done
  fi
  ls "$work/$r"/*.cubin >/dev/null 2>&1 || die "the $r route left no module (see $work/$r.log)"
  args+=("$r=$work/$r")
  [ -z "$keep" ] || { mkdir -p "$keep" && cp -r "$work/$r" "$keep/"; }
done
source "$here/scripts/find-jdk25.sh"
"$JAVA_HOME/bin/java" -cp "$here/bench/target/benchmarks.jar" org.gptjvm.bench.MachineCode --nvdisasm "$(command -v "$nvdisasm")" \
  --kernels "$kernels" ${variants:+--variants} ${json:+--json "$json"} "${args[@]}"
[ -z "$keep" ] || echo "kernel-sass: modules, launches and logs kept in $keep" >&2
