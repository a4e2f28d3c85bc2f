#!/usr/bin/env bash
# Builds the stand-in NVIDIA driver (scripts/dump_libcuda.c: libcuda.so.1, and an empty
# libnvidia-ml.so.1) into the folder DIR, for a machine without a GPU: put DIR on LD_LIBRARY_PATH.
#   scripts/stand-in-driver.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/stand-in-driver.sh DIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$1/libcuda.so.1" "$here/scripts/dump_libcuda.c"
echo 'void nvml_stand_in(void) {}' > "$1/nvml.c"
gcc -shared -fPIC -Wl,-soname,libnvidia-ml.so.1 -o "$1/libnvidia-ml.so.1" "$1/nvml.c"
rm -f "$1/nvml.c"
