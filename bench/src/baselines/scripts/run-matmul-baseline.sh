#!/usr/bin/env bash
# Our Linear-layer kernels (MatmulBenchmark, backend cpu) against OpenBLAS sgemm (OpenBlasMatmulBenchmark) on the
# model's shapes, per thread count, then a comparison table. Run from anywhere:
#   bench/src/baselines/scripts/run-matmul-baseline.sh            # threads 2 and 1
#   THREADS="4 2 1" JMH_OPTS="-wi 5 -i 10 -w 1 -r 1 -f 1" bench/src/baselines/scripts/run-matmul-baseline.sh
# Needs Maven Central once (the -Pbaselines build downloads OpenBLAS through org.bytedeco). Results:
# $OUT_DIR/matmul-t<threads>.json (default OUT_DIR=bench/target/baseline) and the table on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$root"
THREADS="${THREADS:-2 1}"
JMH_OPTS="${JMH_OPTS:--wi 3 -i 5 -w 1 -r 1 -f 1}"
OUT_DIR="${OUT_DIR:-$root/bench/target/baseline}"
source "$root/scripts/find-jdk25.sh"   # sets JAVA_HOME to a JDK 25
java="$JAVA_HOME/bin/java"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    ./mvn25 -B -q -pl bench -am package -DskipTests -Pbaselines
fi
mkdir -p "$OUT_DIR"
# run from a copy, so a concurrent default build that rewrites bench/target/benchmarks.jar does not disturb the run
jar="$OUT_DIR/benchmarks-baselines.jar"
cp bench/target/benchmarks.jar "$jar"
if ! "$java" -jar "$jar" -l | grep -q OpenBlasMatmulBenchmark; then
    echo "bench/target/benchmarks.jar has no OpenBlasMatmulBenchmark: build it with -Pbaselines" >&2
    exit 1
fi
# correctness against RefKernels, and that OpenBLAS really runs on the requested threads
"$java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx8g -cp "$jar" \
    org.gptjvm.bench.OpenBlasCheck $THREADS 2>&1 | grep -v "^WARNING: Using incubator"
files=()
for t in $THREADS; do
    # shellcheck disable=SC2086
    "$java" -jar "$jar" "org.gptjvm.bench.(OpenBlas)?MatmulBenchmark" -p backend=cpu -p threads="$t" $JMH_OPTS \
        -rf json -rff "$OUT_DIR/matmul-t$t.json" ${JMH_EXTRA:-}
    files+=("$OUT_DIR/matmul-t$t.json")
done
python3 "$root/bench/src/baselines/scripts/matmul_table.py" "${files[@]}"
