#!/usr/bin/env bash
# Install and run a real single-node OpenSearch for integration tests.
#
#   scripts/opensearch.sh install   # idempotent; fast no-op when already installed
#   scripts/opensearch.sh start     # install if needed, start, wait for yellow; last stdout line = URL
#   scripts/opensearch.sh stop      # stop and wait for the process to exit
#   scripts/opensearch.sh status    # exit 0 if healthy (yellow/green), 1 otherwise
#   scripts/opensearch.sh url       # print the URL
#
# Route "A+" (see docs/services-opensearch.md): the official integ-test zip
# (org.opensearch.distribution.integ-test-zip:opensearch:<v>:zip, Maven Central), plus module jars
# (org.opensearch.plugin:*) assembled into modules/<name>/ with generated plugin descriptors,
# started with the official bin/opensearch as a non-root system user.
#
# Environment:
#   KALLIMACHOS_SERVICES_DIR  base dir (default /tmp/kallimachos-services); files go to <it>/opensearch
#   KALLIMACHOS_OS_PORT       HTTP port (default 59200); transport port is HTTP port + 100
#   KALLIMACHOS_OS_JAVA_HOME  JDK for OpenSearch (default /usr/lib/jvm/java-17-openjdk-<arch>)
#   KALLIMACHOS_OS_HEAP       JVM heap (default 512m)
#   KALLIMACHOS_OS_USER       system user that runs the server (default kallimachos-os)
#   KALLIMACHOS_OS_TIMEOUT    seconds to wait for yellow health (default 180)
set -euo pipefail

readonly OS_VERSION="2.19.5"
# <module dir name>:<org.opensearch.plugin artifactId>:<extended.plugins>
readonly OS_MODULES=(
  "lang-painless:lang-painless:"
  "analysis-common:analysis-common:lang-painless"
  "mapper-extras:mapper-extras-client:"
  "parent-join:parent-join-client:"
  "reindex:reindex-client:"
)
readonly INSTALL_REV="1"   # bump when the assembly below changes, to force a re-install
readonly DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

SERVICES_DIR="${KALLIMACHOS_SERVICES_DIR:-/tmp/kallimachos-services}"
case "$SERVICES_DIR" in /*) ;; *) SERVICES_DIR="$PWD/$SERVICES_DIR" ;; esac
BASE="${SERVICES_DIR%/}/opensearch"
OS_HOME="$BASE/opensearch-$OS_VERSION"
DL_DIR="$BASE/dl"
DATA_DIR="$BASE/data"
LOG_DIR="$BASE/logs"
TMP_DIR="$BASE/tmp"
PID_FILE="$BASE/opensearch.pid"      # written by OpenSearch itself (-p): the JVM's pid
PGID_FILE="$BASE/opensearch.pgid"    # written by this script: the launcher's process group
CONSOLE_LOG="$LOG_DIR/console.log"
CLUSTER_NAME="kallimachos-test"
PORT="${KALLIMACHOS_OS_PORT:-59200}"
TRANSPORT_PORT=$((PORT + 100))
HEAP="${KALLIMACHOS_OS_HEAP:-512m}"
OS_USER="${KALLIMACHOS_OS_USER:-kallimachos-os}"
TIMEOUT="${KALLIMACHOS_OS_TIMEOUT:-180}"
URL="http://127.0.0.1:$PORT"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
JAVA_HOME_OS="${KALLIMACHOS_OS_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-$ARCH}"
MARKER="$OS_HOME/.kallimachos-install"
MARKER_TEXT="version=$OS_VERSION rev=$INSTALL_REV user=$OS_USER java=$JAVA_HOME_OS modules=${OS_MODULES[*]}"

log() { echo "opensearch.sh: $*" >&2; }
die() { echo "opensearch.sh: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
apt_install() {  # apt_install pkg...
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get update -qq </dev/null >&2
  fi
  if ! apt-get install -y -qq --no-install-recommends "$@" </dev/null >&2; then
    apt-get update -qq </dev/null >&2
    apt-get install -y -qq --no-install-recommends "$@" </dev/null >&2
  fi
}

ensure_prereqs() {
  local pkgs=()
  command -v curl >/dev/null || pkgs+=(curl ca-certificates)
  command -v unzip >/dev/null || pkgs+=(unzip)
  command -v runuser >/dev/null || pkgs+=(util-linux)
  command -v useradd >/dev/null || pkgs+=(passwd)
  command -v mvn >/dev/null || pkgs+=(maven)
  if [ ! -x "$JAVA_HOME_OS/bin/javap" ]; then
    [ -z "${KALLIMACHOS_OS_JAVA_HOME:-}" ] || die "KALLIMACHOS_OS_JAVA_HOME=$JAVA_HOME_OS has no bin/javap (need a JDK 11-21)"
    pkgs+=(openjdk-17-jdk-headless)
  fi
  if [ "${#pkgs[@]}" -gt 0 ]; then
    log "installing apt packages: ${pkgs[*]}"
    apt_install "${pkgs[@]}"
  fi
  [ -x "$JAVA_HOME_OS/bin/java" ] || die "no java at $JAVA_HOME_OS/bin/java"
}

ensure_user() {
  if ! id -u "$OS_USER" >/dev/null 2>&1; then
    log "creating system user $OS_USER"
    useradd --system --user-group --no-create-home --home-dir "$BASE" \
      --shell /usr/sbin/nologin "$OS_USER"
  fi
}

# ---------------------------------------------------------------- install
# quiet, non-interactive maven; output to stderr minus the bare ANSI resets Debian's mvn prints
mvn_q() { mvn -B -q -Dstyle.color=never "$@" </dev/null 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g' >&2; }

# plugin_class JAR -> fully qualified class that extends org.opensearch.plugins.Plugin
plugin_class() {
  local jar="$1" cands
  cands=$(unzip -Z1 "$jar" | grep -E '^org/opensearch/[^$]*Plugin\.class$' | sed 's/\.class$//; s#/#.#g' || true)
  [ -n "$cands" ] || return 1
  # shellcheck disable=SC2086
  "$JAVA_HOME_OS/bin/javap" -cp "$jar" $cands 2>/dev/null \
    | sed -n 's/^.*class \([A-Za-z0-9_.]*\) extends org\.opensearch\.plugins\.Plugin\b.*$/\1/p' | head -n1
}

jar_base() { basename "$1" | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$//'; }

# assemble_module STAGE NAME ARTIFACT EXTENDS
assemble_module() {
  local stage="$1" name="$2" artifact="$3" extends="$4"
  local dir="$stage/modules/$name" pom="$stage/.poms/$name.pom" main cls j b
  mkdir -p "$dir" "$stage/.poms"
  cat >"$pom" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kallimachos.services</groupId><artifactId>os-module-$name</artifactId><version>1</version>
  <dependencies><dependency>
    <groupId>org.opensearch.plugin</groupId><artifactId>$artifact</artifactId><version>$OS_VERSION</version>
    <exclusions><exclusion><groupId>org.opensearch</groupId><artifactId>opensearch</artifactId></exclusion></exclusions>
  </dependency></dependencies>
</project>
EOF
  mvn_q -f "$pom" "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$dir" \
    || die "maven could not fetch org.opensearch.plugin:$artifact:$OS_VERSION"
  # Avoid jar hell: drop jars the server (lib/) or the extended module already has.
  for j in "$dir"/*.jar; do
    b=$(jar_base "$j")
    if compgen -G "$stage/lib/$b-[0-9]*.jar" >/dev/null \
       || { [ -n "$extends" ] && compgen -G "$stage/modules/$extends/$b-[0-9]*.jar" >/dev/null; }; then
      rm -f "$j"
    fi
  done
  main="$dir/$artifact-$OS_VERSION.jar"
  [ -f "$main" ] || die "module $name: $main missing after download"
  cls=$(plugin_class "$main") || true
  [ -n "$cls" ] || die "module $name: no Plugin class found in $main"
  cat >"$dir/plugin-descriptor.properties" <<EOF
# generated by scripts/opensearch.sh from org.opensearch.plugin:$artifact:$OS_VERSION
description=$name module (assembled from Maven Central jars)
version=$OS_VERSION
name=$name
classname=$cls
java.version=11
opensearch.version=$OS_VERSION
custom.foldername=
extended.plugins=$extends
has.native.controller=false
EOF
  case "$name" in
    lang-painless) cat >"$dir/plugin-security.policy" <<'EOF'
grant {
  // needed to generate runtime classes
  permission java.lang.RuntimePermission "createClassLoader";
  // needed to find the classloader to load whitelisted classes from
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF
    ;;
    reindex) cat >"$dir/plugin-security.policy" <<'EOF'
grant {
  // reindex opens socket connections using the rest client
  permission java.net.SocketPermission "*", "connect";
};
grant codeBase "${codebase.opensearch-rest-client}" {
  permission java.net.NetPermission "getProxySelector";
};
grant codeBase "${codebase.httpasyncclient}" {
  permission java.net.NetPermission "getProxySelector";
};
EOF
    ;;
  esac
}

is_installed() { [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$MARKER_TEXT" ] && id -u "$OS_USER" >/dev/null 2>&1; }

cmd_install() {
  if is_installed; then return 0; fi
  [ "$(id -u)" = 0 ] || die "install must run as root (it creates user $OS_USER)"
  local t0=$SECONDS zip stage entry name artifact extends
  ensure_prereqs
  ensure_user
  mkdir -p "$SERVICES_DIR" "$BASE" "$DL_DIR"
  chmod 755 "$SERVICES_DIR" "$BASE" 2>/dev/null || true

  zip="$DL_DIR/opensearch-$OS_VERSION.zip"
  if [ ! -s "$zip" ]; then
    log "downloading org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip (Maven Central)"
    mvn_q "$DEP_PLUGIN:copy" \
      -Dartifact="org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip" \
      -DoutputDirectory="$DL_DIR" || die "maven could not fetch the OpenSearch $OS_VERSION integ-test zip"
  fi

  stage="$BASE/.stage.$$"
  rm -rf "$BASE"/.stage.* "$BASE"/.unzip.*   # leftovers of an interrupted install (we hold the lock)
  unzip -q "$zip" -d "$BASE/.unzip.$$"
  mv "$BASE/.unzip.$$/opensearch-$OS_VERSION" "$stage"
  rmdir "$BASE/.unzip.$$"
  for entry in "${OS_MODULES[@]}"; do
    IFS=: read -r name artifact extends <<<"$entry"
    log "assembling module $name from org.opensearch.plugin:$artifact:$OS_VERSION"
    assemble_module "$stage" "$name" "$artifact" "$extends"
  done
  rm -rf "$stage/.poms"
  # Heap comes from OPENSEARCH_JAVA_OPTS at start; keep jvm.options consistent with it.
  sed -i -E 's/^-Xms1g$/-Xms512m/; s/^-Xmx1g$/-Xmx512m/' "$stage/config/jvm.options"
  echo "$MARKER_TEXT" >"$stage/.kallimachos-install"

  rm -rf "$OS_HOME"
  mv "$stage" "$OS_HOME"
  mkdir -p "$DATA_DIR" "$LOG_DIR" "$TMP_DIR"
  chown -R "$OS_USER:" "$OS_HOME" "$DATA_DIR" "$LOG_DIR" "$TMP_DIR"
  runuser -u "$OS_USER" -- test -r "$OS_HOME/lib/opensearch-$OS_VERSION.jar" \
    || die "user $OS_USER cannot read $OS_HOME (is a parent of $SERVICES_DIR closed to others?)"
  log "installed OpenSearch $OS_VERSION in $OS_HOME ($((SECONDS - t0)) s)"
}

# ---------------------------------------------------------------- run
is_healthy() {
  local body
  body=$(curl -fsS --max-time 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null) || return 1
  [[ "$body" == *'"status":"yellow"'* || "$body" == *'"status":"green"'* ]]
}

port_answers() { curl -s --max-time 3 -o /dev/null "$URL/" 2>/dev/null; }

# our_pid: print the server pid if the pid file names a live OpenSearch JVM
our_pid() {
  local pid cmd
  [ -f "$PID_FILE" ] || return 1
  pid=$(tr -dc '0-9' <"$PID_FILE")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmd" == *org.opensearch.bootstrap.OpenSearch* ]] || return 1
  echo "$pid"
}

show_log_tail() {  # the console log holds this run's full output (the cluster log appends across runs)
  local f="$CONSOLE_LOG"
  [ -s "$f" ] || f="$LOG_DIR/$CLUSTER_NAME.log"
  if [ -s "$f" ]; then
    echo "---- last lines of $f ----" >&2
    tail -n 40 "$f" >&2
  fi
}

need_root() { [ "$(id -u)" = 0 ] || die "'$1' must run as root (it runs the server as user $OS_USER via runuser)"; }

# Serialise install/start/stop (e.g. parallel test workers all calling start). fd 9 is closed for the server.
take_lock() {
  mkdir -p "$BASE"
  exec 9>"$BASE/.lock"
  flock -w 600 9 || die "timed out waiting for the lock $BASE/.lock"
}

cmd_start() {
  if is_healthy; then echo "$URL"; return 0; fi
  cmd_install
  local t0=$SECONDS launcher="" deadline
  if our_pid >/dev/null || our_pgid >/dev/null; then
    log "an OpenSearch started by this script is already running; waiting for it to become healthy"
  else
    rm -f "$PID_FILE" "$PGID_FILE"
    if port_answers; then
      die "port $PORT is already in use by something that is not this script's OpenSearch"
    fi
    mkdir -p "$DATA_DIR" "$LOG_DIR" "$TMP_DIR"
    chown "$OS_USER:" "$BASE"
    [ "$(stat -c %U "$DATA_DIR")" = "$OS_USER" ] || chown -R "$OS_USER:" "$DATA_DIR" "$LOG_DIR" "$TMP_DIR"
    : >"$CONSOLE_LOG"; chown "$OS_USER:" "$CONSOLE_LOG"
    log "starting OpenSearch $OS_VERSION on $URL (transport $TRANSPORT_PORT, heap $HEAP)"
    # bin/opensearch calls "bin/opensearch-keystore" relative to the cwd, so run from OS_HOME.
    # All fds are redirected so a caller's $(...) or pipe does not wait for the server.
    (
      cd "$OS_HOME"
      # close every inherited fd above 2 (a CI harness may wait for EOF on one of them)
      for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
      done
      exec setsid -w runuser -u "$OS_USER" -- env -i \
        PATH=/usr/local/bin:/usr/bin:/bin HOME="$BASE" LANG=C.UTF-8 \
        OPENSEARCH_JAVA_HOME="$JAVA_HOME_OS" \
        OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" \
        OPENSEARCH_TMPDIR="$TMP_DIR" \
        "$OS_HOME/bin/opensearch" -p "$PID_FILE" \
          -Ecluster.name="$CLUSTER_NAME" \
          -Enode.name=kallimachos-os-1 \
          -Ediscovery.type=single-node \
          -Enetwork.host=127.0.0.1 \
          -Ehttp.port="$PORT" \
          -Etransport.port="$TRANSPORT_PORT" \
          -Epath.data="$DATA_DIR" \
          -Epath.logs="$LOG_DIR" \
          -Ecluster.routing.allocation.disk.threshold_enabled=false
    ) </dev/null >>"$CONSOLE_LOG" 2>&1 9>&- &
    launcher=$!
    echo "$launcher" >"$PGID_FILE"
  fi

  deadline=$((SECONDS + TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if is_healthy; then
      log "OpenSearch is up (yellow or better) after $((SECONDS - t0)) s"
      echo "$URL"
      return 0
    fi
    if { [ -n "$launcher" ] && ! kill -0 "$launcher" 2>/dev/null; } \
       || { [ -z "$launcher" ] && ! our_pid >/dev/null && ! our_pgid >/dev/null; }; then
      show_log_tail
      die "OpenSearch exited during start-up; see the log tail above and $LOG_DIR"
    fi
    sleep 1
  done
  show_log_tail
  cmd_stop >/dev/null 2>&1 || true
  die "OpenSearch did not reach yellow health on $URL within $TIMEOUT s (stopped it); see the log tail above and $LOG_DIR"
}

# pgrp_members PGID: print "pid state" for each process in that process group (bash builtins only)
pgrp_members() {
  local f pid comm st ppid pg rest
  for f in /proc/[0-9]*/stat; do
    read -r pid comm st ppid pg rest 2>/dev/null <"$f" || continue
    [ "$pg" = "$1" ] && echo "$pid $st"
  done
  return 0
}

# our_pgid: print the launcher's process group while it has a live member running from OS_HOME
our_pgid() {
  local pg pid st cmd
  [ -f "$PGID_FILE" ] || return 1
  pg=$(tr -dc '0-9' <"$PGID_FILE")
  [ -n "$pg" ] || return 1
  while read -r pid st; do
    [ "$st" != Z ] || continue
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ "$cmd" == *"$OS_HOME/"* ]]; then echo "$pg"; return 0; fi
  done < <(pgrp_members "$pg")
  return 1
}

# group_alive PGID: true while a non-zombie process is in that process group
group_alive() {
  local pid st
  while read -r pid st; do [ "$st" = Z ] || return 0; done < <(pgrp_members "$1")
  return 1
}

cmd_stop() {
  local pid="" pg="" i
  pid=$(our_pid) || pid=""
  pg=$(our_pgid) || pg=""
  if [ -z "$pid" ] && [ -z "$pg" ]; then
    rm -f "$PID_FILE" "$PGID_FILE"
    if port_answers; then
      die "something answers on $URL but it was not started by this script (no live pid in $PID_FILE); not stopping it"
    fi
    log "not running"
    return 0
  fi
  log "stopping OpenSearch (pid ${pid:-?}, process group ${pg:-?})"
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; else kill -TERM -- "-$pg" 2>/dev/null || true; fi
  for i in $(seq 1 600); do   # up to 60 s
    if { [ -z "$pid" ] || [ ! -d "/proc/$pid" ]; } && { [ -z "$pg" ] || ! group_alive "$pg"; }; then break; fi
    sleep 0.1
  done
  if { [ -n "$pid" ] && [ -d "/proc/$pid" ]; } || { [ -n "$pg" ] && group_alive "$pg"; }; then
    log "still alive after 60 s; sending SIGKILL"
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    [ -z "$pg" ] || kill -KILL -- "-$pg" 2>/dev/null || true
    sleep 1
  fi
  if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then die "could not stop pid $pid"; fi
  rm -f "$PID_FILE" "$PGID_FILE"
  log "stopped"
}

cmd_status() {
  if is_healthy; then
    echo "healthy: $URL"
    return 0
  fi
  echo "not healthy: $URL"
  return 1
}

usage() { echo "usage: $0 {install|start|stop|status|url}" >&2; exit 2; }

case "${1:-}" in
  install) is_installed || { need_root install; take_lock; cmd_install; } ;;
  start) is_healthy && echo "$URL" || { need_root start; take_lock; cmd_start; } ;;
  stop) need_root stop; take_lock; cmd_stop ;;
  status) cmd_status ;;
  url) echo "$URL" ;;
  *) usage ;;
esac
