#!/usr/bin/env bash
# Data-parallel scaling on one machine: one process with NP threads on the combined batch against NP
# processes of one thread each (mpirun), the same model, settings and global batch, cpu backend.
#   bench/mpi/scaling.sh [CONFIG] [ITERS] [NP]     (defaults: small 100 2; needs openmpi-bin)
# Prints, per run, tokens/s and ms a step (medians over the second half of the iterations, from the
# run's metrics file) and, for the processes, the gradients' all-reduce a step (allreduce_ms) and its
# share of the step. Extra mpirun flags: MPIRUN_FLAGS="--mca btl self,tcp". Data: GPT_DATA, else
# ../shared/data/tinyshakespeare.txt beside the repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
config="${1:-small}" iters="${2:-100}" np="${3:-2}"
command -v mpirun >/dev/null || { echo "scaling.sh: needs mpirun (apt-get install openmpi-bin)" >&2; exit 1; }
data="${GPT_DATA:-$root/../shared/data/tinyshakespeare.txt}"
[ -f "$data" ] || { echo "scaling.sh: no text at $data (set GPT_DATA)" >&2; exit 1; }
case "$config" in
  small) batch=16 ;;
  lecture) batch=64 ;;
  *) echo "scaling.sh: config small or lecture, not $config" >&2; exit 2 ;;
esac
(( batch % np == 0 )) || { echo "scaling.sh: $np processes do not share a batch of $batch" >&2; exit 2; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$root/gpt" --version >/dev/null # builds the jar once, outside the timing
common=(train --config "$config" --backend cpu --data "$data" --iters "$iters" --log-interval 1
        --eval-interval $((iters + 1)) --eval-iters 1 --sample-tokens 0 --force)
echo "$config config, global batch $batch, $iters iterations; $(nproc) cores"
(cd "$work" && "$root/gpt" "${common[@]}" --threads "$np" --batch-size "$batch" --out one.safetensors > one.txt 2>&1) \
  || { cat "$work/one.txt" >&2; exit 1; }
(cd "$work" && mpirun --allow-run-as-root --oversubscribe -np "$np" ${MPIRUN_FLAGS:-} "$root/gpt" "${common[@]}" \
  --threads 1 --batch-size $((batch / np)) --out many.safetensors > many.txt 2>&1) || { cat "$work/many.txt" >&2; exit 1; }
python3 - "$work/one.metrics.jsonl" "$work/many.metrics.jsonl" "$np" <<'EOF'
import json, statistics, sys
def summary(path):
    lines = [json.loads(l) for l in open(path)]
    start = next(l for l in lines if l["event"] == "start")
    tokens = start["train"]["batch_size"] * start["model"]["block_size"] * start.get("processes", 1)
    train = [l for l in lines if l["event"] == "train"]
    late = train[len(train) // 2:]
    tps = statistics.median(l["tokens_per_s"] for l in late)
    ar = [l["allreduce_ms"] for l in late if "allreduce_ms" in l]
    return tps, 1000.0 * tokens / tps, (statistics.median(ar) if ar else None), len(late)
np = int(sys.argv[3])
t1, s1, _, n = summary(sys.argv[1])
t2, s2, ar, _ = summary(sys.argv[2])
print(f"1 process x {np} threads:  {t1:9.0f} tokens/s, {s1:8.1f} ms a step (median of the last {n} iterations)")
print(f"{np} processes x 1 thread: {t2:9.0f} tokens/s, {s2:8.1f} ms a step, all-reduce {ar:.2f} ms a step ({100 * ar / s2:.1f}%)")
print(f"processes / threads: {t2 / t1:.2f}x")
EOF
