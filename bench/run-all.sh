#!/usr/bin/env bash
# Builds the benchmarks and runs them all in one JMH run: every kernel forward/backward
# (KernelBenchmark, MatmulBenchmark) at the small and lecture shapes and the whole training step per
# backend (TrainingStepBenchmark), plus the baselines if the jar was built with them (-Pbaselines:
# OpenBLAS sgemm; -Plibtorch: the libtorch step). Writes JMH's JSON and prints the table derived from
# it (JmhReport: score, tokens/s, GFLOP/s, GB/s, ratio to the fastest doing the same work).
#   bench/run-all.sh                         # everything, default JMH settings (tens of minutes)
#   bench/run-all.sh -p backend=cpu -p config=small -wi 2 -i 3      # any JMH options narrow it down
#   PROFILES=baselines,libtorch bench/run-all.sh                    # with the baselines
# Output: out/jmh.json (OUT=... to change) and the table on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/find-jdk25.sh
out="${OUT:-$root/out/jmh.json}"
mkdir -p "$(dirname "$out")"
./mvn25 -B -q -pl bench -am package -DskipTests ${PROFILES:+-P$PROFILES}
jar="$(mktemp -d)/benchmarks.jar"   # a copy: a build running meanwhile cannot swap the jar out
cp bench/target/benchmarks.jar "$jar"
# a first argument that is not an option is the benchmarks' regex; otherwise all of them
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then which=("$1"); shift; else which=("org.gptjvm.bench.*"); fi
"$JAVA_HOME/bin/java" -jar "$jar" "${which[@]}" -rf json -rff "$out" "$@" | grep -v "^WARNING"
"$JAVA_HOME/bin/java" -cp "$jar" org.gptjvm.bench.JmhReport "$out"
