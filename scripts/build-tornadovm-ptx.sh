#!/usr/bin/env bash
# Builds the TornadoVM 5.2.0 (jdk25) SDK with both the OpenCL and the PTX backend, on a machine that
# has the CUDA toolkit (nvcc, cuda.h) but no NVIDIA driver: the PTX backend's JNI library links
# against libcuda.so.1 and libnvidia-ml.so.1, which only a GPU machine has, so it is linked here
# against stubs of those two libraries (an empty library with that SONAME each; the GPU machine's
# driver supplies the real ones at run time). With this SDK as TORNADOVM_HOME, scripts/gpu-bundle.sh
# makes a bundle that uses the GPU through OpenCL where the driver has OpenCL, else through PTX.
#
#   scripts/build-tornadovm-ptx.sh GIT_DIR [DEST]
#     GIT_DIR  a git directory of beehive-lab/TornadoVM that holds the tag v5.2.0-jdk25
#     DEST     where the SDK goes (default: $HOME/tornadovm-5.2.0-jdk25-opencl-ptx)
#
# The steps that reach outside this machine are replaced as in ../shared/tools/build-tornadovm.sh
# (Khronos headers from Debian, no compiler-management jar, Python modules from pip or Debian).
set -euo pipefail
GIT_DIR=${1:?usage: build-tornadovm-ptx.sh GIT_DIR [DEST]}
DEST=${2:-$HOME/tornadovm-5.2.0-jdk25-opencl-ptx}
TAG=v5.2.0-jdk25
JDK=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
CUDA=${CUDA_HOME:-/usr/local/cuda}
[ -x "$JDK/bin/java" ] || { echo "build-tornadovm-ptx: no JDK 25 at $JDK (set JAVA_HOME_25)" >&2; exit 1; }
[ -x "$CUDA/bin/nvcc" ] && [ -f "$CUDA/include/cuda.h" ] \
  || { echo "build-tornadovm-ptx: no CUDA toolkit at $CUDA (nvcc, include/cuda.h; set CUDA_HOME)" >&2; exit 1; }
export JAVA_HOME=$JDK PATH=$JDK/bin:$CUDA/bin:$PATH

if ! dpkg -s pocl-opencl-icd ocl-icd-opencl-dev opencl-c-headers cmake g++ >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    pocl-opencl-icd ocl-icd-opencl-dev opencl-c-headers clinfo cmake g++ >/dev/null
fi
python3 -c 'import requests, tqdm, urllib3, packaging' 2>/dev/null || pip3 install -q requests tqdm urllib3 packaging
python3 -c 'import streamlit' 2>/dev/null || pip3 install -q streamlit || true
work=$(mktemp -d -t tornadovm-build.XXXX)
if ! python3 -c 'import wget' 2>/dev/null; then
  (cd "$work" && apt-get download -qq python3-wget >/dev/null 2>&1 && dpkg-deb -x python3-wget_*.deb x && cp x/usr/lib/python3/dist-packages/wget.py .)
  export PYTHONPATH=$work${PYTHONPATH:+:$PYTHONPATH}
fi

# the PTX JNI library's CMake links "-L/usr/local/cuda/lib64/stubs -lcuda -lnvidia-ml"; the stubs
# define nothing, so the linker must keep them as NEEDED (--no-as-needed): at run time the driver's
# libcuda.so.1 then supplies every cu* symbol
export LDFLAGS="-Wl,--no-as-needed${LDFLAGS:+ $LDFLAGS}"
stubs=$CUDA/lib64/stubs
for lib in cuda nvidia-ml; do
  if [ ! -e "$stubs/lib$lib.so" ]; then
    mkdir -p "$stubs"
    echo 'void gpt_jvm_link_stub(void) {}' > "$work/stub.c"
    gcc -shared -fPIC -o "$stubs/lib$lib.so" -Wl,-soname,"lib$lib.so.1" "$work/stub.c"
    echo "build-tornadovm-ptx: made a link stub $stubs/lib$lib.so (SONAME lib$lib.so.1)"
  fi
done

src=$work/src; mkdir -p "$src"
git --git-dir="$GIT_DIR" archive "$TAG" -- . ':(exclude)tornado-benchmarks/src/main/resources/*.mtx' 2>/dev/null \
  | tar -x -C "$src" || true
[ -f "$src/Makefile" ] && [ -d "$src/tornado-drivers/ptx-jni" ] || { echo "build-tornadovm-ptx: could not export $TAG from $GIT_DIR" >&2; exit 1; }
cd "$src"
h=tornado-drivers/opencl-jni/src/main/cpp/headers/include/CL
mkdir -p "$h" && cp /usr/include/CL/*.h "$h/"
sed -i '/compiler-management/d' bin/pull_graal_jars.py
nice -n 10 make BACKEND=opencl,ptx > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; echo "build-tornadovm-ptx: build failed (log: $work/build.log)" >&2; exit 1; }
sdk=$(ls -d dist/tornadovm-*-linux-amd64/tornadovm-* 2>/dev/null | grep -v '\.tar' | head -1)
[ -n "$sdk" ] && [ -f "$sdk/lib/libtornado-ptx.so" ] || { echo "build-tornadovm-ptx: no SDK with the PTX library under dist/" >&2; exit 1; }
readelf -d "$sdk/lib/libtornado-ptx.so" | grep -q 'NEEDED.*\[libcuda.so.1\]' \
  || { echo "build-tornadovm-ptx: libtornado-ptx.so does not name libcuda.so.1 (the link dropped it)" >&2; exit 1; }
rm -rf "$DEST"; mkdir -p "$(dirname "$DEST")"; cp -a "$sdk" "$DEST"
sed "s#\${TORNADOVM_HOME}#$DEST#g" "$DEST/tornado-argfile.template" > "$DEST/tornado-argfile"
echo "TornadoVM SDK with OpenCL and PTX at $DEST (export TORNADOVM_HOME=$DEST); build tree $src"
echo "its PTX library needs, from the GPU machine's driver: $(readelf -d "$DEST/lib/libtornado-ptx.so" | grep NEEDED | grep -o '\[lib[^]]*\]' | tr -d '[]' | grep -e cuda -e nvidia | tr '\n' ' ')"
