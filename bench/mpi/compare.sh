#!/usr/bin/env bash
# The all-reduce of a data-parallel gpt step, from C and from gpt's Java (Open MPI through the FFM API),
# on this machine: bench/mpi/compare.sh [NP] [COUNT] [ITERS]   (needs openmpi-bin and libopenmpi-dev,
# and gpt's jars: ./mvn25 -DskipTests install). Extra mpirun flags: MPIRUN_FLAGS="--mca btl self,tcp".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../.."
np="${1:-2}" count="${2:-10788929}" iters="${3:-10}"
command -v mpicc >/dev/null || { echo "compare.sh: needs mpicc (apt-get install libopenmpi-dev)" >&2; exit 1; }
source "$root/scripts/find-jdk25.sh"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mpicc -O2 "$here/allreduce.c" -o "$work/allreduce"
cp="$root/bench/target/classes:$root/model/target/classes:$root/engine/target/classes"
cp="$cp:$(ls ~/.m2/repository/com/google/code/gson/gson/*/gson-*.jar | grep -v sources | tail -1)"
run() { mpirun --allow-run-as-root --oversubscribe -np "$np" ${MPIRUN_FLAGS:-} "$@"; }
run "$work/allreduce" "$count" "$iters"
run "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" org.gptjvm.bench.AllReduceBench "$count" "$iters"
