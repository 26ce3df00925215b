#!/usr/bin/env bash
# Ensure PostgreSQL and Redis are reachable for `stacks` development and tests.
#
#   DATABASE_URL set -> only check that server is reachable (bounded wait), nothing else.
#   REDIS_URL set    -> only check that server is reachable (bounded wait), nothing else.
#   otherwise        -> use 127.0.0.1:5432 / 127.0.0.1:6379: start the local server
#                       if it is installed but stopped; install it with apt-get when
#                       running as root on Debian/Ubuntu; otherwise explain and exit 1.
#
# Idempotent; takes well under a second when both services are already up.
# STACKS_SERVICES_TIMEOUT (seconds, default 30) bounds the wait for readiness.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
TIMEOUT=${STACKS_SERVICES_TIMEOUT:-30}
HBA_LINE='host all all 127.0.0.1/32 trust'

have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
say() { printf '%s\n' "$*"; }
err() { printf '%s\n' "$*" >&2; }

# Run a command with a time limit when coreutils timeout is available.
limit() {
	local secs=$1
	shift
	if have timeout; then timeout "$secs" "$@"; else "$@"; fi
}

# url_hostport URL DEFAULT_PORT -> "host port" (credentials never printed).
url_hostport() {
	local u=$1 def=$2 rest auth host port
	rest=${u#*://}
	auth=${rest%%[/?#]*}
	auth=${auth##*@}
	auth=${auth%%,*}
	if [[ $auth == \[* ]]; then
		host=${auth%%]*}
		host=${host#[}
		port=${auth#*]}
	else
		host=${auth%%:*}
		port=${auth#"$host"}
	fi
	port=${port#:}
	printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$def}"
}

tcp_open() {
	limit 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# ---------------------------------------------------------------- probes

pg_ready() {
	if [[ -n ${DATABASE_URL:-} ]]; then
		if have pg_isready; then
			pg_isready -q -t 2 -d "$DATABASE_URL" >/dev/null 2>&1
		else
			tcp_open $(url_hostport "$DATABASE_URL" 5432)
		fi
	elif have pg_isready; then
		pg_isready -q -t 2 -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1
	else
		tcp_open "$PG_HOST" "$PG_PORT"
	fi
}

# redis-cli 7.0 sends AUTH "" <password> for redis://:password@host, which fails;
# name the default user explicitly, as Redis does for password-only AUTH.
redis_cli_url() {
	local u=$1 scheme rest auth
	scheme=${u%%://*}
	rest=${u#*://}
	auth=${rest%%[/?#]*}
	if [[ $auth == :*@* ]]; then
		u="$scheme://default$rest"
	fi
	printf '%s' "$u"
}

redis_ready() {
	local reply=""
	REDIS_REPLY=""
	if [[ -n ${REDIS_URL:-} ]]; then
		if [[ $REDIS_URL == unix://* ]]; then
			local sock=${REDIS_URL#unix://}
			sock=${sock%%\?*}
			if have redis-cli; then
				reply=$(limit 3 redis-cli -s "$sock" ping 2>/dev/null) || true
				REDIS_REPLY=$reply
				[[ $reply == PONG ]]
			else
				[[ -S $sock ]]
			fi
		elif have redis-cli; then
			reply=$(limit 3 redis-cli -u "$(redis_cli_url "$REDIS_URL")" ping 2>/dev/null) || true
			REDIS_REPLY=$reply
			[[ $reply == PONG ]]
		else
			tcp_open $(url_hostport "$REDIS_URL" 6379)
		fi
	elif have redis-cli; then
		reply=$(limit 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) || true
		REDIS_REPLY=$reply
		[[ $reply == PONG ]]
	else
		tcp_open "$REDIS_HOST" "$REDIS_PORT"
	fi
}

pg_where() {
	if [[ -n ${DATABASE_URL:-} ]]; then
		local hp
		hp=$(url_hostport "$DATABASE_URL" 5432)
		printf '%s:%s (DATABASE_URL)' "${hp% *}" "${hp#* }"
	else
		printf '%s:%s' "$PG_HOST" "$PG_PORT"
	fi
}

redis_where() {
	if [[ -n ${REDIS_URL:-} ]]; then
		if [[ $REDIS_URL == unix://* ]]; then
			printf '%s (REDIS_URL)' "${REDIS_URL%%\?*}"
		else
			local hp
			hp=$(url_hostport "$REDIS_URL" 6379)
			printf '%s:%s (REDIS_URL)' "${hp% *}" "${hp#* }"
		fi
	else
		printf '%s:%s' "$REDIS_HOST" "$REDIS_PORT"
	fi
}

# ---------------------------------------------------------------- local postgres

# Finds the local Debian cluster listening on $PG_PORT: sets PG_FOUND="version name".
# Clusters on other ports are listed in PG_OTHER (for the error message).
pg_cluster() {
	local ver name port conf
	PG_FOUND="" PG_OTHER=""
	if have pg_lsclusters; then
		while read -r ver name port _; do
			[[ -n $ver ]] || continue
			if [[ $port == "$PG_PORT" ]]; then
				PG_FOUND="$ver $name"
				return 0
			fi
			PG_OTHER+="${PG_OTHER:+, }$ver/$name on port $port"
		done < <(pg_lsclusters -h 2>/dev/null)
		return 1
	fi
	for conf in /etc/postgresql/*/*/postgresql.conf; do
		[[ -f $conf ]] || continue
		port=$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$conf" | tail -n 1)
		conf=${conf#/etc/postgresql/}
		ver=${conf%%/*}
		name=${conf#*/}
		name=${name%%/*}
		if [[ ${port:-5432} == "$PG_PORT" ]]; then
			PG_FOUND="$ver $name"
			return 0
		fi
		PG_OTHER+="${PG_OTHER:+, }$ver/$name on port ${port:-5432}"
	done
	return 1
}

# Newest installed server binary version without a cluster (e.g. /usr/lib/postgresql/15).
pg_server_version() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -rV); do
		d=${d#/usr/lib/postgresql/}
		printf '%s\n' "${d%%/*}"
		return 0
	done
	return 1
}

pg_installed() { pg_cluster || [[ -n $PG_OTHER ]] || pg_server_version >/dev/null; }

pg_start() {
	local c ver name
	if pg_cluster; then
		c=$PG_FOUND
	elif [[ -n $PG_OTHER ]]; then
		err "postgres: no local cluster on port $PG_PORT (found: $PG_OTHER)."
		err "  Set DATABASE_URL=postgres://postgres@127.0.0.1:PORT/stacks?sslmode=disable for that cluster, or move it to port $PG_PORT."
		return 1
	else
		# Server package present but no cluster: create the default one (root only).
		ver=$(pg_server_version) || return 1
		if ! is_root || ! have pg_createcluster; then
			err "postgres: PostgreSQL $ver is installed but has no cluster; run: sudo pg_createcluster $ver main --start"
			return 1
		fi
		pg_createcluster "$ver" main -p "$PG_PORT" >/dev/null
		PG_ACTIONS+=("created cluster $ver/main")
		c="$ver main"
	fi
	read -r ver name <<<"$c"
	if ! have pg_ctlcluster; then
		err "postgres: cluster $ver/$name is stopped and pg_ctlcluster is missing; start PostgreSQL on $PG_HOST:$PG_PORT or set DATABASE_URL"
		return 1
	fi
	if ! pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >/dev/null 2>&1; then
		# "already running" is fine (e.g. still starting up); anything else is an error.
		if ! pg_ctlcluster "$ver" "$name" status >/dev/null 2>&1; then
			err "postgres: 'pg_ctlcluster --skip-systemctl-redirect $ver $name start' failed$(is_root || printf ' (try with sudo)'); see /var/log/postgresql/postgresql-$ver-$name.log"
			return 1
		fi
	fi
	PG_CLUSTER="$ver $name"
	PG_ACTIONS+=("started cluster $ver/$name")
}

pg_login() {
	have psql || return 0
	PGCONNECT_TIMEOUT=3 psql -w -X -q -At -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
		-c 'select 1' >/dev/null 2>&1
}

# Only called when this script started or installed the local server: if logging
# in as postgres without a password fails, trust 127.0.0.1 in pg_hba.conf (root only).
pg_fix_auth() {
	pg_login && return 0
	local c ver name hba
	c=$PG_CLUSTER
	if [[ -z $c ]] && pg_cluster; then c=$PG_FOUND; fi
	read -r ver name <<<"$c"
	hba=/etc/postgresql/$ver/$name/pg_hba.conf
	if ! is_root || [[ -z $c || ! -w $hba ]]; then
		err "postgres: running, but cannot connect as user postgres on $PG_HOST:$PG_PORT without a password."
		err "  Add '$HBA_LINE' at the top of ${hba:-pg_hba.conf} and reload, or set DATABASE_URL with credentials."
		return 1
	fi
	if ! grep -qxF "$HBA_LINE" "$hba"; then
		local tmp
		tmp=$(mktemp)
		{
			printf '# added by stacks deploy/services.sh (local development only)\n%s\n' "$HBA_LINE"
			cat "$hba"
		} >"$tmp"
		cat "$tmp" >"$hba" # keeps the file's owner and mode
		rm -f "$tmp"
		pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >/dev/null
		say "postgres: changed $hba: added '$HBA_LINE' at the top, reloaded $ver/$name"
	fi
	if ! pg_login; then
		err "postgres: still cannot connect as postgres on $PG_HOST:$PG_PORT after editing $hba"
		return 1
	fi
}

# Create the default database "stacks" if it is missing (local mode only).
pg_ensure_db() {
	have psql || return 0
	local exists
	exists=$(PGCONNECT_TIMEOUT=3 psql -w -X -q -At -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
		-c "select 1 from pg_database where datname = 'stacks'" 2>/dev/null) || {
		PG_NOTES+=("WARNING: cannot log in as postgres without a password; set DATABASE_URL")
		return 0
	}
	if [[ $exists != 1 ]]; then
		# Tolerate a concurrent run creating it first.
		if PGCONNECT_TIMEOUT=3 psql -w -X -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
			-c 'create database stacks' >/dev/null 2>&1; then
			PG_ACTIONS+=("created database stacks")
		fi
	fi
}

# ---------------------------------------------------------------- local redis

redis_start() {
	local dir=/var/lib/redis logdir=/var/log/redis
	mkdir -p "$dir" 2>/dev/null || true
	mkdir -p "$logdir" 2>/dev/null || true
	[[ -d $dir && -w $dir ]] || dir=/tmp
	[[ -d $logdir && -w $logdir ]] || logdir=/tmp
	REDIS_LOG=$logdir/stacks.log
	[[ $logdir == /tmp ]] && REDIS_LOG=/tmp/stacks-redis.log
	if ! redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
		--save "" --appendonly no --dir "$dir" --logfile "$REDIS_LOG" >/dev/null 2>&1; then
		err "redis: redis-server failed to start; see $REDIS_LOG"
		return 1
	fi
}

# ---------------------------------------------------------------- main

PG_ACTIONS=() # what this run did to postgres, printed before "reachable at"
PG_NOTES=()   # warnings, printed after
REDIS_ACTIONS=()
PG_CLUSTER=""
PG_FOUND=""
PG_OTHER=""
REDIS_LOG=""
REDIS_REPLY=""

join() {
	local out="" x
	for x in "$@"; do out+=${out:+, }$x; done
	printf '%s' "$out"
}

report() {
	local a n
	a=$(join ${PG_ACTIONS[@]+"${PG_ACTIONS[@]}"})
	n=$(join ${PG_NOTES[@]+"${PG_NOTES[@]}"})
	say "postgres: ${a:+$a, }reachable at $(pg_where)${n:+ ($n)}"
	a=$(join ${REDIS_ACTIONS[@]+"${REDIS_ACTIONS[@]}"})
	say "redis: ${a:+$a, }reachable at $(redis_where)"
}

pg_up=0
redis_up=0
pg_managed=0
pg_ready && pg_up=1
redis_ready && redis_up=1

# Fast path: both already up (local default database is still checked for existence).
if ((pg_up && redis_up)); then
	[[ -n ${DATABASE_URL:-} ]] || pg_ensure_db
	report
	exit 0
fi

# Install missing local servers (root + apt-get only), in a single apt run.
missing=()
if ((!pg_up)) && [[ -z ${DATABASE_URL:-} ]] && ! pg_installed; then missing+=(postgresql); fi
if ((!redis_up)) && [[ -z ${REDIS_URL:-} ]] && ! have redis-server; then missing+=(redis-server); fi
if ((${#missing[@]})); then
	if is_root && have apt-get; then
		say "installing ${missing[*]} with apt-get ..."
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
		for p in "${missing[@]}"; do
			case $p in
			postgresql)
				PG_ACTIONS+=("installed postgresql")
				pg_managed=1
				;;
			redis-server) REDIS_ACTIONS+=("installed redis-server") ;;
			esac
		done
		# A package's postinst may already have started the service.
		((pg_up)) || ! pg_ready || pg_up=1
		((redis_up)) || ! redis_ready || redis_up=1
	else
		err "Missing: ${missing[*]} (and cannot install: $(is_root && echo 'apt-get not found' || echo 'not running as root'))."
		for p in "${missing[@]}"; do
			case $p in
			postgresql)
				err "  PostgreSQL: install it (Debian/Ubuntu: sudo apt-get install postgresql) and start it on $PG_HOST:$PG_PORT"
				err "    with trust auth for user postgres, or set DATABASE_URL=postgres://USER:PASS@HOST:PORT/stacks?sslmode=disable"
				;;
			redis-server)
				err "  Redis: install it (Debian/Ubuntu: sudo apt-get install redis-server) and start it on $REDIS_HOST:$REDIS_PORT,"
				err "    or set REDIS_URL=redis://HOST:PORT/0"
				;;
			esac
		done
		if ! is_root && have apt-get; then
			err "  Or let this script install them: sudo bash deploy/services.sh"
		fi
		exit 1
	fi
fi

# Start stopped local servers.
if ((!pg_up)) && [[ -z ${DATABASE_URL:-} ]]; then
	if ! pg_ready; then
		pg_start || exit 1
		pg_managed=1
	fi
fi
if ((!redis_up)) && [[ -z ${REDIS_URL:-} ]]; then
	if ! redis_ready; then
		if ! have redis-server; then
			err "redis: redis-server not found; install Redis or set REDIS_URL"
			exit 1
		fi
		redis_start || exit 1
		REDIS_ACTIONS+=("started")
	fi
fi

# Bounded wait until both accept connections.
now() { # milliseconds; whole-second resolution on bash < 5
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		local t=${EPOCHREALTIME/[.,]/}
		printf '%s' "${t%???}"
	else
		printf '%s' "$((SECONDS * 1000))"
	fi
}
deadline=$(($(now) + TIMEOUT * 1000))
while ((!pg_up || !redis_up)); do
	((pg_up)) || ! pg_ready || pg_up=1
	((redis_up)) || ! redis_ready || redis_up=1
	((pg_up && redis_up)) && break
	if (($(now) >= deadline)); then
		if ((!pg_up)); then
			err "postgres: not reachable at $(pg_where) after ${TIMEOUT}s"
			if [[ -n ${DATABASE_URL:-} ]]; then
				err "  start that server, fix DATABASE_URL, or unset DATABASE_URL to use a local server on $PG_HOST:$PG_PORT"
			else
				err "  see /var/log/postgresql/ for the server log"
			fi
		fi
		if ((!redis_up)); then
			err "redis: not reachable at $(redis_where) after ${TIMEOUT}s${REDIS_REPLY:+ (PING replied: $REDIS_REPLY)}"
			if [[ -n ${REDIS_URL:-} ]]; then
				err "  start that server, fix REDIS_URL, or unset REDIS_URL to use a local server on $REDIS_HOST:$REDIS_PORT"
			elif [[ -n $REDIS_LOG && -r $REDIS_LOG ]]; then
				err "  last lines of $REDIS_LOG:"
				tail -n 5 "$REDIS_LOG" | sed 's/^/    /' >&2
			fi
		fi
		exit 1
	fi
	sleep 0.2
done

if [[ -z ${DATABASE_URL:-} ]]; then
	if ((pg_managed)); then
		pg_fix_auth || exit 1
	fi
	pg_ensure_db
fi

report
