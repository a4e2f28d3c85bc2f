#!/usr/bin/env bash
# Packs gpt for an offline Linux GPU server (no Java, no TornadoVM, no network) into the folder DIR:
#
#   scripts/gpu-bundle.sh DIR        (needs TORNADOVM_HOME: source tornado-env.sh first)
#
# DIR then holds everything that travels, at most 60 MiB (90 MiB with NVRTC):
#   gpt, gpu-check.sh   the launcher and the GPU check (see scripts/bundle/)
#   gpt.jar             built here with the tornado backend (-Ptornado)
#   payload/            a jlink'ed Java 25 runtime and the TornadoVM SDK, as .tar.xz: unpacked on first use
#   lib/libOpenCL.so.1  the OpenCL ICD loader (Debian's ocl-icd-libopencl1)
#   vendors/nvidia.icd  names the NVIDIA driver's libnvidia-opencl.so.1 for that loader
#   payload/nvrtc.tar.xz  NVIDIA's NVRTC 13 (libnvrtc.so.13 and its builtins), when the SDK has TornadoVM's CUDA
#                       backend, which compiles kernels with it; found in $NVRTC_DIR, the CUDA toolkit
#                       ($CUDA_HOME, /usr/local/cuda), ldconfig, or pip's nvidia-cuda-nvrtc wheel (nvidia/cu13/lib)
#   fonts/, lib/fonts/  DejaVu Sans, and fontconfig with its libraries for servers that lack it: Java
#                       draws no text, so no loss picture, without a font found through fontconfig
#   data/, fixtures/, tools/   Tiny Shakespeare, the PyTorch fixtures, torch_bench.py (from ../shared)
# Copy DIR to the server and run DIR/gpt ... or DIR/gpu-check.sh there, with nothing on PATH but
# /usr/bin:/bin. README.md, section "On a GPU server", says more.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:?usage: scripts/gpu-bundle.sh DIR}"
shared="${GPT_SHARED:-$here/../shared}"
die() { echo "gpu-bundle: $*" >&2; exit 1; }

[ -n "${TORNADOVM_HOME:-}" ] && [ -f "$TORNADOVM_HOME/tornado-argfile.template" ] \
  || die "TORNADOVM_HOME must name a TornadoVM 5.2.0 SDK (source tornado-env.sh first)"
[ -f "$shared/data/tinyshakespeare.txt" ] && [ -d "$shared/fixtures" ] && [ -f "$shared/tools/torch_bench.py" ] \
  || die "$shared lacks data/tinyshakespeare.txt, fixtures/ or tools/torch_bench.py (set GPT_SHARED)"
if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
  die "$dest exists and is not empty: give a new folder"
fi
source "$here/scripts/find-jdk25.sh"

echo "gpu-bundle: building gpt.jar with the tornado backend ..."
(cd "$here" && mvn -B -q -DskipTests -Ptornado package) || die "the build failed"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/b/payload" "$work/b/lib" "$work/b/vendors" "$work/b/data" "$work/b/fixtures" "$work/b/tools"

# java.desktop: gpt draws its loss curves with AWT (headless), and TornadoVM's PTX backend requires it.
# The modules are left uncompressed (zip-0): xz then packs the runtime into 22 MB instead of 36.
echo "gpu-bundle: a Java runtime with the modules gpt and TornadoVM use (jlink) ..."
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.desktop,java.logging,java.management,java.net.http,java.sql,jdk.management,jdk.unsupported,jdk.internal.vm.ci,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress zip-0 --output "$work/jre"
tar -C "$work" -cf - jre | xz -9e -T0 > "$work/b/payload/jre.tar.xz"

echo "gpu-bundle: the TornadoVM SDK ..."
tar -C "$(dirname "$TORNADOVM_HOME")" --transform "s#^$(basename "$TORNADOVM_HOME")#tornadovm#" -cf - "$(basename "$TORNADOVM_HOME")" \
  | xz -9e -T0 > "$work/b/payload/tornadovm.tar.xz"

echo "gpu-bundle: the OpenCL ICD loader ..."
loader=/usr/lib/x86_64-linux-gnu/libOpenCL.so.1
if [ ! -e "$loader" ]; then
  (cd "$work" && apt-get download -qq ocl-icd-libopencl1 && dpkg-deb -x ocl-icd-libopencl1_*.deb icd) \
    || die "no libOpenCL.so.1 here, and apt-get download ocl-icd-libopencl1 failed"
  loader="$work/icd/usr/lib/x86_64-linux-gnu/libOpenCL.so.1"
fi
cp -L "$loader" "$work/b/lib/libOpenCL.so.1"
echo "libnvidia-opencl.so.1" > "$work/b/vendors/nvidia.icd"

echo "gpu-bundle: a font, and fontconfig for servers without it ..."
mkdir -p "$work/b/fonts" "$work/b/lib/fonts"
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ ! -f "$font" ]; then
  (cd "$work" && apt-get download -qq fonts-dejavu-core && dpkg-deb -x fonts-dejavu-core_*.deb fnt) \
    || die "no DejaVuSans.ttf here, and apt-get download fonts-dejavu-core failed"
  font="$work/fnt/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
fi
cp "$font" "$work/b/fonts/"
for lib in libfontconfig.so.1 libfreetype.so.6 libexpat.so.1 libpng16.so.16 libbrotlidec.so.1 libbrotlicommon.so.1 libz.so.1; do
  [ -e "/usr/lib/x86_64-linux-gnu/$lib" ] || die "no $lib here (apt-get install libfontconfig1)"
  cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$work/b/lib/fonts/$lib"
done

limit=60
if [ -f "$TORNADOVM_HOME/lib/libtornado-cuda.so" ]; then
  echo "gpu-bundle: NVRTC, for TornadoVM's CUDA backend ..."
  nvrtc=""
  for d in ${NVRTC_DIR:-} ${CUDA_HOME:+$CUDA_HOME/lib64} /usr/local/cuda/lib64 \
      $(ldconfig -p 2>/dev/null | sed -n 's#.*=> \(.*\)/libnvrtc\.so\.13$#\1#p') \
      $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib" for p in site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    if [ -f "$d/libnvrtc.so.13" ] && ls "$d"/libnvrtc-builtins.so.13.* >/dev/null 2>&1; then nvrtc="$d"; break; fi
  done
  [ -n "$nvrtc" ] || die "the SDK has TornadoVM's CUDA backend, which needs NVRTC 13, and none was found: pip install nvidia-cuda-nvrtc (CUDA 13), or set NVRTC_DIR to the folder holding libnvrtc.so.13"
  mkdir -p "$work/nvrtc"
  cp -L "$nvrtc/libnvrtc.so.13" "$work/nvrtc/"
  for f in "$nvrtc"/libnvrtc-builtins.so.13.*; do case "$f" in *.alt.*) ;; *) cp -L "$f" "$work/nvrtc/";; esac; done
  tar -C "$work" -cf - nvrtc | xz -9e -T0 > "$work/b/payload/nvrtc.tar.xz"
  limit=90
fi

cp "$here/cli/target/gpt.jar" "$work/b/gpt.jar"
cp "$here/scripts/bundle/gpt" "$here/scripts/bundle/gpu-check.sh" "$work/b/"
cp "$here/scripts/bundle/README.txt" "$work/b/"
cp "$here/scripts/bundle/gpu_check.py" "$work/b/tools/"
cp "$shared/data/tinyshakespeare.txt" "$work/b/data/"
cp "$shared"/fixtures/*.safetensors "$work/b/fixtures/"
cp "$shared/tools/torch_bench.py" "$work/b/tools/"
chmod +x "$work/b/gpt" "$work/b/gpu-check.sh"

size=$(du -sb "$work/b" | cut -f1)
[ "$size" -le $((limit * 1024 * 1024)) ] || die "the bundle is $((size / 1048576)) MiB, over $limit MiB"
mkdir -p "$dest"
cp -a "$work/b/." "$dest/"
echo "gpu-bundle: $dest, $((size / 1048576)) MiB: copy it to the server, then: $dest/gpu-check.sh (or $dest/gpt ...)"
