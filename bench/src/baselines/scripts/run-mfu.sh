#!/usr/bin/env bash
# Model FLOP utilisation: the cpu backend's lecture-config training step (TrainingStepBenchmark) and
# OpenBLAS sgemm on the lecture's Linear shapes (OpenBlasMatmulBenchmark), in one JMH run; prints the
# step's GFLOP/s and its share of the best OpenBLAS GFLOP/s of that run. Run from anywhere:
#   bench/src/baselines/scripts/run-mfu.sh          # THREADS=2 by default; SKIP_BUILD=1 reuses the jar
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$root"
THREADS="${THREADS:-2}"
OUT_DIR="${OUT_DIR:-$root/bench/target/baseline}"
source "$root/scripts/find-jdk25.sh"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    ./mvn25 -B -q -pl bench -am package -DskipTests -Pbaselines
fi
mkdir -p "$OUT_DIR"
jar="$OUT_DIR/benchmarks-mfu.jar"
cp bench/target/benchmarks.jar "$jar"
"$JAVA_HOME/bin/java" -jar "$jar" "org.gptjvm.bench.(TrainingStepBenchmark|OpenBlasMatmulBenchmark)" \
    -p backend=cpu -p config=lecture -p threads="$THREADS" -p shape=16384x384x1536,16384x1536x384 \
    -wi 2 -i 4 -w 1 -r 1 -f 1 -rf json -rff "$OUT_DIR/mfu.json" | grep -v "^WARNING"
python3 - "$OUT_DIR/mfu.json" <<'PY'
import json, sys
# FLOPs of one lecture-config step (B64 T256 C384, 6 layers, 6 heads, vocab 65), counted as gpt bench
# counts them: 2 per multiply-add, forward + backward (2x forward) of every Linear and attention product
B, T, C, L, V = 64, 256, 384, 6, 65
tok = B * T
fwd = L * (2 * tok * C * 3 * C + 2 * tok * C * C + 2 * 2 * tok * C * 4 * C + 2 * 2 * B * T * T * C) + 2 * tok * C * V
step_flops = 3 * fwd
peak, step = 0.0, None
for b in json.load(open(sys.argv[1])):
    p, s, unit = b["params"], b["primaryMetric"]["score"], b["primaryMetric"]["scoreUnit"]
    sec = s / 1e6 if unit == "us/op" else s / 1e3
    if "shape" in p:
        n, c, oc = map(int, p["shape"].split("x"))
        prods = 2 if b["benchmark"].endswith(".backward") else 1
        g = 2 * n * c * oc * prods / sec / 1e9
        print(f"OpenBLAS {b['benchmark'].split('.')[-1]:16s} {p['shape']:16s} {g:7.1f} GFLOP/s")
        peak = max(peak, g)
    else:
        step = step_flops / sec / 1e9
        print(f"training step, cpu, lecture: {s:.0f} {unit}, {step_flops / 1e9:.0f} GFLOP/step, {step:.1f} GFLOP/s")
if peak == 0 or step is None:
    sys.exit("no OpenBLAS or no training-step result: build the jar with -Pbaselines (drop SKIP_BUILD=1)")
print(f"MFU against the OpenBLAS sgemm peak of this run ({peak:.1f} GFLOP/s): {100 * step / peak:.1f}%")
PY
