#!/usr/bin/env bash
# ACME benchmark: wharf's built-in ACME client beside certbot, lego and uacme
# (Debian's packages), in one run, each against its own fresh Pebble on loopback.
#
# Scenarios (HTTP-01 for every client, on Pebble's httpPort):
#   a  1 certificate with 1 name
#   b  1 certificate with 100 names
#   c  20 certificates of 1 name each (certbot, lego, uacme: 20 invocations one
#      after the other, which is how those clients work; wharf: 20 certificate
#      blocks in one config, obtained by the one daemon)
# For each client and scenario: a fresh Pebble 2.4.0 + pebble-challtestsrv
# (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0 -- Pebble still reuses ~1 % of authzs,
# PEBBLE_WFE_NONCEREJECT left at its default 5 %), the account made beforehand and
# not timed, then the timed work. Wall time and peak RSS are reported:
#   wharf    time from exec of `wharf serve` until the log holds one "; installed"
#            line per certificate; peak RSS = VmHWM of the wharf process then. Its
#            account comes from an earlier wharf run (one unrelated certificate)
#            on the same Pebble and state folder.
#   certbot  `certbot register` first; then `certonly --standalone`.
#   lego     a first `lego run` for a name Pebble blocks registers and saves the
#            account (lego has no register-only command); then `lego run`.
#   uacme    `uacme new` first; then `uacme issue` with Debian's bundled webroot hook
#            (/usr/share/uacme/uacme.sh) writing into the folder that a separate
#            `python3 -m http.server` serves on httpPort (not counted in uacme's RSS).
#            uacme has no option for a private CA: it runs in its own mount namespace
#            where the system CA bundle is bind-mounted over with Pebble's CA.
# certbot, lego and uacme: wall time of the command(s), peak RSS from
# /usr/bin/time -v ("Maximum resident set size"; max over the invocations).
# Every client makes ECDSA P-256 certificate keys (certbot --key-type ecdsa, uacme
# -t EC, lego and wharf by default).
#
# lego and uacme validate one name at a time. lego sleeps ~5 s per name, so its
# 100-name run would take ~8 minutes: a client run is cut at BENCH_TIMEOUT seconds
# and then reported as ">N", its ratio as a projection from the names validated so
# far. uacme polls at once and sleeps 5 s only while a challenge is still pending
# (with this fast webroot server it seldom is). To keep the whole run under 10
# minutes, lego and uacme run side by side (each with its own Pebble and ports)
# after wharf and certbot have run alone; lego's time is almost all sleeping.
# BENCH_SERIAL=1 runs them one after the other.
#
# usage: bench/acme.sh [--quick]
#   --quick              scenarios a and c only, c with 5 certificates
# environment:
#   WHARF_BIN            wharf binary (default: build/wharf beside this folder)
#   BENCH_CLIENTS=a,b    clients to run (default wharf,certbot,lego,uacme)
#   BENCH_TIMEOUT=S      limit for one client's work in one scenario (default 300)
#   BENCH_REPEAT=N       timed runs of scenario a for every client, and of every
#                        scenario for wharf (default 3): median time, largest peak
#                        reported. Whether a client's first poll finds the challenge
#                        already valid or sleeps is a race, so single runs vary.
#   BENCH_SERIAL=1       run lego and uacme one after the other, not side by side
#   BENCH_TMP=DIR        where the temp folder goes (default /var/tmp)
#   BENCH_KEEP=1         keep the temp folder (logs, configs) at the end
set -uo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LIMIT=${BENCH_TIMEOUT:-300}
REPEAT=${BENCH_REPEAT:-3}
CLIENTS=${BENCH_CLIENTS:-wharf,certbot,lego,uacme}
if ((QUICK)); then
	SCENARIOS=(a c) NCERTS=5
else
	SCENARIOS=(a b c) NCERTS=20
fi
NNAMES=100
EMAIL=a@b.test
DOMAIN=bench.test

want_client() { [[ ",$CLIENTS," == *",$1,"* ]]; }

# ---------------------------------------------------------------- tools
for t in pebble pebble-challtestsrv openssl curl python3 unshare; do
	command -v $t >/dev/null || die "missing tool: $t (pebble: apt-get install pebble)"
done
[[ $(id -u) == 0 ]] || die "run as root (wharf drops to nobody; uacme needs a private mount namespace)"
declare -A MISSING=()
need=()
[[ -x /usr/bin/time ]] || need+=(time)
for c in certbot lego uacme; do
	want_client $c && ! command -v $c >/dev/null && need+=("$c")
done
if ((${#need[@]})); then
	say "installing ${need[*]} ..."
	if ! DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; then
		timeout 120 apt-get update -qq >/dev/null 2>&1
		# one at a time, so a package missing from the registry skips only that client
		for p in "${need[@]}"; do
			DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq "$p" >/dev/null 2>&1 ||
				say "could not install $p"
		done
	fi
	# Debian's certbot package enables a renewal timer; it is not ours to keep.
	command -v systemctl >/dev/null && systemctl disable --now certbot.timer >/dev/null 2>&1
fi
[[ -x /usr/bin/time ]] || die "cannot install GNU time (/usr/bin/time)"
for c in certbot lego uacme; do
	want_client $c && ! command -v $c >/dev/null && MISSING[$c]=1
done
[[ -x $WHARF ]] || die "no wharf binary at $WHARF (build it first)"

# ---------------------------------------------------------------- temp folder, cleanup
T=$(mktemp -d "${BENCH_TMP:-/var/tmp}/wharf-acme-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$T"
mkdir -p "$T/res" "$T/bin"
: >"$T/pids" # every background process this run starts, one pid a line
track() { echo "$1" >>"$T/pids"; }
cleanup() {
	local p
	trap - EXIT INT TERM
	# newest first: runner subshells and watchers stop their own children on TERM
	for p in $(tac "$T/pids" 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.3
	for p in $(tac "$T/pids" 2>/dev/null); do stop_pid "$p"; done
	drop_tmp "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_ports N: N distinct free TCP ports on 127.0.0.1 (also free for UDP, for DNS),
# never one handed out before in this run
free_ports() {
	python3 - "$1" "$T/ports" <<'EOF'
import socket, sys
n, used_file = int(sys.argv[1]), sys.argv[2]
try:
    used = set(open(used_file).read().split())
except FileNotFoundError:
    used = set()
out, held = [], []
for _ in range(200):
    if len(out) == n:
        break
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    held.append(s)
    if str(p) in used:
        continue
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        u.close()
    out.append(p)
with open(used_file, "a") as f:
    f.write("".join("%d\n" % p for p in out))
print(" ".join(map(str, out)))
EOF
}

# A private copy of the binary: a rebuild of build/wharf during the run cannot change
# what is measured, and name-based clean-ups by others cannot stop it mid-run.
cp "$WHARF" "$T/bin/wf-acme-bench" || die "cannot copy $WHARF"
WHARF=$T/bin/wf-acme-bench
chmod 755 "$T/bin"

# The bench names resolve only in Pebble's DNS, so wharf's pre-flight self-check (fetch
# of each name through the system's resolver before ordering; none of the other clients
# has one) is turned off, in builds that have it.
PREFLIGHT=""
"$WHARF" config-reference 2>/dev/null | grep -q preflight_port && PREFLIGHT=" preflight_port = 0;"

# wharf watcher: starts the command, copies its output to LOG, and stops the clock at
# the Nth "; installed" line; prints "OK SECONDS VMHWM_KIB", or "TIMEOUT COUNT SECONDS"
# or "EXIT STATUS COUNT SECONDS"; then stops the process (TERM, KILL after 10 s).
cat >"$T/bin/watch.py" <<'EOF'
import os, select, signal, subprocess, sys, time
log, n, limit, cmd = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
out = open(log, "ab")
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
fd = p.stdout.fileno()
count, buf, result = 0, b"", None
try:
    while result is None:
        left = t0 + limit - time.monotonic()
        if left <= 0:
            result = "TIMEOUT %d %.3f" % (count, time.monotonic() - t0)
            break
        if not select.select([fd], [], [], min(left, 1.0))[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            result = "EXIT %s %d %.3f" % (p.wait(), count, time.monotonic() - t0)
            break
        out.write(chunk)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if b"; installed" in line:
                count += 1
        if count >= n:
            took = time.monotonic() - t0
            hwm = 0
            with open("/proc/%d/status" % p.pid) as f:
                for l in f:
                    if l.startswith("VmHWM:"):
                        hwm = int(l.split()[1])
            result = "OK %.3f %d" % (took, hwm)
finally:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    try:  # what it said while stopping
        while select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out.write(chunk)
    except OSError:
        pass
    out.close()
    if result:
        print(result, flush=True)
EOF

# ---------------------------------------------------------------- Pebble
# One local CA signs the certificate of every Pebble's own HTTPS endpoint.
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$T/ca.key" \
	-out "$T/ca.pem" -days 30 -subj "/CN=wharf ACME bench endpoint CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1 &&
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$T/pebble.key" \
		-out "$T/pebble.csr" -subj /CN=localhost >/dev/null 2>&1 &&
	printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
		extendedKeyUsage=serverAuth subjectAltName=DNS:localhost,IP:127.0.0.1 >"$T/pebble.ext" &&
	openssl x509 -req -in "$T/pebble.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 30 \
		-extfile "$T/pebble.ext" -out "$T/pebble.pem" >/dev/null 2>&1 ||
	die "openssl could not make Pebble's endpoint certificate"
chmod 644 "$T/ca.pem"
# uacme (libcurl-gnutls) trusts only the system bundle: a copy with Pebble's CA added
cat /etc/ssl/certs/ca-certificates.crt "$T/ca.pem" >"$T/system-plus-pebble.pem" 2>/dev/null ||
	cp "$T/ca.pem" "$T/system-plus-pebble.pem"

# start_pebble DIR: a fresh Pebble + challtestsrv with state in DIR; writes DIR/env
# (PORT MGMT DNS CMGMT HTTP TLS DIRURL PEBBLE_PID CHALL_PID). Returns 1 on failure.
start_pebble() {
	local d=$1 port mgmt dns cmgmt http tls i
	mkdir -p "$d"
	chmod 755 "$d"
	read -r port mgmt dns cmgmt http tls <<<"$(free_ports 6)"
	[[ -n $tls ]] || return 1
	cat >"$d/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$port", "managementListenAddress": "127.0.0.1:$mgmt",
 "certificate": "$T/pebble.pem", "privateKey": "$T/pebble.key", "httpPort": $http, "tlsPort": $tls,
 "ocspResponderURL": "", "externalAccountBindingRequired": false, "domainBlocklist": ["blocked.example"]}}
EOF
	pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$dns" -http01 "" \
		-https01 "" -tlsalpn01 "" -management "127.0.0.1:$cmgmt" </dev/null >"$d/challtestsrv.log" 2>&1 &
	local cpid=$!
	track $cpid
	PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 pebble -config "$d/pebble.json" -dnsserver "127.0.0.1:$dns" \
		</dev/null >"$d/pebble.log" 2>&1 &
	local ppid=$!
	track $ppid
	cat >"$d/env" <<EOF
PORT=$port MGMT=$mgmt DNS=$dns CMGMT=$cmgmt HTTP=$http TLS=$tls
DIRURL=https://127.0.0.1:$port/dir PEBBLE_PID=$ppid CHALL_PID=$cpid
EOF
	for ((i = 0; i < 100; i++)); do
		kill -0 $ppid 2>/dev/null && kill -0 $cpid 2>/dev/null || break
		curl -fsS --max-time 2 --cacert "$T/ca.pem" -o /dev/null "https://127.0.0.1:$port/dir" 2>/dev/null &&
			curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$cmgmt/http-request-history" \
				-d '{"host":"x"}' 2>/dev/null && return 0
		sleep 0.1
	done
	say "Pebble in $d did not come up; log tail:"
	tail -5 "$d/pebble.log" "$d/challtestsrv.log" >&2
	return 1
}
stop_pebble() { # stop_pebble DIR
	local PEBBLE_PID="" CHALL_PID=""
	eval "$(cat "$1/env" 2>/dev/null)"
	stop_pid "$PEBBLE_PID"
	stop_pid "$CHALL_PID"
}

# ---------------------------------------------------------------- scenarios
scen_title() {
	case $1 in
	a) echo "1 certificate, 1 name" ;;
	b) echo "1 certificate, $NNAMES names" ;;
	c) echo "$NCERTS certificates, 1 name each" ;;
	esac
}
# scen_certs SCEN [TAG]: one line per certificate: NAME DOMAIN... (TAG makes other names)
scen_certs() {
	local i line t=${2:-}
	case $1 in
	a) echo "one$t one$t.$DOMAIN" ;;
	b)
		line="many$t"
		for ((i = 1; i <= NNAMES; i++)); do line+=" n$i$t.$DOMAIN"; done
		echo "$line"
		;;
	c) for ((i = 1; i <= NCERTS; i++)); do echo "c$i$t c$i$t.$DOMAIN"; done ;;
	esac
}
scen_names() { scen_certs "$1" | awk '{n += NF - 1} END {print n}'; }

# Results: $T/res/CLIENT.SCEN holds "STATUS SECONDS PEAK_KIB [PROJECTED_SECONDS]" where
# STATUS is ok, fail or timeout; notes go to $T/res/CLIENT.SCEN.note.
result() { # result CLIENT SCEN STATUS SECONDS KIB [PROJECTED]
	echo "$3 $4 $5 ${6:-}" >"$T/res/$1.$2"
	say "  [$1/$2] $3: ${4}s, peak ${5} KiB${6:+, projected ${6}s}"
}
cnote() { # cnote CLIENT SCEN TEXT...
	local c=$1 s=$2
	shift 2
	echo "$c, scenario $s: $*" >>"$T/res/$c.$s.note"
	say "  NOTE [$c/$s]: $*"
}
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}'; }
maxrss() { # maxrss TIMEFILE: peak RSS in KiB from /usr/bin/time -v output
	awk -F': ' '/Maximum resident set size/ {print $2}' "$1" 2>/dev/null | tail -1
}
# runbg CMD...: runs CMD in the background, tracked for the clean-up, and waits for it
# (a signal to this script then stops it at once); returns its exit status
runbg() {
	"$@" &
	local p=$!
	track $p
	wait $p
}
# timed LIMIT_S LOG TIMEFILE CMD...: CMD under /usr/bin/time -v, cut after LIMIT_S
# seconds, output appended to LOG; returns its exit status (124 = cut). The inner
# timeout (--foreground: same process group) lets time still write the peak RSS of a
# cut run; the outer one is what the clean-up stops (it signals the whole group).
timed() {
	local lim=$1 log=$2 tf=$3
	shift 3
	echo "=== $(date -u +%T) $*" >>"$log"
	runbg timeout -k 5 $((lim + 30)) /usr/bin/time -v -o "$tf" \
		timeout --foreground -k 5 "$lim" "$@" </dev/null >>"$log" 2>&1
}
# project SECONDS DONE TOTAL: linear projection of the time for TOTAL from DONE
project() { awk -v t="$1" -v d="$2" -v n="$3" 'BEGIN {if (d > 0) printf "%.0f", t * n / d}'; }

# ---------------------------------------------------------------- wharf
write_wharf_conf() { # write_wharf_conf DIR HTTPS_PORT (cert lines on stdin)
	local d=$1 hport=$2 certs="" names="" name doms dom
	while read -r name doms; do
		local list=""
		for dom in $doms; do list+="${list:+, }\"$dom\""; done
		certs+="${certs:+,
}  { name = \"$name\"; domains = [$list]; }"
		names+="${names:+, }\"$name\""
	done
	cat >"$d/wharf.conf" <<EOF
# written by bench/acme.sh
state_dir = "state";
run_user = "nobody";
log = { level = "info"; error_log = "stderr"; access_log = "off"; };
acme = { contact = "$EMAIL"; retry_interval = 1;$PREFLIGHT
  cas = ( { url = "$DIRURL"; ca_bundle = "$T/ca.pem"; } ); };
certificates = (
$certs
);
services = (
  { type = "https"; address = "127.0.0.1"; port = $hport; certificates = [$names]; },
  { type = "acme-http"; address = "127.0.0.1"; port = $HTTP; https_port = $hport; }
);
users = ();
EOF
	timeout 30 "$WHARF" check -c "$d/wharf.conf" >>"$d/wharf.log" 2>&1
}
run_wharf() { # run_wharf SCEN DIR
	local s=$1 d=$2 hport n out st a b c
	hport=$(free_ports 1)
	n=$(scen_certs "$s" | wc -l)
	echo "warmup warmup.$DOMAIN" | write_wharf_conf "$d" "$hport" ||
		{ cnote wharf "$s" "wharf check refused the config: $(tail -3 "$d/wharf.log" | tr '\n' ' ')"; return 1; }
	echo "=== warm-up run: makes the account" >>"$d/wharf.log"
	runbg python3 "$T/bin/watch.py" "$d/wharf.log" 1 60 "$WHARF" serve -c "$d/wharf.conf" >"$d/watch.out"
	out=$(cat "$d/watch.out")
	read -r st a b c <<<"$out"
	if [[ $st != OK ]]; then
		cnote wharf "$s" "warm-up run (account + 1 certificate) did not finish: ${out:-no result}; log: $(grep -v '^===' "$d/wharf.log" | tail -2 | tr '\n' ' ')"
		return 1
	fi
	ls "$d"/state/acme/*/account.key >/dev/null 2>&1 || cnote wharf "$s" "no account.key in the state folder after the warm-up"
	# REPEAT timed runs, each a fresh process for names not seen before (same
	# account and state folder); the median time and the largest peak are reported
	local r runs=() peak=0
	for ((r = 1; r <= REPEAT; r++)); do
		scen_certs "$s" "r$r" | write_wharf_conf "$d" "$hport" ||
			{ cnote wharf "$s" "wharf check refused the config: $(tail -3 "$d/wharf.log" | tr '\n' ' ')"; return 1; }
		echo "=== timed run $r: $n certificate(s)" >>"$d/wharf.log"
		runbg python3 "$T/bin/watch.py" "$d/wharf.log" "$n" "$LIMIT" "$WHARF" serve -c "$d/wharf.conf" >"$d/watch.out"
		out=$(cat "$d/watch.out")
		read -r st a b c <<<"$out"
		[[ $st == OK ]] || break
		runs+=("$a")
		((b > peak)) && peak=$b
	done
	if [[ $st == OK ]]; then
		a=$(printf '%s\n' "${runs[@]}" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
		b=$peak
		((REPEAT > 1)) && cnote wharf "$s" "median of $REPEAT runs: ${runs[*]} s"
	fi
	case $st in
	OK) result wharf "$s" ok "$a" "$b" ;;
	TIMEOUT)
		result wharf "$s" timeout "$b" - "$(project "$b" "$a" "$n")"
		cnote wharf "$s" "only $a of $n certificates installed within $LIMIT s"
		;;
	*)
		result wharf "$s" fail "${c:--}" -
		cnote wharf "$s" "wharf ended before all $n certificates were installed (${out:-no result}); log: $(grep -v '^===' "$d/wharf.log" | tail -2 | tr '\n' ' ')"
		;;
	esac
	local failed
	failed=$(sed -n '/^=== timed run/,$p' "$d/wharf.log" | grep -c 'order failed')
	((failed > 0)) && cnote wharf "$s" "$failed 'order failed' line(s) in the timed runs (retried after retry_interval = 1 s): $(sed -n '/^=== timed run/,$p' "$d/wharf.log" | grep -m1 'order failed')"
	return 0
}

# ---------------------------------------------------------------- certbot, lego, uacme
# Each client has CLIENT_setup DIR (untimed: account, helpers; returns 1 on failure),
# CLIENT_issue DIR LIMIT LOG TIMEFILE NAME DOMAIN... (one timed invocation for one
# certificate), CLIENT_validated LOG (names validated so far, for a cut run's
# projection), CLIENT_cause LOG DIR (why an invocation failed), and may have
# CLIENT_teardown DIR.

# run_seq CLIENT SCEN DIR: the scenario's certificates one invocation after the other,
# the whole repeated REPEAT times for scenario a (new names each time, same account);
# median time and largest peak reported. A failed or cut repetition ends the repeats.
run_seq() {
	local c=$1 s=$2 d=$3 reps=1 rep n total t0 rc left name doms k fails first pk rss secs st=ok v med
	local -a runs=()
	local peak=0
	[[ $s == a ]] && reps=$REPEAT
	n=$(scen_certs "$s" | wc -l)
	total=$(scen_names "$s")
	for ((rep = 1; rep <= reps; rep++)); do
		k=0 fails=0 first="" pk=0
		: >"$d/timed-$rep.log"
		t0=$(now)
		while read -r name doms; do
			left=$(awk -v l="$LIMIT" -v e="$(elapsed "$t0")" 'BEGIN {printf "%d", l - e + 0.999}')
			((left > 0)) || break
			# shellcheck disable=SC2086 # one word per name
			"${c}_issue" "$d" "$left" "$d/timed-$rep.log" "$d/time.$name" "$name" $doms
			rc=$?
			rss=$(maxrss "$d/time.$name")
			((${rss:-0} > pk)) && pk=${rss:-0}
			((rc == 124 || rc == 137)) && break
			if ((rc == 0)); then
				k=$((k + 1))
			else
				fails=$((fails + 1))
				[[ -n $first ]] || first=$("${c}_cause" "$d/timed-$rep.log" "$d")
			fi
		done < <(scen_certs "$s" "r$rep")
		secs=$(elapsed "$t0")
		cat "$d/timed-$rep.log" >>"$d/$c.log"
		((pk > peak)) && peak=$pk
		if ((k + fails < n)); then
			st=timeout
			break
		elif ((fails)); then
			st=fail
			break
		fi
		runs+=("$secs")
	done
	((n > 1)) && cnote "$c" "$s" "$n $c invocations one after the other"
	case $st in
	ok)
		med=$(printf '%s\n' "${runs[@]}" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
		result "$c" "$s" ok "$med" "$peak"
		((reps > 1)) && cnote "$c" "$s" "median of $reps runs: ${runs[*]} s"
		;;
	timeout)
		v=$("${c}_validated" "$d/timed-$rep.log")
		result "$c" "$s" timeout "$secs" "$peak" "$(project "$secs" "$v" "$total")"
		cnote "$c" "$s" "cut at $LIMIT s: $k of $n certificates, ${v:-0} of $total names validated (projection linear in names)"
		;;
	fail)
		result "$c" "$s" fail "$secs" "$peak"
		cnote "$c" "$s" "$fails of $n $c runs failed${runs[*]:+ (in repetition $rep; earlier: ${runs[*]} s)}: $first"
		;;
	esac
	return 0
}
run_certbot() { certbot_setup "$2" && run_seq certbot "$@"; }
run_lego() { lego_setup "$2" && run_seq lego "$@"; }
run_uacme() {
	local rc=0
	uacme_setup "$2" && run_seq uacme "$@" || rc=1
	stop_pid "${UACME_WPID:-}"
	return $rc
}

# certbot: `register` first, then one `certonly --standalone` per certificate
certbot_setup() {
	CB_BASE=(certbot --config-dir "$1/cb/config" --work-dir "$1/cb/work" --logs-dir "$1/cb/logs"
		--non-interactive --agree-tos -m "$EMAIL" --no-eff-email --server "$DIRURL")
	export REQUESTS_CA_BUNDLE=$T/ca.pem
	runbg timeout 120 "${CB_BASE[@]}" register </dev/null >>"$1/certbot.log" 2>&1 && return 0
	cnote certbot "$S" "certbot register failed: $(tail -3 "$1/certbot.log" | tr '\n' ' ')"
	return 1
}
certbot_issue() {
	local d=$1 left=$2 log=$3 tf=$4 name=$5 dom
	local -a args=()
	shift 5
	for dom; do args+=(-d "$dom"); done
	timed "$left" "$log" "$tf" "${CB_BASE[@]}" certonly --standalone --http-01-port "$HTTP" \
		--key-type ecdsa --cert-name "$name" "${args[@]}"
}
certbot_validated() { grep -c 'Successfully received certificate' "$1"; }
certbot_cause() {
	grep -E 'Error|error' "$1" | tail -2 | tr '\n' ' '
	grep -h 'acme.messages.Error' "$2"/cb/logs/letsencrypt.log* 2>/dev/null | tail -1 | sed 's/^/(its log: /; s/$/)/'
}

# lego: a first `lego run` for a name Pebble blocks registers and saves the account
# (lego has no register-only command), then one `lego run` per certificate
lego_setup() {
	LEGO_BASE=(lego --server "$DIRURL" --email "$EMAIL" --accept-tos --http --http.port "127.0.0.1:$HTTP"
		--path "$1/lego")
	export LEGO_CA_CERTIFICATES=$T/ca.pem
	runbg timeout 120 "${LEGO_BASE[@]}" -d blocked.example run </dev/null >>"$1/lego.log" 2>&1
	ls "$1"/lego/accounts/*/"$EMAIL"/account.json >/dev/null 2>&1 ||
		cnote lego "$S" "the account was not saved before the timed run (registration is then timed)"
	return 0
}
lego_issue() {
	local d=$1 left=$2 log=$3 tf=$4 dom
	local -a args=()
	shift 5
	for dom; do args+=(-d "$dom"); done
	timed "$left" "$log" "$tf" "${LEGO_BASE[@]}" "${args[@]}" run
}
lego_validated() { grep -c 'The server validated our request' "$1"; }
lego_cause() { grep -iE 'error|fail' "$1" | tail -2 | tr '\n' ' '; }

# uacme: `new` first, then one `issue` per certificate with Debian's bundled webroot
# hook, whose folder a python3 http.server serves on Pebble's httpPort. uacme trusts
# only the system CA bundle (libcurl's compiled-in path): it runs in its own mount
# namespace, where a bundle with Pebble's CA added is bind-mounted in that place.
uacme_setup() {
	local d=$1 i
	mkdir -p "$d/webroot/.well-known/acme-challenge" "$d/uacme"
	export UACME_CHALLENGE_PATH=$d/webroot/.well-known/acme-challenge
	python3 -m http.server --bind 127.0.0.1 --directory "$d/webroot" "$HTTP" >"$d/http-server.log" 2>&1 &
	UACME_WPID=$!
	track $UACME_WPID
	for ((i = 0; i < 100; i++)); do
		curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$HTTP/" && break
		sleep 0.1
	done
	UACME_BASE=(unshare -m sh -c 'mount --bind "$0" /etc/ssl/certs/ca-certificates.crt && exec "$@"'
		"$T/system-plus-pebble.pem" uacme -y -v -t EC -c "$d/uacme" -a "$DIRURL")
	runbg timeout 120 "${UACME_BASE[@]}" new "$EMAIL" </dev/null >>"$d/uacme.log" 2>&1 && return 0
	cnote uacme "$S" "uacme new failed: $(tail -3 "$d/uacme.log" | tr '\n' ' ')"
	return 1
}
uacme_issue() {
	local d=$1 left=$2 log=$3 tf=$4
	shift 5
	timed "$left" "$log" "$tf" "${UACME_BASE[@]}" -h /usr/share/uacme/uacme.sh issue "$@"
}
uacme_validated() { grep -c 'uacme.sh done http-01' "$1"; }
uacme_cause() { grep -iE 'error|fail|invalid' "$1" | grep -v 'declined' | tail -2 | tr '\n' ' '; }
# ---------------------------------------------------------------- driver
# run_one CLIENT SCEN: a fresh Pebble, the client's run, the Pebble stopped
run_one() {
	# shellcheck disable=SC2034 # set by the eval of DIR/env; some are read by run_CLIENT
	local c=$1 s=$2 S=$2 d=$T/$1-$2 PORT MGMT DNS CMGMT HTTP TLS DIRURL PEBBLE_PID CHALL_PID
	say "[$c] $(scen_title "$s") ..."
	if ! start_pebble "$d"; then
		cnote "$c" "$s" "Pebble did not start"
		return
	fi
	eval "$(cat "$d/env")"
	run_"$c" "$s" "$d" || [[ -e $T/res/$c.$s ]] || result "$c" "$s" fail - -
	local dead=""
	kill -0 "$PEBBLE_PID" 2>/dev/null || dead=1
	stop_pebble "$d"
	[[ -n $dead ]] && cnote "$c" "$s" "Pebble had exited by the end of the run: $(tail -2 "$d/pebble.log" | tr '\n' ' ')"
	# a run cut by the time limit may have left Pebble hung (see pebble.md, deadlock)
	if grep -q '^timeout' "$T/res/$c.$s" 2>/dev/null && [[ $c == wharf ]]; then
		cnote "$c" "$s" "pebble log tail: $(tail -2 "$d/pebble.log" | tr '\n' ' ')"
	fi
}
run_client() { # run_client CLIENT: every scenario
	local s
	for s in "${SCENARIOS[@]}"; do run_one "$1" "$s"; done
}

START=$(date +%s)
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "not installed"; }
{
	echo "# ACME clients against Pebble, HTTP-01 ($( ((QUICK)) && echo quick || echo full) run)"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
		"$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
	echo "wharf:   $("$WHARF" --version 2>&1 | head -1) ($(cd "$HERE/.." && git rev-parse --short HEAD 2>/dev/null)$(cd "$HERE/.." && git diff --quiet HEAD 2>/dev/null || echo '+dirty'))"
	echo "clients: certbot $(ver certbot), lego $(ver lego), uacme $(ver uacme); pebble $(ver pebble)"
} | tee "$T/header.txt"
for c in certbot lego uacme; do
	[[ -n ${MISSING[$c]:-} ]] && say "$c: not installed and not installable from the package registry; skipped"
done

active=()
for c in wharf certbot lego uacme; do
	want_client $c && [[ -z ${MISSING[$c]:-} ]] && active+=("$c")
done
# wharf and certbot alone; lego and uacme (mostly asleep) side by side unless BENCH_SERIAL=1
par=()
for c in "${active[@]}"; do
	if [[ $c == lego || $c == uacme ]] && [[ ${BENCH_SERIAL:-0} != 1 ]]; then
		par+=("$c")
	else
		run_client $c
	fi
done
if ((${#par[@]})); then
	((${#par[@]} > 1)) && say "[${par[*]}] side by side, each with its own Pebbles ..."
	ppids=()
	for c in "${par[@]}"; do
		run_client $c 2>"$T/$c.progress" &
		ppids+=($!)
		track $!
	done
	# each client run is bounded by its own limits; this bounds the lot
	deadline=$(($(date +%s) + ${#SCENARIOS[@]} * (LIMIT + 180)))
	while :; do
		alive=0
		for p in "${ppids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		if (($(date +%s) > deadline)); then
			say "side-by-side runs passed their overall limit; stopping them"
			for p in "${ppids[@]}"; do stop_pid "$p"; done
			break
		fi
		sleep 1
	done
	for p in "${ppids[@]}"; do wait "$p" 2>/dev/null; done
	for c in "${par[@]}"; do cat "$T/$c.progress" >&2; done
fi

# ---------------------------------------------------------------- table
cell_time() { # cell_time CLIENT SCEN: seconds, ">N" (cut), FAIL, or -
	local st secs kib proj
	[[ -e $T/res/$1.$2 ]] || {
		echo -
		return
	}
	read -r st secs kib proj <"$T/res/$1.$2"
	case $st in
	ok) printf '%.2f' "$secs" ;;
	timeout) printf '>%.0f' "$secs" ;;
	*) [[ $secs =~ ^[0-9.]+$ ]] && printf '%.2f*' "$secs" || echo FAIL ;;
	esac
}
cell_mem() {
	local st secs kib proj
	[[ -e $T/res/$1.$2 ]] || {
		echo -
		return
	}
	read -r st secs kib proj <"$T/res/$1.$2"
	[[ $kib =~ ^[0-9]+$ && $kib -gt 0 ]] || {
		echo -
		return
	}
	awk -v k="$kib" -v st="$st" 'BEGIN {printf "%.1f%s", k / 1024, (st == "ok" ? "" : "*")}'
}
ratio_time() { # other/wharf; a cut run's projection is shown as ~N
	local st secs kib proj wst wsecs wkib
	[[ -e $T/res/$1.$2 && -e $T/res/wharf.$2 ]] || {
		echo -
		return
	}
	read -r st secs kib proj <"$T/res/$1.$2"
	read -r wst wsecs wkib _ <"$T/res/wharf.$2"
	[[ $wst == ok ]] || {
		echo -
		return
	}
	case $st in
	ok) awk -v a="$secs" -v b="$wsecs" 'BEGIN {printf "%.1f", a / b}' ;;
	timeout) [[ -n $proj ]] && awk -v a="$proj" -v b="$wsecs" 'BEGIN {printf "~%.0f", a / b}' || echo - ;;
	*) [[ $secs =~ ^[0-9.]+$ ]] && awk -v a="$secs" -v b="$wsecs" 'BEGIN {printf "%.1f*", a / b}' || echo - ;;
	esac
}
ratio_mem() {
	local st secs kib proj wst wsecs wkib
	[[ -e $T/res/$1.$2 && -e $T/res/wharf.$2 ]] || {
		echo -
		return
	}
	read -r st secs kib proj <"$T/res/$1.$2"
	read -r wst wsecs wkib _ <"$T/res/wharf.$2"
	[[ $kib =~ ^[0-9]+$ && $wkib =~ ^[0-9]+$ && $wkib -gt 0 && $kib -gt 0 ]] || {
		echo -
		return
	}
	awk -v a="$kib" -v b="$wkib" 'BEGIN {printf "%.1f", a / b}'
}

others=(certbot lego uacme)
echo
fmt='%-32s %-9s %8s %9s %8s %8s %8s %8s %8s\n'
printf "$fmt" scenario metric wharf certbot lego uacme "cb/wharf" "lego/wh" "uacme/wh"
printf "$fmt" -------- ------ ----- ------- ---- ----- -------- ------- --------
for s in "${SCENARIOS[@]}"; do
	row=()
	for c in wharf "${others[@]}"; do row+=("$(cell_time $c $s)"); done
	for c in "${others[@]}"; do row+=("$(ratio_time $c $s)"); done
	printf "$fmt" "$(scen_title $s)" "time s" "${row[@]}"
	row=()
	for c in wharf "${others[@]}"; do row+=("$(cell_mem $c $s)"); done
	for c in "${others[@]}"; do row+=("$(ratio_mem $c $s)"); done
	printf "$fmt" "" "peak MiB" "${row[@]}"
done
echo
echo "Each client and scenario: a fresh Pebble 2.4.0 (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0: Pebble still" \
	"reuses ~1 % of authzs; 5 % of nonces rejected, its default), an account made before the clock starts," \
	"HTTP-01, ECDSA P-256 certificate keys. wharf${PREFLIGHT:+ (pre-flight self-check off)}: exec of 'wharf serve' to the last '; installed' log line," \
	"peak = VmHWM then; others: wall time of the command(s), peak = max RSS (/usr/bin/time -v) over the invocations."
echo "'>N': cut at the ${LIMIT} s limit; its ratio '~R' uses a projection linear in names validated so far." \
	"'*': some invocation failed (see the notes); on memory also: the run was cut. Ratios are other/wharf (higher = wharf faster or smaller)."
echo "Times are the median of $REPEAT runs for '$(scen_title a)' (wharf: for every scenario; see the notes)," \
	"else one run; peaks are the largest seen."
if [[ " ${par[*]:-} " == *" lego "* && " ${par[*]:-} " == *" uacme "* ]]; then
	echo "lego and uacme ran side by side (each its own Pebble); wharf and certbot ran alone."
fi
echo "uacme's webroot is served by a separate python3 http.server (not counted in its memory)."
notes=$(cat "$T"/res/*.note 2>/dev/null)
for c in certbot lego uacme; do
	[[ -n ${MISSING[$c]:-} ]] && notes+=$'\n'"$c: the package is missing from the registry (or failed to install): skipped"
done
notes=$(sed '/^$/d' <<<"$notes")
if [[ -n $notes ]]; then
	echo
	echo "Notes:"
	sed 's/^/  - /' <<<"$notes"
fi
echo
echo "total time: $(($(date +%s) - START)) s"
