# Sourced by ./gpt, ./mvn25 and .ci/run: exports JAVA_HOME and PATH for a JDK 25 or newer, or exits.
jdk_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
pick=""
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(jdk_major "$JAVA_HOME")" -ge 25 ] 2>/dev/null; then
  pick="$JAVA_HOME"
else
  for d in /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    if [ -x "$d/bin/javac" ] && [ "$(jdk_major "$d")" -ge 25 ] 2>/dev/null; then pick="$d"; break; fi
  done
fi
if [ -z "$pick" ]; then
  echo "error: gpt-jvm needs a JDK 25 or newer; none found in \$JAVA_HOME or /usr/lib/jvm. Install one (e.g. Temurin 25) and set JAVA_HOME." >&2
  exit 1
fi
export JAVA_HOME="$pick"
export PATH="$JAVA_HOME/bin:$PATH"
