# Sourced by ./gpt and bench/run-all.sh: finds an installed TornadoVM and writes the JVM flags that
# run the tornado backend on it. After sourcing:
#   TORNADOVM_HOME  as set; unset, SDKMAN's install (~/.sdkman/candidates/tornadovm/current) when
#                   there is one, exported as its real path (current is a link; Maven's checks want
#                   the real path)
#   tornado_argsrc  TornadoVM's JVM flags for it: its tornado-argfile, or the template a release SDK
#                   ships (its launcher expands it on first use; so does tornado_argfile); empty where
#                   there is no TornadoVM, and then nothing is built or run with the tornado backend
# and `tornado_argfile FILE` writes those flags to FILE, for java to read as @FILE.
tornado_sdkman="${SDKMAN_CANDIDATES_DIR:-${HOME:-/nonexistent}/.sdkman/candidates}/tornadovm/current"
if [ -z "${TORNADOVM_HOME:-}" ] && [ -x "$tornado_sdkman/bin/tornado" ]; then
  export TORNADOVM_HOME="$(cd "$tornado_sdkman" && pwd -P)"
fi
tornado_argsrc=""
if [ -n "${TORNADOVM_HOME:-}" ]; then
  for tornado_f in "$TORNADOVM_HOME/tornado-argfile" "$TORNADOVM_HOME/tornado-argfile.template"; do
    if [ -f "$tornado_f" ]; then tornado_argsrc="$tornado_f"; break; fi
  done
fi

# TornadoVM's own JVM flags (JVMCI, its module path, exports) for where it lies, minus the current
# directory on the module path, where any jar would be loaded as a module; and native access for
# every TornadoVM driver it loads (some SDKs leave one out: the JDK then warns). Written beside FILE
# and renamed, so a java reading FILE meanwhile never sees half of it.
tornado_argfile() {
  local drivers
  drivers="$(grep '^--add-modules ' "$tornado_argsrc" | grep -o 'tornado\.drivers\.[a-z]*' | grep -v common | paste -sd, - || true)"
  sed -e 's#--module-path \.:#--module-path #' -e "s#\${TORNADOVM_HOME}#$TORNADOVM_HOME#g" \
    -e "${drivers:+s#^--enable-native-access=.*#--enable-native-access=$drivers#}" "$tornado_argsrc" > "$1.$$" \
    && mv -f "$1.$$" "$1"
}
