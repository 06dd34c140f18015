#!/usr/bin/env bash
# HTTPS benchmark: wharf beside Debian's nginx, in one run, on loopback.
#
# Both servers get the same ECDSA P-256 certificate, TLS 1.3 only, HTTP/1.1 and
# HTTP/2 (ALPN), 2 workers, access logs off, and run their workers as `nobody`
# (started as root, they bind, read the key, then drop to nobody; the served
# folder belongs to nobody so PUT can write). Prints a table of wharf, nginx and
# wharf/nginx. Compare only inside one run: runs on this machine kind differ by
# up to 25% (see /work/shared/reference/anchors.md).
#
# wharf requires HTTP Basic auth; nginx serves without auth. Every request sends
# the same Authorization header to both (nginx ignores it), so the clients do the
# same work and wharf does more (header decode + cached credential check).
#
# usage: bench/https.sh [--quick]
#   --quick              256 MiB files, 3 s wrk runs, 1000 idle connections, 1 repeat
# environment:
#   WHARF_BIN            wharf binary (default: build/wharf beside this folder)
#   BENCH_ONLY=a,b       run only these sections: download upload rps resumed full memory
#                        (`handshake` means resumed,full)
#   BENCH_SKIP=a,b       skip these sections
#   BENCH_REPEAT=N       transfers per measurement, median reported (default 3; quick 1)
#   BENCH_TMP=DIR        where the temp folder goes (default /var/tmp; same disk as /)
#   BENCH_KEEP=1         keep the temp folder (logs, configs) at the end
set -uo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ((QUICK)); then
	BIG_MIB=256 WRK_SECS=3 IDLE_CONNS=1000 REPEAT=${BENCH_REPEAT:-1} H2_REQS=50000
else
	BIG_MIB=1024 WRK_SECS=10 IDLE_CONNS=5000 REPEAT=${BENCH_REPEAT:-3} H2_REQS=200000
fi
PASSWORD=bench-password
AUTH_B64=$(printf 'bench:%s' "$PASSWORD" | base64 -w0)
AUTH_HDR="Authorization: Basic $AUTH_B64"


# ---------------------------------------------------------------- sections
want() { # want SECTION: is this section selected?
	local s=$1 only=",${BENCH_ONLY:-},"
	only=${only//,handshake,/,resumed,full,}
	local skip=",${BENCH_SKIP:-},"
	skip=${skip//,handshake,/,resumed,full,}
	[[ -n ${BENCH_ONLY:-} && $only != *",$s,"* ]] && return 1
	[[ $skip == *",$s,"* ]] && return 1
	return 0
}

# ---------------------------------------------------------------- tools
need_pkgs=()
command -v nginx >/dev/null || need_pkgs+=(nginx-light)
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v h2load >/dev/null || need_pkgs+=(nghttp2-client)
if ((${#need_pkgs[@]})); then
	apt_install "${need_pkgs[@]}" || die "cannot install ${need_pkgs[*]}"
	# Debian's package starts its own nginx on port 80; it is not ours to keep running.
	command -v systemctl >/dev/null && systemctl disable --now nginx >/dev/null 2>&1
fi
for t in curl openssl python3 nginx wrk h2load; do
	command -v $t >/dev/null || die "missing tool: $t"
done
[[ -x $WHARF ]] || die "no wharf binary at $WHARF (build it first)"
[[ $(id -u) == 0 ]] || die "run as root (both servers bind, read the key, then drop to nobody)"
ulimit -n 20000 || die "cannot raise ulimit -n to 20000"

# ---------------------------------------------------------------- temp folder, cleanup
T=$(mktemp -d "${BENCH_TMP:-/var/tmp}/wharf-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$T"
WPID="" NPID="" IDLEPID=""
cleanup() {
	stop_pid "$IDLEPID"
	stop_pid "$WPID"
	stop_pid "$NPID"
	drop_tmp "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


WPORT=$(free_port)
NPORT=$(free_port)
while [[ $NPORT == "$WPORT" ]]; do NPORT=$(free_port); done

# ---------------------------------------------------------------- files
# A private copy of the binary: a rebuild of build/wharf during the run cannot change
# what is measured, and other sessions' name-based clean-ups (pkill wharf) on a shared
# machine cannot stop it mid-run. Its version is printed in the header.
mkdir -p "$T/bin"
cp "$WHARF" "$T/bin/wf-bench-srv" || die "cannot copy $WHARF"
WHARF=$T/bin/wf-bench-srv
chmod 755 "$T/bin"
mkdir -p "$T/www/up" "$T/wharf/state/certs/main" "$T/nginx/body" "$T/nginx/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || die "openssl could not make the certificate"
# wharf keeps an issued certificate as one file: the key, then the chain.
cat "$T/key.pem" "$T/cert.pem" >"$T/wharf/state/certs/main/issued.pem"
chmod 600 "$T/key.pem" "$T/wharf/state/certs/main/issued.pem"

say "making a ${BIG_MIB} MiB test file ..."
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$T/www/big.bin" || die "cannot write $T/www/big.bin"
head -c 4096 /dev/urandom >"$T/www/4k.bin"
chown -R nobody "$T/www" "$T/wharf"
BIG_BYTES=$(stat -c %s "$T/www/big.bin")

HASH=$(printf '%s\n' "$PASSWORD" | timeout 30 "$WHARF" passwd) || die "wharf passwd failed"

write_wharf_conf() { # write_wharf_conf TICKETS(true|false)
	cat >"$T/wharf/wharf.conf" <<EOF
# benchmark config (written by bench/https.sh)
state_dir = "state";
workers = 2;
run_user = "nobody";
log = { level = "info"; error_log = "stderr"; access_log = "off"; };
# Every client here is 127.0.0.1: the idle connections and wrk's 64 must fit in one client's share.
limits = { idle_timeout = 300; max_requests_per_connection = 100000; max_connections_per_ip = $((IDLE_CONNS + 200)); };
tls = { session_tickets = $1; min_version = "1.3"; };
certificates = ( { name = "main"; domains = ["localhost"]; } );
services = ( { type = "https"; address = "127.0.0.1"; port = $WPORT; certificates = ["main"]; } );
users = ( { name = "bench"; password = "$HASH"; home = "$T/www"; permissions = ["read", "write", "delete"]; } );
EOF
}

write_nginx_conf() { # write_nginx_conf TICKETS(on|off)
	local resumption
	if [[ $1 == on ]]; then
		resumption="ssl_session_tickets on;"
	else
		resumption="ssl_session_tickets off; ssl_session_cache off;"
	fi
	cat >"$T/nginx/nginx.conf" <<EOF
# benchmark config (written by bench/https.sh)
user nobody nogroup;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 12000; }
http {
    access_log off;
    default_type application/octet-stream;
    keepalive_timeout 300;
    keepalive_requests 100000;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/tmp;
    fastcgi_temp_path $T/nginx/tmp;
    uwsgi_temp_path $T/nginx/tmp;
    scgi_temp_path $T/nginx/tmp;
    server {
        listen 127.0.0.1:$NPORT ssl http2;
        server_name localhost;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        ssl_protocols TLSv1.3;
        ssl_prefer_server_ciphers on;
        $resumption
        root $T/www;
        client_max_body_size 0;
        location / { dav_methods PUT; }
    }
}
EOF
}

# ---------------------------------------------------------------- servers
start_wharf() { # start_wharf TICKETS(true|false)
	write_wharf_conf "$1"
	timeout 30 "$WHARF" check -c "$T/wharf/wharf.conf" >>"$T/wharf.log" 2>&1 ||
		{ say "wharf check refused the config:"; tail -5 "$T/wharf.log" >&2; return 1; }
	echo "=== start $(date -u +%T) session_tickets=$1" >>"$T/wharf.log"
	local from=$(($(wc -l <"$T/wharf.log") + 1))
	"$WHARF" serve -c "$T/wharf/wharf.conf" >>"$T/wharf.log" 2>&1 &
	WPID=$!
	local i
	for ((i = 0; i < 150; i++)); do
		tail -n +$from "$T/wharf.log" | grep -q ' ready' && wait_port "$WPORT" && return 0
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	say "wharf did not start; log tail:"
	tail -20 "$T/wharf.log" >&2
	return 1
}
start_nginx() { # start_nginx TICKETS(on|off)
	write_nginx_conf "$1"
	timeout 30 nginx -t -q -c "$T/nginx/nginx.conf" -p "$T/nginx" >>"$T/nginx.log" 2>&1 ||
		{ say "nginx -t refused the config:"; tail -5 "$T/nginx.log" >&2; return 1; }
	nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" -g 'daemon off;' >>"$T/nginx.log" 2>&1 &
	NPID=$!
	wait_port "$NPORT" && return 0
	say "nginx did not start; log tail:"
	tail -20 "$T/nginx.log" "$T/nginx/error.log" >&2
	return 1
}
restart_servers() { # restart_servers on|off: fresh processes of both
	stop_pid "$WPID"
	stop_pid "$NPID"
	WPID="" NPID=""
	local wt=true
	[[ $1 == off ]] && wt=false
	CUR_TICKETS=$1
	start_wharf $wt || note "wharf failed to start (tickets $1)"
	start_nginx "$1" || note "nginx failed to start (tickets $1)"
	sleep 0.5
}
nginx_workers() { pgrep -P "$NPID" 2>/dev/null | tr '\n' ' '; }

url() { # url wharf|nginx PATH
	if [[ $1 == wharf ]]; then echo "https://127.0.0.1:$WPORT$2"; else echo "https://127.0.0.1:$NPORT$2"; fi
}

# ---------------------------------------------------------------- results
declare -A RES UNIT CIPHER
ROWS=()
NOTES=()
WHARF_FAILED=0
record() { # record ROWNAME UNIT SERVER VALUE
	local row=$1
	[[ -n ${UNIT[$row]:-} ]] || ROWS+=("$row")
	UNIT[$row]=$2
	RES[$row/$3]=$4
	say "  $row [$3]: $4 $2"
}
server_alive() { # server_alive wharf|nginx SECTION: notes a server that died, and how
	local pid=$WPID st last
	[[ $1 == nginx ]] && pid=$NPID
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && return 0
	if [[ -n $pid ]]; then
		wait "$pid" 2>/dev/null
		st=$?
		if [[ $1 == wharf ]]; then
			last=$(tail -n 1 "$T/wharf.log")
			note "wharf (pid $pid) exited with status $st during section '$2'; its last log line: $last"
			WPID=""
		else
			note "nginx (pid $pid) exited with status $st during section '$2'"
			NPID=""
		fi
	fi
	[[ $1 == wharf ]] && WHARF_FAILED=1
	return 1
}
ensure_up() { # ensure_up SECTION: restarts a server found dead, so later sections still run
	server_alive wharf "$1" || { start_wharf "$([[ $CUR_TICKETS == on ]] && echo true || echo false)" &&
		note "wharf restarted before section '$1'"; }
	server_alive nginx "$1" || { start_nginx "$CUR_TICKETS" && note "nginx restarted before section '$1'"; }
}

# ---------------------------------------------------------------- 1. downloads
# Runs alternate wharf, nginx, wharf, nginx ... so drift on the shared machine
# (other load, writeback) hits both alike; the median of each is reported.
one_download() { # one_download SERVER PROTO RUN: prints MB/s, or "FAIL why"
	local srv=$1 proto=$2 out code speed size ver rc
	out=$(curl -k -s --http$proto -u "bench:$PASSWORD" --max-time 120 -o /dev/null \
		-w '%{http_code} %{speed_download} %{size_download} %{http_version}' "$(url $srv /big.bin)")
	rc=$?
	read -r code speed size ver <<<"$out"
	if [[ $code == 200 && $size == "$BIG_BYTES" && $ver == "${proto%.1}"* ]]; then
		awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}'
	else
		echo "FAIL $srv download HTTP/$proto run $3 failed: status=$code size=$size/$BIG_BYTES version=$ver (curl exit $rc)"
	fi
}
one_upload() { # one_upload SERVER PROTO RUN: prints MB/s, or "FAIL why"
	local srv=$1 proto=$2 out code speed ver rc got dest="up/put-$1-$2-$3.bin"
	out=$(curl -k -s --http$proto -u "bench:$PASSWORD" --max-time 180 -o /dev/null -T "$T/www/big.bin" \
		-w '%{http_code} %{speed_upload} %{http_version}' "$(url $srv /$dest)")
	rc=$?
	read -r code speed ver <<<"$out"
	got=$(stat -c %s "$T/www/$dest" 2>/dev/null || echo 0)
	if [[ $code == 20[014] && $got == "$BIG_BYTES" ]]; then
		awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}'
	else
		echo "FAIL $srv PUT HTTP/$proto run $3 failed: status=$code stored=$got/$BIG_BYTES version=$ver (curl exit $rc)"
	fi
	rm -f "$T/www/$dest"
	sync # the next run starts with no dirty pages
}
bench_transfers() { # bench_transfers download|upload
	local kind=$1 proto srv i v label
	local -a runs_wharf runs_nginx
	cat "$T/www/big.bin" >/dev/null # page cache
	sync
	for proto in 1.1 2; do
		runs_wharf=() runs_nginx=()
		for ((i = 1; i <= REPEAT; i++)); do
			for srv in wharf nginx; do
				v=$(one_$kind $srv $proto $i)
				if [[ $v =~ ^[0-9]+$ ]]; then
					if [[ $srv == wharf ]]; then runs_wharf+=("$v"); else runs_nginx+=("$v"); fi
				else
					note "${v#FAIL }"
					[[ $srv == wharf ]] && WHARF_FAILED=1
				fi
			done
		done
		label="${BIG_MIB} MiB PUT upload, curl HTTP/$proto"
		[[ $kind == download ]] && label="${BIG_MIB} MiB download, curl HTTP/$proto"
		say "  $kind HTTP/$proto runs (MB/s): wharf ${runs_wharf[*]:-none}; nginx ${runs_nginx[*]:-none}"
		record "$label" "MB/s" wharf "$(median "${runs_wharf[@]}")"
		record "$label" "MB/s" nginx "$(median "${runs_nginx[@]}")"
		server_alive wharf $kind
		server_alive nginx $kind
	done
	rm -f "$T/www/up/"*
}

# ---------------------------------------------------------------- wrk / h2load
# run_wrk SERVER ROWNAME SECTION [extra wrk args]: records requests/s
run_wrk() {
	local srv=$1 row=$2 section=$3
	shift 3
	local out rps errs non2xx
	out=$(timeout $((WRK_SECS + 30)) wrk -t2 -c64 -d${WRK_SECS}s -H "$AUTH_HDR" "$@" "$(url $srv /4k.bin)" 2>&1)
	echo "=== $srv $row" >>"$T/wrk.log"
	echo "$out" >>"$T/wrk.log"
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
	errs=$(grep -m1 'Socket errors:' <<<"$out")
	if [[ -z $rps ]]; then
		note "$srv: wrk ($row) gave no result: $(tail -2 <<<"$out" | tr '\n' ' ')"
		[[ $srv == wharf ]] && WHARF_FAILED=1
		rps=-
	fi
	[[ -n $non2xx ]] && note "$srv: wrk ($row): $non2xx non-2xx responses"
	[[ -n $errs ]] && note "$srv: wrk ($row):$errs"
	record "$row" "req/s" $srv "$rps"
	server_alive $srv "$section"
}

bench_rps() {
	local srv out rps ok total
	for srv in wharf nginx; do
		run_wrk $srv "4 KiB GET, wrk -t2 -c64 -d${WRK_SECS}s, HTTP/1.1 keep-alive" rps
	done
	for srv in wharf nginx; do
		out=$(timeout 180 h2load -t2 -c64 -m10 -n$H2_REQS -H "$AUTH_HDR" "$(url $srv /4k.bin)" 2>&1)
		echo "=== $srv h2load" >>"$T/h2load.log"
		echo "$out" >>"$T/h2load.log"
		rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($i == "req/s,") printf "%.0f", $(i - 1)}' <<<"$out")
		ok=$(awk '/^status codes:/ {print $3}' <<<"$out")
		CIPHER[$srv]=$(awk -F': ' '/^Cipher:/ {print $2; exit}' <<<"$out")
		total=$(awk '/^requests:/ {print $2}' <<<"$out")
		if [[ -z $rps || $ok != "$H2_REQS" ]]; then
			note "$srv: h2load: ${ok:-0} of ${total:-?} requests got 2xx; $(grep -E '^requests:|^status codes:' <<<"$out" | tr '\n' ' ')"
			[[ $srv == wharf ]] && WHARF_FAILED=1
			[[ -z $rps ]] && rps=-
		fi
		record "4 KiB GET, h2load -t2 -c64 -m10 -n$H2_REQS, HTTP/2" "req/s" $srv "$rps"
		server_alive $srv rps
	done
}

# ---------------------------------------------------------------- 4. handshakes
check_resumption() { # check_resumption SERVER EXPECTED(resumed|full)
	local got
	got=$(timeout 30 python3 "$HERE/tls_resume.py" 127.0.0.1 "$(url $1 / | sed 's/.*://; s,/.*,,')" /4k.bin "$AUTH_B64" 2>&1)
	say "  $1 session resumption check: $got (want $2)"
	[[ $got == "$2" ]] || note "$1: expected TLS session resumption '$2' but a Python client saw '$got'"
}
bench_handshakes() { # bench_handshakes resumed|full
	local srv
	for srv in wharf nginx; do
		check_resumption $srv "$1"
		run_wrk $srv "$1 TLS 1.3 handshakes/s, wrk -c64 Connection: close" "$1" -H 'Connection: close'
	done
}

# ---------------------------------------------------------------- 5. idle memory
# mem SERVER: "RSS_KiB PSS_KiB" of wharf's process, or summed over nginx's workers
mem() {
	local pids p rss=0 pss=0 r s
	if [[ $1 == wharf ]]; then pids=$WPID; else pids=$(nginx_workers); fi
	for p in $pids; do
		r=$(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		rss=$((rss + ${r:-0}))
		pss=$((pss + ${s:-0}))
	done
	echo "$rss $pss"
}
bench_memory() {
	local srv i ready line ok rss0 pss0 rss1 pss1 port
	restart_servers on # fresh processes
	for srv in wharf nginx; do
		# warm up each worker a little, so lazily made state is not counted per connection
		for ((i = 0; i < 8; i++)); do
			curl -k -s --http1.1 -u "bench:$PASSWORD" --max-time 10 -o /dev/null "$(url $srv /4k.bin)"
			curl -k -s --http2 -u "bench:$PASSWORD" --max-time 10 -o /dev/null "$(url $srv /4k.bin)"
		done
		sleep 1
		read -r rss0 pss0 <<<"$(mem $srv)"
		port=$(url $srv / | sed 's/.*://; s,/.*,,')
		python3 "$HERE/idle_conns.py" 127.0.0.1 "$port" "$IDLE_CONNS" /4k.bin --auth "$AUTH_B64" \
			--hold 120 --open-timeout 120 >"$T/idle-$srv.out" 2>"$T/idle-$srv.err" &
		IDLEPID=$!
		ready=""
		for ((i = 0; i < 1300; i++)); do # up to 130 s
			line=$(grep -m1 '^READY' "$T/idle-$srv.out" 2>/dev/null) && {
				ready=$line
				break
			}
			kill -0 "$IDLEPID" 2>/dev/null || break
			sleep 0.1
		done
		if [[ -z $ready ]]; then
			note "$srv: idle connection client did not get ready: $(tail -3 "$T/idle-$srv.err" | tr '\n' ' ')"
			stop_pid "$IDLEPID"
			IDLEPID=""
			[[ $srv == wharf ]] && WHARF_FAILED=1
			continue
		fi
		sleep 2
		read -r rss1 pss1 <<<"$(mem $srv)"
		ok=$(sed 's/.*ok=\([0-9]*\).*/\1/' <<<"$ready")
		say "  $srv idle: $ready; RSS $rss0 -> $rss1 KiB, PSS $pss0 -> $pss1 KiB"
		if ((ok != IDLE_CONNS)); then
			note "$srv: only $ok of $IDLE_CONNS idle connections opened ($ready); $(sort "$T/idle-$srv.err" | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
			[[ $srv == wharf ]] && WHARF_FAILED=1
		fi
		if ((ok > 0)); then
			record "RSS per idle TLS connection ($IDLE_CONNS held, H1)" "KiB" $srv \
				"$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN {printf "%.1f", (b - a) / n}')"
			record "PSS per idle TLS connection ($IDLE_CONNS held, H1)" "KiB" $srv \
				"$(awk -v a="$pss0" -v b="$pss1" -v n="$ok" 'BEGIN {printf "%.1f", (b - a) / n}')"
			record "server RSS with $IDLE_CONNS idle connections" "MiB" $srv \
				"$(awk -v b="$rss1" 'BEGIN {printf "%.1f", b / 1024}')"
		fi
		server_alive $srv memory
		stop_pid "$IDLEPID"
		IDLEPID=""
		sleep 1
	done
}

# ---------------------------------------------------------------- run
START=$(date +%s)
{
	echo "# wharf vs nginx, HTTPS benchmark ($( ((QUICK)) && echo quick || echo full) run)"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
		"$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
	echo "wharf:   $("$WHARF" --version 2>&1 | head -1) ($(cd "$HERE/.." && git rev-parse --short HEAD 2>/dev/null)$(cd "$HERE/.." && git diff --quiet HEAD 2>/dev/null || echo '+dirty'))," \
		"GnuTLS $(dpkg-query -W -f '${Version}' libgnutls30 2>/dev/null)"
	echo "nginx:   $(nginx -v 2>&1 | sed 's/.*version: //'), $(openssl version | cut -d' ' -f1-2)"
	echo "clients: curl $(curl --version | awk 'NR==1 {print $2}'), wrk $(dpkg-query -W -f '${Version}' wrk 2>/dev/null)," \
		"h2load (nghttp2 $(dpkg-query -W -f '${Version}' nghttp2-client 2>/dev/null))"
} | tee "$T/header.txt"

restart_servers on
if want download; then
	ensure_up download
	say "[download]"
	bench_transfers download
fi
if want upload; then
	ensure_up upload
	say "[upload]"
	bench_transfers upload
fi
if want rps; then
	ensure_up rps
	say "[rps]"
	bench_rps
fi
if want resumed; then
	ensure_up resumed
	say "[resumed handshakes]"
	bench_handshakes resumed
fi
if want full; then
	say "[full handshakes]"
	restart_servers off
	bench_handshakes full
fi
if want memory; then
	say "[memory]"
	bench_memory
fi
stop_pid "$WPID"
[[ ${LAST_EXIT:-0} == 0 ]] || note "wharf exited with status $LAST_EXIT on SIGTERM at the end"
WPID=""
crash=$(grep -ciE 'abort|assert|segmentation|sanitizer|fatal' "$T/wharf.log")
((crash > 0)) && note "wharf log has $crash line(s) matching abort/assert/segfault/fatal"

# ---------------------------------------------------------------- table
echo
printf '%-58s %-6s %10s %10s %12s\n' "test" "unit" "wharf" "nginx" "wharf/nginx"
printf '%-58s %-6s %10s %10s %12s\n' "----" "----" "-----" "-----" "-----------"
for row in "${ROWS[@]}"; do
	w=${RES[$row/wharf]:--} n=${RES[$row/nginx]:--}
	ratio=$(awk -v w="$w" -v n="$n" 'BEGIN {if (w ~ /^[0-9.]+$/ && n ~ /^[0-9.]+$/ && n > 0) printf "%.2f", w / n; else print "-"}')
	printf '%-58s %-6s %10s %10s %12s\n' "$row" "${UNIT[$row]}" "$w" "$n" "$ratio"
done
echo
echo "Higher is better except for memory rows. Transfers: median of $REPEAT run(s) of ${BIG_MIB} MiB" \
	"(1 MB = 10^6 bytes), file in page cache, output to /dev/null; uploads land in a folder on the same disk."
echo "Both: TLS 1.3 only, same ECDSA P-256 certificate, 2 workers, workers run as nobody, access log off," \
	"HTTP/2 via ALPN. wharf requires Basic auth (checked on every request, credentials cached) and nginx" \
	"serves without auth; the clients send the same Authorization header to both, so wharf does more work."
echo "wharf fsyncs each uploaded file (and its folder) before answering; nginx does not."
echo "Full handshakes: tickets off in wharf, ssl_session_tickets off + ssl_session_cache off in nginx;" \
	"resumed: tickets on in both (wrk resumes when allowed). Memory: fresh servers, $IDLE_CONNS TLS connections" \
	"each after one keep-alive GET, RSS/PSS diff (nginx: sum over its 2 workers; wharf: its one process)."
[[ -n ${CIPHER[wharf]:-}${CIPHER[nginx]:-} ]] &&
	echo "TLS 1.3 cipher chosen for h2load (OpenSSL client): wharf ${CIPHER[wharf]:-?}, nginx ${CIPHER[nginx]:-?} (each server's own preference)."
echo "Client and server share the same $(nproc) CPUs; compare wharf with nginx only inside one run."
if ((${#NOTES[@]})); then
	echo
	echo "Problems seen:"
	for n in "${NOTES[@]}"; do echo "  - $n"; done
fi
if ((WHARF_FAILED)) || ((${#NOTES[@]})); then
	echo
	echo "wharf log tail ($T/wharf.log):"
	tail -n 25 "$T/wharf.log" | sed 's/^/  | /'
fi
echo
echo "total time: $(($(date +%s) - START)) s"
