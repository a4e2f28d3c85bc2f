#!/usr/bin/env bash
# Builds the benchmarks and runs them all in one JMH run: every kernel forward/backward
# (KernelBenchmark, MatmulBenchmark) at the small and lecture shapes and the whole training step per
# backend (TrainingStepBenchmark), plus the baselines if the jar was built with them (-Pbaselines:
# OpenBLAS sgemm; -Plibtorch: the libtorch step). Writes JMH's JSON and prints the table derived from
# it (JmhReport: score, tokens/s, GFLOP/s, GB/s, ratio to the fastest doing the same work, and what
# each backend ran on).
#   bench/run-all.sh                         # everything, default JMH settings (tens of minutes)
#   bench/run-all.sh -p backend=cpu -p config=small -wi 2 -i 3      # any JMH options narrow it down
#   PROFILES=baselines,libtorch bench/run-all.sh                    # with the baselines
# With TornadoVM installed, found as ./gpt finds it (TORNADOVM_HOME, set by source tornado-env.sh;
# unset, SDKMAN's install), the jar has the tornado backend and JMH's forks get TornadoVM's JVM flags
# (-jvmArgsPrepend @argfile) when the tornado backend runs. The backend parameter is every backend
# of the build (reference, cpu, and tornado where there is TornadoVM) unless -p backend=... names
# some; one the build lacks is an error before anything runs.
# Output: out/jmh.json (OUT=... to change), beside it jmh.devices (each backend's device), and the
# table on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/find-jdk25.sh
source scripts/tornado-jvm.sh
out="${OUT:-$root/out/jmh.json}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")" # the forks write the devices beside it
case "$out" in *.json) devices="${out%.json}.devices" ;; *) devices="$out.devices" ;; esac
backends=reference,cpu profiles="${PROFILES:-}"
if [ -n "$tornado_argsrc" ]; then
  backends=reference,cpu,tornado profiles="${profiles:+$profiles,}tornado"
fi

# a first argument that is not an option is the benchmarks' regex; otherwise all of them
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then which=("$1"); shift; else which=("org.gptjvm.bench.*"); fi
# the backends asked for (-p backend=a,b), each one this build has; a -jvmArgsPrepend of the user's
# goes after TornadoVM's flags (JMH takes a second -jvmArgsPrepend unsplit)
args=() asked="" prepend=""
while [ $# -gt 0 ]; do
  if [ "$1" = -p ] && [ $# -gt 1 ] && [ "${2#backend=}" != "$2" ]; then
    asked="${asked:+$asked,}${2#backend=}"
  fi
  if [ "$1" = -jvmArgsPrepend ] && [ $# -gt 1 ]; then
    prepend="$2"; shift 2; continue
  fi
  args+=("$1"); shift
done
if [ -n "$asked" ]; then
  IFS=, read -ra list <<< "$asked"
  for b in "${list[@]}"; do
    case ",$backends," in
      *",$b,"*) ;;
      *)
        if [ "$b" != tornado ]; then
          echo "bench/run-all.sh: unknown backend '$b' in -p backend=$asked; this build has: ${backends//,/, }" >&2
        elif [ -n "${TORNADOVM_HOME:-}" ]; then
          echo "bench/run-all.sh: -p backend=tornado: $TORNADOVM_HOME is not a TornadoVM SDK (no tornado-argfile): source tornado-env.sh /path/to/sdk (see README.md, section TornadoVM)" >&2
        else
          echo "bench/run-all.sh: -p backend=tornado: no TornadoVM here (TORNADOVM_HOME is unset and SDKMAN has none): install TornadoVM 5.2.0 and source tornado-env.sh (see README.md, section TornadoVM)" >&2
        fi
        exit 2 ;;
    esac
  done
else
  args+=(-p "backend=$backends")
fi

./mvn25 -B -q -pl bench -am package -DskipTests ${profiles:+-P$profiles}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
jar="$tmp/benchmarks.jar"   # a copy: a build running meanwhile cannot swap the jar out
cp bench/target/benchmarks.jar "$jar"
if [ -n "$tornado_argsrc" ] && [[ ",${asked:-$backends}," == *,tornado,* ]]; then
  tornado_argfile "$tmp/tornado-argfile"
  prepend="@$tmp/tornado-argfile${prepend:+ $prepend}"
fi
[ -z "$prepend" ] || args+=(-jvmArgsPrepend "$prepend")
rm -f "$devices"
# the forks inherit this JVM's flags (JMH's default), the devices file's name among them
"$JAVA_HOME/bin/java" "-Dgpt.bench.devices=$devices" -jar "$jar" "${which[@]}" -rf json -rff "$out" \
  "${args[@]}" | grep -v "^WARNING"
"$JAVA_HOME/bin/java" -cp "$jar" org.gptjvm.bench.JmhReport "$out"
