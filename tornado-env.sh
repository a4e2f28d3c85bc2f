# Source this to use an installed TornadoVM with gpt-jvm:  source tornado-env.sh [/path/to/tornadovm-sdk]
#
# It finds the TornadoVM SDK (the folder holding bin/tornado and tornado-argfile or its template: the argument, else
# $TORNADOVM_HOME, else SDKMAN's install, ~/.sdkman/candidates/tornadovm/current, else a few usual
# places), checks the launcher, a JDK 25 and at least one device, and exports TORNADOVM_HOME,
# JAVA_HOME and PATH. On a problem it says in one line what is missing and how to get it, and
# returns non-zero. TornadoVM is not in Maven Central: install its released 5.2.0 jdk25 SDK (from
# https://github.com/beehive-lab/TornadoVM/releases, or `sdk install tornadovm` with SDKMAN); gpt-jvm
# only points at it.
_gpt_tornado_env() {
  local here sdk cand devices n jdk
  here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
  sdk="${1:-${TORNADOVM_HOME:-}}"
  if [ -z "$sdk" ]; then
    for cand in "${SDKMAN_CANDIDATES_DIR:-$HOME/.sdkman/candidates}"/tornadovm/current "$HOME"/tornadovm*/ \
        /opt/tornadovm* /usr/local/tornadovm*; do
      if [ -x "$cand/bin/tornado" ]; then sdk="$cand"; break; fi
    done
  fi
  if [ -z "$sdk" ]; then
    echo "tornado-env.sh: no TornadoVM found: install its 5.2.0 jdk25 SDK (a release archive, or sdk install tornadovm) and run: source tornado-env.sh /path/to/sdk" >&2
    return 1
  fi
  if [ ! -x "$sdk/bin/tornado" ] || { [ ! -f "$sdk/tornado-argfile" ] && [ ! -f "$sdk/tornado-argfile.template" ]; }; then
    echo "tornado-env.sh: $sdk is not a TornadoVM SDK (no bin/tornado or tornado-argfile): point at the folder that holds them" >&2
    return 1
  fi
  if ! ls "$sdk"/share/java/tornado/tornado-api-*.jar >/dev/null 2>&1; then
    echo "tornado-env.sh: $sdk has no share/java/tornado/tornado-api-*.jar: the SDK is incomplete, reinstall it" >&2
    return 1
  fi
  # the JDK 25 that gpt-jvm builds with is the one TornadoVM's launcher must run on
  if ! jdk="$(source "$here/scripts/find-jdk25.sh" 2>/dev/null && echo "$JAVA_HOME")"; then
    echo "tornado-env.sh: no JDK 25 found: install one (e.g. Temurin 25) and set JAVA_HOME" >&2
    return 1
  fi
  export JAVA_HOME="$jdk"
  export TORNADOVM_HOME="$(cd "$sdk" && pwd -P)" # the real path: SDKMAN's current is a link
  export TORNADO_SDK="$TORNADOVM_HOME"
  case ":$PATH:" in *":$TORNADOVM_HOME/bin:"*) ;; *) export PATH="$TORNADOVM_HOME/bin:$JAVA_HOME/bin:$PATH" ;; esac
  # from an empty folder: TornadoVM's launcher puts the current directory on the module path
  n="$(mktemp -d)"
  devices="$(cd "$n" && "$TORNADOVM_HOME/bin/tornado" --devices 2>&1)"
  rmdir "$n"
  # TornadoVM's launcher writes tornado-argfile from its template (a release SDK ships the template)
  if [ ! -f "$TORNADOVM_HOME/tornado-argfile" ]; then
    echo "tornado-env.sh: $TORNADOVM_HOME has no tornado-argfile after running its launcher: reinstall the SDK" >&2
    return 1
  fi
  n="$(printf '%s\n' "$devices" | grep -c 'Tornado device=')"
  if [ "$n" -lt 1 ]; then
    echo "tornado-env.sh: TornadoVM at $TORNADOVM_HOME sees no device: install a driver (OpenCL on a CPU: apt-get install pocl-opencl-icd ocl-icd-opencl-dev clinfo; check with clinfo -l)" >&2
    return 1
  fi
  echo "tornado-env.sh: TORNADOVM_HOME=$TORNADOVM_HOME, JDK $JAVA_HOME, $n device(s): $(printf '%s\n' "$devices" | grep -A1 'Tornado device=' | grep -v 'Tornado device=' | head -1 | sed 's/\x1b\[[0-9;]*m//g; s/^[[:space:]]*//')"
}
_gpt_tornado_env "$@"
_gpt_tornado_rc=$?
unset -f _gpt_tornado_env
# sourced: leave the shell open; run as a script: exit with the result
(return 0 2>/dev/null) && return $_gpt_tornado_rc || exit $_gpt_tornado_rc
