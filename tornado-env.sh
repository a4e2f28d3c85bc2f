# Source this to use an installed TornadoVM with gpt-jvm:  source tornado-env.sh [/path/to/TornadoVM/sdk]
# It exports TORNADOVM_HOME (the SDK folder that holds bin/tornado) and puts bin/ on PATH.
# TornadoVM is not in Maven Central: build it from its public repository (v5.2.0, JDK 25, OpenCL
# backend) with its own Maven build, then point this script at the SDK it produces.
_sdk="${1:-${TORNADOVM_HOME:-}}"
if [ -z "$_sdk" ] || [ ! -x "$_sdk/bin/tornado" ]; then
  echo "tornado-env.sh: no TornadoVM SDK found; pass its path: source tornado-env.sh /path/to/sdk" >&2
  return 1 2>/dev/null || exit 1
fi
export TORNADOVM_HOME="$(cd "$_sdk" && pwd)"
export TORNADO_SDK="$TORNADOVM_HOME"
export PATH="$TORNADOVM_HOME/bin:$PATH"
echo "TORNADOVM_HOME=$TORNADOVM_HOME"
