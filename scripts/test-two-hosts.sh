#!/usr/bin/env bash
# Proves data-parallel gpt train across two hosts as far as one machine can: two network namespaces
# joined by a veth link (10.77.0.1, 10.77.0.2), each with a hostname of its own (node-a, node-b, in
# UTS namespaces), an sshd on node-b. mpirun on node-a reads a hostfile of both, starts node-b's
# process over ssh (Open MPI's orted), and the two processes sum their gradients over TCP on the link.
# Checks: the same losses, bit for bit, and the same checkpoint bytes as mpirun -np 2 on one host;
# SIGKILL to node-b's process ends the job, non-zero, within 30 s, its last checkpoint whole.
# With RATE (tc's units: RATE=10gbit), the link is shaped to that rate (tbf) and the script then times
# the lecture model's gradient all-reduce over it (bench/mpi/compare.sh's Java side).
# Needs root, iproute2, openssh-server, openmpi-bin, jq and ../shared; uses the cpu flavour of gpt.
# Not two machines: one kernel, one disk, one clock; the link is a veth pair.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "test-two-hosts: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
for c in ip unshare ssh ssh-keygen /usr/sbin/sshd mpirun jq; do
  command -v "$c" >/dev/null || fail "needs $c (apt-get install iproute2 openssh-server openmpi-bin jq)"
done
data="$here/../shared/data/tinyshakespeare.txt"
[ -f "$data" ] || fail "no $data"
work="$(mktemp -d /tmp/test-two-hosts.XXXXXX)"
a="gpt-a-$$" b="gpt-b-$$"
cleanup() {
  [ ! -f "$work/sshd.pid" ] || kill "$(cat "$work/sshd.pid")" 2>/dev/null || true
  for ns in "$a" "$b"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# the hosts: a link between two network namespaces
ip netns add "$a"
ip netns add "$b"
ip link add "va$$" type veth peer name "vb$$"
ip link set "va$$" netns "$a"
ip link set "vb$$" netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev "va$$"
ip -n "$b" addr add 10.77.0.2/24 dev "vb$$"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "va$$" up
ip -n "$b" link set "vb$$" up
if [ -n "${RATE:-}" ]; then
  for ns in "$a" "$b"; do
    dev="va$$"; [ "$ns" = "$b" ] && dev="vb$$"
    ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$RATE" burst 4mb latency 50ms
  done
fi

# node-b's sshd, with a key of this test's own
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
cp "$work/key.pub" "$work/authorized_keys"
cat >"$work/sshd_config" <<EOF
ListenAddress 10.77.0.2
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile $work/sshd.pid
EOF
mkdir -p /run/sshd
ip netns exec "$b" unshare --uts sh -c 'hostname node-b && exec /usr/sbin/sshd -f "$1" -E "$2"' sh \
  "$work/sshd_config" "$work/sshd.log"
ssh_args="-i $work/key -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for _ in $(seq 40); do
  out=$(ip netns exec "$a" ssh $ssh_args 10.77.0.2 hostname 2>&1) && break
  sleep 0.25
done
[ "$out" = node-b ] || fail "ssh to node-b: $out $(cat "$work/sshd.log" 2>/dev/null)"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$work/hosts"

gpt="$here/gpt"
export SDKMAN_CANDIDATES_DIR=/nonexistent # the cpu flavour on both hosts, whatever TornadoVM is installed
unset TORNADOVM_HOME
"$gpt" --version >/dev/null # builds the jar once, before any process starts
train=(train --backend cpu --threads 1 --data "$data" --n-layer 2 --n-embd 32 --n-head 2 --block-size 32
  --dropout 0.1 --grad-clip 1.0 --grad-accum 2 --batch-size 4 --eval-iters 2 --log-interval 1 --sample-tokens 0)
# mpirun on node-a: both processes from the hostfile, the remote one over ssh, TCP on the link only
on_a() { ip netns exec "$a" unshare --uts sh -c 'hostname node-a && cd "$1" && shift && exec "$@"' sh "$work" "$@"; }
two_hosts=(mpirun --allow-run-as-root -np 2 --hostfile "$work/hosts" --bind-to none
  --mca plm_rsh_agent ssh --mca plm_rsh_args "$ssh_args" --mca btl tcp,self
  --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 -x SDKMAN_CANDIDATES_DIR)
losses() {
  jq -c 'select(.event == "train" or .event == "eval") | [.event, .iter, .loss, .train_loss, .val_loss]' \
    "${1%.safetensors}.metrics.jsonl"
}

echo "test-two-hosts: mpirun -np 2 on one host, the reference"
out=$(cd "$work" && mpirun --allow-run-as-root -np 2 --bind-to none "$gpt" "${train[@]}" --iters 20 --eval-interval 10 \
  --out "$work/one-host.safetensors" 2>&1) || fail "mpirun on one host: $out"

echo "test-two-hosts: mpirun --hostfile, node-a and node-b"
out=$(on_a "${two_hosts[@]}" --display-map "$gpt" "${train[@]}" --iters 20 --eval-interval 10 \
  --out "$work/two-hosts.safetensors" 2>&1) || fail "mpirun --hostfile: $out"
grep -q 'Data for node: 10.77.0.2' <<<"$out" || grep -q 'node-b' <<<"$out" || fail "no process ran on node-b: $out"
[ "$(losses "$work/one-host.safetensors" | wc -l)" -ge 20 ] || fail "too few losses in the reference"
diff <(losses "$work/one-host.safetensors") <(losses "$work/two-hosts.safetensors") >"$work/diff" \
  || fail "the two hosts' losses differ from one host's: $(head -4 "$work/diff")"
cmp -s "$work/one-host.safetensors" "$work/two-hosts.safetensors" || fail "the two hosts' checkpoint differs from one host's"
echo "test-two-hosts:   the same $(losses "$work/one-host.safetensors" | wc -l) losses and checkpoint bytes"

echo "test-two-hosts: SIGKILL to node-b's process ends the job"
(if on_a "${two_hosts[@]}" "$gpt" "${train[@]}" --iters 1000000 --eval-interval 20 --out "$work/kill.safetensors" \
  >"$work/kill.log" 2>&1; then echo 0; else echo $?; fi >"$work/kill.rc") &
for _ in $(seq 240); do [ -f "$work/kill.safetensors" ] && break; sleep 0.5; done
[ -f "$work/kill.safetensors" ] || fail "no checkpoint after 120 s: $(cat "$work/kill.log")"
victim=""
for p in $(ip netns pids "$b"); do
  grep -q 'kill.safetensors' "/proc/$p/cmdline" 2>/dev/null && [ "$(cat "/proc/$p/comm")" = java ] && victim=$p
done
[ -n "$victim" ] || fail "node-b runs no gpt process"
kill -9 "$victim"
t0=$SECONDS
for _ in $(seq 120); do [ -s "$work/kill.rc" ] && break; sleep 0.25; done
[ -s "$work/kill.rc" ] || fail "the job went on 30 s after node-b's process was killed: $(cat "$work/kill.log")"
[ "$(cat "$work/kill.rc")" != 0 ] || fail "the job ended 0 after a process was killed: $(cat "$work/kill.log")"
"$gpt" eval --checkpoint "$work/kill.safetensors" --data "$data" --eval-iters 1 --backend cpu >/dev/null \
  || fail "the killed job's checkpoint does not load"
echo "test-two-hosts:   exit $(cat "$work/kill.rc") within $((SECONDS - t0)) s: $(grep -m1 -i 'signal 9\|killed' "$work/kill.log" || true)"

if [ -n "${RATE:-}" ]; then
  echo "test-two-hosts: the lecture gradients' all-reduce over a $RATE link (10,788,929 floats, 5 calls after one)"
  cp="$here/bench/target/classes:$here/model/target/classes:$here/engine/target/classes"
  cp="$cp:$(ls ~/.m2/repository/com/google/code/gson/gson/*/gson-*.jar | grep -v sources | tail -1)"
  [ -f "$here/bench/target/classes/org/gptjvm/bench/AllReduceBench.class" ] || fail "no AllReduceBench: ./mvn25 -DskipTests install"
  source "$here/scripts/find-jdk25.sh"
  on_a "${two_hosts[@]}" "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp" \
    org.gptjvm.bench.AllReduceBench 10788929 5 || fail "the all-reduce over the link failed"
fi
echo "test-two-hosts: OK"
