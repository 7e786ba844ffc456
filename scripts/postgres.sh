#!/usr/bin/env bash
# Run a real, throwaway PostgreSQL server for Kallimachos integration tests.
#
#   scripts/postgres.sh install   install Debian packages if no server binaries, initdb if needed
#   scripts/postgres.sh start     install if needed, start, wait, ensure role/db; last stdout line = URL
#   scripts/postgres.sh stop      fast shutdown, waits until the server is gone
#   scripts/postgres.sh status    exit 0 when accepting connections, 3 otherwise
#   scripts/postgres.sh url       print the SQLAlchemy URL
#   scripts/postgres.sh psql ...  admin psql (superuser "postgres") over the unix socket
#
# Environment:
#   KALLIMACHOS_SERVICES_DIR  base dir (default /tmp/kallimachos-services); cluster lives in ./postgres
#   KALLIMACHOS_PG_PORT       TCP port on 127.0.0.1 (default 55432)
#   KALLIMACHOS_PG_OS_USER    non-root OS user that owns/runs the cluster when we are root
#                             (default: postgres if it exists, else kallimachos-pg, created on demand)
#
# It never touches the distro cluster (/etc/postgresql, /var/lib/postgresql) or systemd.
# Progress goes to stderr; stdout carries only the URL (status/url/psql output aside).
set -Eeuo pipefail

SERVICES_DIR="${KALLIMACHOS_SERVICES_DIR:-/tmp/kallimachos-services}"
[[ "$SERVICES_DIR" == /* ]] || SERVICES_DIR="$PWD/$SERVICES_DIR"  # keep it absolute
PG_PORT="${KALLIMACHOS_PG_PORT:-55432}"
PG_DIR="$SERVICES_DIR/postgres"
DATA_DIR="$PG_DIR/data"
SOCK_DIR="$PG_DIR/socket"
LOG_FILE="$PG_DIR/server.log"
LOCK_FILE="$SERVICES_DIR/.postgres.lock"
DB_USER=kallimachos
DB_PASS=kallimachos
DB_NAME=kallimachos
ADMIN_USER=postgres
START_TIMEOUT=60

URL="postgresql+asyncpg://${DB_USER}:${DB_PASS}@127.0.0.1:${PG_PORT}/${DB_NAME}"

log() { echo "postgres.sh: $*" >&2; }

die() {
    echo "postgres.sh: ERROR: $*" >&2
    if [[ -s "$LOG_FILE" ]]; then
        echo "--- last 25 lines of $LOG_FILE ---" >&2
        tail -n 25 "$LOG_FILE" >&2 || true
    fi
    exit 1
}

trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

[[ "$PG_PORT" =~ ^[0-9]+$ ]] && ((PG_PORT > 0 && PG_PORT < 65536)) \
    || die "KALLIMACHOS_PG_PORT must be a TCP port number, got '$PG_PORT'"
# unix socket path (sun_path) is limited to 107 bytes
sock_path="$SOCK_DIR/.s.PGSQL.$PG_PORT"
((${#sock_path} <= 107)) || die "socket path too long (${#sock_path} > 107 bytes): $sock_path; use a shorter KALLIMACHOS_SERVICES_DIR"

# ---------------------------------------------------------------- binaries
BIN_DIR=""

find_bindir() {
    local want_major="${1:-}" d cand=()
    if [[ -n "$want_major" ]]; then
        cand+=("/usr/lib/postgresql/$want_major/bin")
    else
        # highest installed major version first
        local found=()
        for d in /usr/lib/postgresql/*/bin; do [[ -d "$d" ]] && found+=("$d"); done
        if ((${#found[@]})); then
            while IFS= read -r d; do cand+=("$d"); done < <(printf '%s\n' "${found[@]}" | sort -V -r)
        fi
    fi
    for d in "${cand[@]}"; do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
            echo "$d"; return 0
        fi
    done
    if [[ -z "$want_major" ]]; then
        local p
        for p in /usr/local/bin/pg_ctl "$(command -v pg_ctl 2>/dev/null || true)"; do
            [[ -n "$p" && -x "$p" ]] || continue
            d="$(dirname "$(readlink -f "$p")")"
            if [[ -x "$d/initdb" && -x "$d/postgres" ]]; then echo "$d"; return 0; fi
        done
    fi
    return 1
}

as_root() {
    if ((EUID == 0)); then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else die "PostgreSQL server binaries missing and not root (no passwordless sudo) to apt-get install them"
    fi
}

install_packages() {
    command -v apt-get >/dev/null || die "no PostgreSQL server binaries found and no apt-get to install them"
    log "no PostgreSQL server binaries found; installing Debian package 'postgresql' (apt-get)"
    local t0=$SECONDS policy=/usr/sbin/policy-rc.d made_policy=0
    # Keep the package's postinst from starting the distro 'main' cluster (no systemd here;
    # invoke-rc.d would otherwise run /etc/init.d/postgresql and occupy port 5432).
    if [[ ! -e "$policy" ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        made_policy=1
    fi
    local rc=0
    {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql
    } >&2 || rc=$?
    if ((made_policy)); then as_root rm -f "$policy"; fi
    ((rc == 0)) || die "apt-get install postgresql failed (exit $rc)"
    log "installed PostgreSQL packages in $((SECONDS - t0)) s"
}

ensure_binaries() {
    local want=""
    [[ -f "$DATA_DIR/PG_VERSION" ]] && want="$(<"$DATA_DIR/PG_VERSION")"
    if [[ -n "$want" ]]; then
        BIN_DIR="$(find_bindir "$want")" && return 0
        # cluster exists but its major version's binaries are gone: install if none at all
        if ! find_bindir >/dev/null; then install_packages; fi
        BIN_DIR="$(find_bindir "$want")" \
            || die "cluster in $DATA_DIR is PostgreSQL $want but its binaries are not installed; delete $PG_DIR or install postgresql-$want"
        return 0
    fi
    if ! BIN_DIR="$(find_bindir)"; then
        install_packages
        BIN_DIR="$(find_bindir)" || die "apt-get install succeeded but no initdb/pg_ctl/postgres found under /usr/lib/postgresql/*/bin"
    fi
}

# ---------------------------------------------------------------- OS user
OS_USER=""

ensure_os_user() {
    if ((EUID != 0)); then OS_USER="$(id -un)"; return 0; fi
    if [[ -n "${KALLIMACHOS_PG_OS_USER:-}" ]]; then
        OS_USER="$KALLIMACHOS_PG_OS_USER"
    elif getent passwd postgres >/dev/null; then
        OS_USER=postgres
    else
        OS_USER=kallimachos-pg
    fi
    [[ "$OS_USER" != root ]] || die "the cluster must not be run by root (KALLIMACHOS_PG_OS_USER=root)"
    if ! getent passwd "$OS_USER" >/dev/null; then
        log "creating system user $OS_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$OS_USER" || die "could not create system user $OS_USER"
    fi
}

# run a command as the cluster owner, from a cwd it can read; fd 9 (our flock) is closed so
# the daemonised server does not inherit it and keep the lock held for its lifetime
run_pg() {
    if ((EUID == 0)); then (cd / && runuser -u "$OS_USER" -- "$@" 9>&-)
    else (cd / && "$@" 9>&-)
    fi
}

# ---------------------------------------------------------------- directories / cluster
ensure_dirs() {
    mkdir -p "$SERVICES_DIR"
    if ((EUID == 0)); then
        # the cluster owner must be able to traverse into the services dir
        if [[ "$(stat -c %U "$SERVICES_DIR")" == root ]]; then chmod a+rx "$SERVICES_DIR"; fi
        run_pg test -x "$SERVICES_DIR" \
            || die "user $OS_USER cannot traverse $SERVICES_DIR (a parent dir is not world-executable); pick a KALLIMACHOS_SERVICES_DIR under /tmp"
        mkdir -p "$PG_DIR"
        chown "$OS_USER:" "$PG_DIR"
    else
        mkdir -p "$PG_DIR"
    fi
    chmod 755 "$PG_DIR"
    run_pg mkdir -p "$SOCK_DIR"
    # socket dir private to the owner (and root): the local socket trusts the admin user
    run_pg chmod 700 "$SOCK_DIR"
}

write_config() {
    # rewritten on every install/start so that settings and port follow this script
    run_pg tee "$DATA_DIR/kallimachos.conf" >/dev/null <<EOF
# Managed by scripts/postgres.sh - rewritten on every start. Test server: NOT crash-safe.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 200
shared_buffers = 128MB
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    run_pg tee "$DATA_DIR/pg_hba.conf" >/dev/null <<EOF
# Managed by scripts/postgres.sh - rewritten on every start.
# TYPE  DATABASE  USER       ADDRESS        METHOD
local   all       $ADMIN_USER                  trust
local   all       all                       scram-sha-256
host    all       all        127.0.0.1/32   scram-sha-256
EOF
}

ensure_cluster() {
    if [[ -f "$DATA_DIR/PG_VERSION" ]]; then
        write_config
        return 0
    fi
    if [[ -e "$DATA_DIR" ]] && [[ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]]; then
        die "$DATA_DIR exists but is not a PostgreSQL cluster (no PG_VERSION); remove it"
    fi
    log "initdb $DATA_DIR (owner $OS_USER, $("$BIN_DIR/postgres" --version))"
    local t0=$SECONDS
    # trust during initdb only; pg_hba.conf is replaced by write_config right after
    run_pg "$BIN_DIR/initdb" -D "$DATA_DIR" -U "$ADMIN_USER" --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$PG_DIR/initdb.log" 2>&1 \
        || { tail -n 20 "$PG_DIR/initdb.log" >&2; die "initdb failed (full output in $PG_DIR/initdb.log)"; }
    run_pg sh -c "echo \"include_if_exists = 'kallimachos.conf'\" >> '$DATA_DIR/postgresql.conf'"
    write_config
    log "initdb done in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- server state
pg_running() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] || return 1
    local pid=""
    [[ -f "$DATA_DIR/postmaster.pid" ]] && pid="$(head -n1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
    # a postmaster.pid left by a killed server (PID now a zombie not yet reaped, or reused by
    # another process) would fool pg_ctl status and make the new postmaster refuse to start
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/stat ]]; then
        local comm state
        comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
        state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
        if [[ "$comm" != postgres* || "$state" == Z || "$state" == X ]]; then
            log "removing stale $DATA_DIR/postmaster.pid (PID $pid: ${comm:-?}, state ${state:-?})"
            rm -f "$DATA_DIR/postmaster.pid"
            local lf
            for lf in "$SOCK_DIR"/.s.PGSQL.*.lock; do
                [[ -f "$lf" && "$(head -n1 "$lf" 2>/dev/null)" == "$pid" ]] && rm -f "$lf"
            done
            return 1
        fi
    fi
    run_pg "$BIN_DIR/pg_ctl" status -D "$DATA_DIR" >/dev/null 2>&1
}

running_port() { sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true; }

accepting() {
    "$BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -t 2 \
        && run_pg "$BIN_DIR/pg_isready" -q -h "$SOCK_DIR" -p "$PG_PORT" -U "$ADMIN_USER" -d postgres -t 2
}

admin_psql() {
    run_pg "$BIN_DIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PG_PORT" -U "$ADMIN_USER" "$@"
}

ensure_role_db() {
    admin_psql -d postgres >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
  ELSE
    ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
SQL
}

# role can log in over TCP with its password and sees its database
role_ready() {
    PGPASSWORD="$DB_PASS" PGCONNECT_TIMEOUT=3 "$BIN_DIR/psql" -X -q -At -w \
        -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" -c 'SELECT 1' >/dev/null 2>&1
}

# ---------------------------------------------------------------- commands
with_lock() {
    mkdir -p "$SERVICES_DIR"
    exec 9>>"$LOCK_FILE"
    flock -w 120 9 || die "timed out waiting for lock $LOCK_FILE (another postgres.sh running?)"
}

cmd_install() {
    with_lock
    ensure_binaries
    ensure_os_user
    ensure_dirs
    ensure_cluster
    log "ready to start: $("$BIN_DIR/postgres" --version), data $DATA_DIR"
}

cmd_start() {
    with_lock
    local deadline=$((SECONDS + START_TIMEOUT))
    ensure_binaries
    ensure_os_user
    if pg_running; then
        local port; port="$(running_port)"
        [[ "$port" == "$PG_PORT" ]] \
            || die "server for $DATA_DIR is already running on port ${port:-?}, not $PG_PORT; run 'stop' first"
        if accepting && role_ready; then
            echo "$URL"; return 0
        fi
        log "server process exists but is not ready yet; waiting"
    else
        ensure_dirs
        ensure_cluster
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log $LOG_FILE)"
        run_pg "$BIN_DIR/pg_ctl" start -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$START_TIMEOUT" -s >&2 \
            || die "PostgreSQL failed to start on 127.0.0.1:$PG_PORT"
    fi
    until accepting; do
        ((SECONDS < deadline)) || die "PostgreSQL not accepting connections on 127.0.0.1:$PG_PORT after ${START_TIMEOUT}s"
        sleep 0.5
    done
    ensure_role_db || die "could not create role/database $DB_USER/$DB_NAME"
    until role_ready; do
        ((SECONDS < deadline)) || die "role $DB_USER cannot connect to database $DB_NAME on 127.0.0.1:$PG_PORT"
        sleep 0.5
    done
    echo "$URL"
}

cmd_stop() {
    with_lock
    if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then log "no cluster in $DATA_DIR; nothing to stop"; return 0; fi
    ensure_binaries
    ensure_os_user
    if ! pg_running; then log "not running"; return 0; fi
    run_pg "$BIN_DIR/pg_ctl" stop -D "$DATA_DIR" -m fast -w -t 60 -s >&2 \
        || die "pg_ctl stop failed for $DATA_DIR"
    log "stopped"
}

cmd_status() {
    if [[ -f "$DATA_DIR/PG_VERSION" ]] && BIN_DIR="$(find_bindir "$(<"$DATA_DIR/PG_VERSION")")"; then
        ensure_os_user
        if pg_running && accepting; then
            echo "running: 127.0.0.1:$PG_PORT ($("$BIN_DIR/postgres" --version)), data $DATA_DIR"
            return 0
        fi
    fi
    echo "not running (data $DATA_DIR, port $PG_PORT)"
    return 3
}

cmd_psql() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] || die "no cluster in $DATA_DIR; run 'start' first"
    ensure_binaries
    ensure_os_user
    trap - ERR
    run_pg "$BIN_DIR/psql" -X -h "$SOCK_DIR" -p "$PG_PORT" -U "$ADMIN_USER" "$@"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) trap - ERR; cmd_status ;;
    url) echo "$URL" ;;
    psql) shift; cmd_psql "$@" ;;
    *) echo "usage: $0 {install|start|stop|status|url|psql [args]}" >&2; exit 2 ;;
esac
