#!/usr/bin/env bash
# Proves data-parallel gpt train under Slurm on this machine: srun -n 2 --mpi=pmix and an sbatch
# script that calls srun must train the same model as mpirun -np 2 (the same losses, bit for bit,
# and the same checkpoint bytes); srun --mpi=none must be refused in one line; SIGKILL to one task
# must end the job, non-zero, within 30 s, leaving the last checkpoint whole; scancel must stop it
# at one step with a saved checkpoint that srun resumes. Needs a running Slurm cluster whose
# partition (SRUN_FLAGS, e.g. "-p debug") gives 2 tasks on this node, Open MPI's mpirun, jq and
# ../shared. The work folder (TEST_SLURM_DIR, default /tmp) must be this node's: the kill check
# finds the task's java here. Exit 0 when all of it works.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "test-slurm: FAILED: $*" >&2; exit 1; }
for c in srun sbatch scancel sinfo mpirun jq; do
  command -v "$c" >/dev/null || fail "needs $c (Slurm: apt-get install slurm-wlm; Open MPI: openmpi-bin)"
done
sinfo -h >/dev/null 2>&1 || fail "no Slurm controller answers (sinfo): start munged, slurmctld and slurmd"
data="$here/../shared/data/tinyshakespeare.txt"
[ -f "$data" ] || fail "no $data"
srun --mpi=list 2>&1 | grep -q pmix || fail "this Slurm has no pmix plugin (srun --mpi=list), which Open MPI 4 needs"
work="$(mktemp -d "${TEST_SLURM_DIR:-/tmp}/test-slurm.XXXXXX")"
trap 'for j in kill cancel; do scancel -n "test-slurm-$$-$j" 2>/dev/null || true; done; rm -rf "$work"' EXIT
gpt="$here/gpt"
mpirun=(mpirun -np 2)
[ "$(id -u)" != 0 ] || mpirun+=(--allow-run-as-root)
srun=(srun ${SRUN_FLAGS:-} -n 2 --mpi=pmix)
# each process's share: 4 rows of the combined batch of 8; dropout, clipping and accumulation on
train=(train --backend cpu --threads 1 --data "$data" --n-layer 2 --n-embd 32 --n-head 2 --block-size 32
  --dropout 0.1 --grad-clip 1.0 --grad-accum 2 --batch-size 4 --eval-iters 2 --log-interval 1 --sample-tokens 0)
"$gpt" --version >/dev/null # builds the jar once, before any job starts

# the losses of a run, one line each: train per iteration, then each evaluation's
losses() {
  jq -c 'select(.event == "train" or .event == "eval") | [.event, .iter, .loss, .train_loss, .val_loss]' \
    "${1%.safetensors}.metrics.jsonl"
}
same() { # same(reference, other, what)
  [ -f "$2" ] || fail "$3 saved no model"
  [ "$(losses "$1" | wc -l)" -ge 20 ] || fail "$1 holds too few losses"
  diff <(losses "$1") <(losses "$2") >"$work/diff" || fail "$3's losses differ from mpirun's: $(head -4 "$work/diff")"
  cmp -s "$1" "$2" || fail "$3's checkpoint differs from mpirun's"
}
once() { # once(output, text): the text printed by process 0 alone
  [ "$(grep -c -F -- "$2" <<<"$1")" = 1 ] || fail "'$2' is not printed exactly once: $1"
}

echo "test-slurm: mpirun -np 2, the reference"
out=$("${mpirun[@]}" "$gpt" "${train[@]}" --iters 20 --eval-interval 10 --out "$work/mpirun.safetensors" 2>&1) \
  || fail "mpirun: $out"

echo "test-slurm: srun -n 2 --mpi=pmix"
out=$("${srun[@]}" "$gpt" "${train[@]}" --iters 20 --eval-interval 10 --out "$work/srun.safetensors" 2>&1) \
  || fail "srun: $out"
once "$out" "data-parallel: 2 processes of 4 rows each, one batch of 8 rows a step"
once "$out" "step 10: train loss"
same "$work/mpirun.safetensors" "$work/srun.safetensors" "srun"

echo "test-slurm: sbatch of a script that calls srun"
cat >"$work/job.sh" <<EOF
#!/usr/bin/env bash
#SBATCH --ntasks=2
#SBATCH --output=$work/job.out
exec srun --mpi=pmix $(printf '%q ' "$gpt" "${train[@]}" --iters 20 --eval-interval 10 --out "$work/sbatch.safetensors")
EOF
sbatch ${SRUN_FLAGS:-} --wait --quiet "$work/job.sh" || fail "the sbatch job failed: $(cat "$work/job.out" 2>&1)"
same "$work/mpirun.safetensors" "$work/sbatch.safetensors" "sbatch"

echo "test-slurm: srun --mpi=none is refused"
set +e
out=$(srun ${SRUN_FLAGS:-} -n 2 --mpi=none "$gpt" "${train[@]}" --iters 20 --out "$work/none.safetensors" 2>&1)
rc=$?
set -e
[ "$rc" != 0 ] || fail "srun --mpi=none ended 0: $out"
grep -q '^gpt: error: this process is one of 2 tasks that srun started without MPI (srun --mpi=none' <<<"$out" \
  || fail "srun --mpi=none without gpt's one-line error: $out"
[ ! -e "$work/none.safetensors" ] || fail "srun --mpi=none trained a model"

# a job that runs until stopped, in the background: its exit status lands in $work/NAME.rc
start() { # start(name)
  (if "${srun[@]}" -J "test-slurm-$$-$1" "$gpt" "${train[@]}" --iters 1000000 --eval-interval 20 \
    --out "$work/$1.safetensors" >"$work/$1.log" 2>&1; then echo 0; else echo $?; fi >"$work/$1.rc") &
  for _ in $(seq 240); do [ -f "$work/$1.safetensors" ] && return; sleep 0.5; done
  fail "$1: no checkpoint after 120 s: $(cat "$work/$1.log")"
}
ended() { # ended(name, seconds): waits for the job's end, which must come within that many seconds
  local t0=$SECONDS
  for _ in $(seq $(($2 * 4))); do
    [ -s "$work/$1.rc" ] && { took=$((SECONDS - t0)); return; }
    sleep 0.25
  done
  scancel -n "test-slurm-$$-$1" || true
  fail "$1: the job went on $2 s later: $(cat "$work/$1.log")"
}

echo "test-slurm: SIGKILL to task 1 ends the job"
start kill
victim=""
for p in $(pgrep -f "java.*$work/kill.safetensors"); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'SLURM_PROCID=1' && victim=$p
done
[ -n "$victim" ] || fail "task 1's java is not on this node"
kill -9 "$victim"
ended kill 30
[ "$(cat "$work/kill.rc")" != 0 ] || fail "the job ended 0 after a task was killed: $(cat "$work/kill.log")"
"$gpt" eval --checkpoint "$work/kill.safetensors" --data "$data" --eval-iters 1 --backend cpu >/dev/null \
  || fail "the killed job's checkpoint does not load"
echo "test-slurm:   exit $(cat "$work/kill.rc") within ${took} s: $(grep -m1 -i 'killed' "$work/kill.log" || true)"

echo "test-slurm: scancel stops the job at one step, saved, and srun resumes it"
start cancel
scancel -n "test-slurm-$$-cancel"
ended cancel 30
log="$(cat "$work/cancel.log")"
[ "$(cat "$work/cancel.rc")" != 0 ] || fail "the cancelled job ended 0: $log"
once "$log" "interrupted: saving a checkpoint after this step (SIGTERM"
at=$(sed -n 's/^interrupted at iteration \([0-9]*\); saved .*(continue with: srun --mpi=pmix -n 2 .*/\1/p' <<<"$log")
[ -n "$at" ] || fail "the cancelled job did not say where it stopped and how srun continues it: $log"
out=$("${srun[@]}" "$gpt" train --resume "$work/cancel.safetensors" --iters $((at + 2)) --data "$data" \
  --sample-tokens 0 2>&1) || fail "srun could not resume the cancelled job: $out"
once "$out" "resuming $work/cancel.safetensors at iteration $at"
echo "test-slurm: OK"
