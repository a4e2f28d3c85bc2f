# The table kernel-ptx.sh and tornado-ptx.sh print, sourced by both: per kernel, CUDA's ptxas -v
# (registers, stack frame, spill stores, shared memory) and the PTX's multiply-adds, shared-memory
# loads and stores, and local-memory accesses (ptxas may still keep those in registers; its stack
# frame says whether it did: 0, all of them).
ptxas_header() {
  printf '%-22s %5s %7s %7s %6s %6s %9s %9s %9s\n' kernel regs stack spills smem fma ld.shared st.shared ptx-local
}

# ptxas_row NAME PTX ARCH: compiles PTX for ARCH (the cubin beside it) and prints NAME's row
ptxas_row() {
  local name="$1" ptx="$2" arch="$3" info
  info=$(ptxas -v -arch="$arch" -o "${ptx%.ptx}.cubin" "$ptx" 2>&1) || { echo "$info" >&2; return 1; }
  printf '%-22s %5s %7s %7s %6s %6s %9s %9s %9s\n' "$name" \
    "$(grep -o 'Used [0-9]* registers' <<<"$info" | grep -o '[0-9]*')" \
    "$(grep -o '[0-9]* bytes stack frame' <<<"$info" | grep -o '^[0-9]*')" \
    "$(grep -o '[0-9]* bytes spill stores' <<<"$info" | grep -o '^[0-9]*')" \
    "$(grep -o '[0-9]* bytes smem' <<<"$info" | grep -o '^[0-9]*' || echo 0)" \
    "$(grep -c 'fma.rn.f32\|mad.rn.f32' "$ptx")" "$(grep -c 'ld.shared' "$ptx")" \
    "$(grep -c 'st.shared' "$ptx")" "$(grep -c 'ld.local\|st.local' "$ptx")"
}
