#!/usr/bin/env bash
# The GPU check of a gpt bundle: probes the machine, runs gpt verify, gpt bench (cpu and tornado),
# PyTorch's training step (tools/torch_bench.py), the lecture step's launch plan with kernel times,
# a 300-iteration small run and a 1000-iteration lecture run, and writes a report (report.json,
# report.md, log.txt, bench-*.json, plan-lecture.*) to $OUT, else ./gpu-check-report.
#   gpu-check.sh [--quick]      --quick: the small config only (for a machine without a GPU)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v python3 >/dev/null || { echo "gpu-check: needs python3 (for the report and PyTorch)" >&2; exit 1; }
exec python3 "$here/tools/gpu_check.py" "$@"
