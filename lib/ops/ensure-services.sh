#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis named by DATABASE_URL / REDIS_URL answer, and that the
# database exists. For local hosts it starts them (installing them from the system's packages
# where missing); for remote hosts it only checks. Idempotent: when both run it only checks.
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clinic}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
WAIT_SECONDS="${ENSURE_SERVICES_WAIT:-30}"

log() { echo "ensure-services: $*" >&2; }
die() { log "$*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* yourself"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

urldecode() { local s="${1//+/ }"; printf '%b' "${s//%/\\x}"; }

# parse_url URL DEFAULT_PORT -> sets U_USER U_PASS U_HOST U_PORT U_PATH
parse_url() {
  local rest="${1#*://}" auth userinfo=""
  auth="${rest%%[/?#]*}"
  rest="${rest:${#auth}}"
  rest="${rest%%[?#]*}"
  U_PATH="$(urldecode "${rest#/}")"
  if [[ "$auth" == *@* ]]; then userinfo="${auth%@*}"; auth="${auth##*@}"; fi
  U_USER=""; U_PASS=""
  if [ -n "$userinfo" ]; then
    U_USER="$(urldecode "${userinfo%%:*}")"
    if [[ "$userinfo" == *:* ]]; then U_PASS="$(urldecode "${userinfo#*:}")"; fi
  fi
  if [[ "$auth" == \[* ]]; then # [ipv6]:port
    U_HOST="${auth#[}"; U_HOST="${U_HOST%%]*}"
    U_PORT="${auth##*]}"; U_PORT="${U_PORT#:}"
  else
    U_HOST="${auth%%:*}"
    U_PORT=""
    if [[ "$auth" == *:* ]]; then U_PORT="${auth##*:}"; fi
  fi
  U_HOST="${U_HOST:-127.0.0.1}"
  U_PORT="${U_PORT:-$2}"
}

is_local() { case "$1" in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac; }

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

wait_for() { # wait_for DESCRIPTION CHECK_FN...
  local what="$1" i
  shift
  for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  die "$what did not come up within ${WAIT_SECONDS}s"
}

# ---------------------------------------------------------------- PostgreSQL
parse_url "$DATABASE_URL" 5432
PG_HOST="$U_HOST" PG_PORT="$U_PORT" PG_USER="$U_USER" PG_DB="${U_PATH:-${U_USER:-postgres}}"
if [ -n "$U_PASS" ]; then export PGPASSWORD="$U_PASS"; fi
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"

pg_up() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

# Starts (creating if needed) the local cluster that listens on PG_PORT.
start_postgres() {
  local installed="" created="" ver name hba
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    apt_install postgresql
    installed=1
  fi
  read -r ver name < <(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }') || true
  if [ -z "${name:-}" ]; then
    ver="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    name=main
    if pg_lsclusters -h | awk '$2 == "main" { found = 1 } END { exit !found }'; then name="port$PG_PORT"; fi
    log "creating PostgreSQL cluster $ver/$name on port $PG_PORT"
    as_root pg_createcluster -p "$PG_PORT" "$ver" "$name" >&2
    created=1
  fi
  if [ -n "$installed$created" ]; then
    # A fresh Debian cluster uses scram/peer auth; a local dev server trusts loopback TCP.
    hba="/etc/postgresql/$ver/$name/pg_hba.conf"
    log "trusting 127.0.0.1 and ::1 in $hba"
    as_root sed -i -E \
      -e 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+).*$#\1trust#' \
      "$hba"
    if pg_up; then as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >&2; fi
  fi
  if ! pg_up; then
    log "starting PostgreSQL cluster $ver/$name"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2 || true
  fi
}

if ! pg_up; then
  is_local "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT is unreachable (remote host: not starting it)"
  log "PostgreSQL at $PG_HOST:$PG_PORT is not accepting connections"
  start_postgres
  wait_for "PostgreSQL" pg_up
  log "PostgreSQL is up"
fi

# ---------------------------------------------------------------- Redis
parse_url "$REDIS_URL" 6379
RD_HOST="$U_HOST" RD_PORT="$U_PORT"

redis_up() {
  local reply
  if [[ "$REDIS_URL" == rediss://* ]]; then
    tcp_open "$RD_HOST" "$RD_PORT" # TLS: a plain PING cannot pass, reachability must do
    return
  elif command -v redis-cli >/dev/null; then
    reply="$(timeout 3 redis-cli -h "$RD_HOST" -p "$RD_PORT" ping 2>&1)" || true
  else
    reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && read -r -t 2 l <&3 && echo "$l"' \
      "$RD_HOST" "$RD_PORT" 2>/dev/null)" || true
  fi
  # NOAUTH: the server answers, it just wants a password (the app has it in REDIS_URL).
  [[ "$reply" == *PONG* || "$reply" == *NOAUTH* ]]
}

if ! redis_up; then
  is_local "$RD_HOST" || die "Redis at $RD_HOST:$RD_PORT is unreachable (remote host: not starting it)"
  log "Redis at $RD_HOST:$RD_PORT does not answer PING"
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server
  fi
  if ! redis_up; then
    dir="${TMPDIR:-/tmp}/clinic-redis-$RD_PORT"
    mkdir -p "$dir"
    log "starting redis-server on port $RD_PORT (dir $dir)"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$RD_PORT" --save "" --appendonly no \
      --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
  fi
  wait_for "Redis" redis_up
  log "Redis is up"
fi

# ---------------------------------------------------------------- database
is_local "$PG_HOST" || exit 0 # a managed database is provisioned by its owner

if ! command -v psql >/dev/null; then
  apt_install postgresql-client
fi
psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" ${PG_USER:+-U "$PG_USER"} -d postgres "$@"
}
db_literal="${PG_DB//\'/\'\'}"
db_ident="${PG_DB//\"/\"\"}"
if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_literal'")" ]; then
  log "creating database $PG_DB"
  if ! err="$(psql_admin -c "CREATE DATABASE \"$db_ident\"" 2>&1)"; then
    [[ "$err" == *"already exists"* ]] || die "could not create database $PG_DB: $err"
  fi
fi
