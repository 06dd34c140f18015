#!/usr/bin/env bash
# FTPS benchmark: wharf beside Debian's vsftpd and Pure-FTPd, in one run, on loopback.
#
# Explicit FTPS (AUTH TLS) on 127.0.0.1, each server on its own free port with
# its own passive port range, all three with the same ECDSA P-256 certificate,
# TLS required for logins and data, one user `ftpbench` (password
# `bench-password`) whose home is the same folder for all three. Rows:
#   - 1 GiB download and upload with curl (TLS 1.3) and with lftp (TLS 1.3);
#   - 200 small files (4 KiB) over one control connection: lftp mget, and
#     Python's ftplib with each data connection resuming the control
#     connection's TLS session, each over TLS 1.3 and TLS 1.2 (ms per file);
#   - memory per idle logged-in session (AUTH TLS, PBSZ, PROT P, USER, PASS),
#     200 held: the server's RSS and PSS, summed over all its processes
#     (vsftpd and Pure-FTPd fork per session), less the figure before, / 200.
# Prints wharf, vsftpd, pure-ftpd and wharf against the better peer ("x best",
# higher is better for wharf on every row; the goal is >= 1.2).
#
# Peers: vsftpd (Debian's, listen=YES, require_ssl_reuse=YES,
# force_local_{logins,data}_ssl=YES, ssl_ciphers=HIGH) logs `ftpbench` in as a
# system user through PAM; Pure-FTPd (`-Y 2`, TLS required, `-l unix`) checks the
# same system user's shadow entry. The script creates that system user (no home
# of its own; its home is pointed at the temp folder, its password set, and
# locked again at the end). wharf gets the same certificate as an issued one
# (`acme = false`, state/certs/bench/issued.pem), the user from `wharf passwd`,
# runs as `ftpbench`, 2 workers, log level warn, access log off, tls min 1.2.
# vsftpd and pure-ftpd conflict in Debian (both provide ftp-server): one is
# installed with apt-get, the other is fetched with `apt-get download` and
# unpacked under /opt/wharf-bench (as packaging/install-deps.sh --bench does).
#
# usage: bench/ftps.sh [--quick]
#   --quick              256 MiB, 50 small files, 100 idle sessions, 1 repeat
# environment:
#   WHARF_BIN            wharf binary (default: build/wharf beside this folder)
#   BENCH_SERVERS=a,b    servers to run (default wharf,vsftpd,pure-ftpd)
#   BENCH_ONLY=a,b       run only these sections: download upload lftp mget ftplib memory
#                        (`curl` means download,upload; `small` means mget,ftplib)
#   BENCH_SKIP=a,b       skip these sections
#   BENCH_REPEAT=N       runs per measurement, median reported (default 5; quick 1)
#   BENCH_FILES=N        small files (default 200; quick 50)
#   BENCH_IDLE=N         idle sessions held (default 200; quick 100)
#   BENCH_TMP=DIR        where the temp folder goes (default /var/tmp; same disk as /)
#   BENCH_KEEP=1         keep the temp folder (logs, configs) at the end
set -uo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ((QUICK)); then
	BIG_MIB=256 REPEAT=${BENCH_REPEAT:-1} NFILES=${BENCH_FILES:-50} IDLE=${BENCH_IDLE:-100}
else
	BIG_MIB=1024 REPEAT=${BENCH_REPEAT:-5} NFILES=${BENCH_FILES:-200} IDLE=${BENCH_IDLE:-200}
fi
SMALL_BYTES=4096
FUSER=ftpbench
PASSWORD=bench-password
PEER_DIR=/opt/wharf-bench
IFS=, read -r -a SERVERS <<<"${BENCH_SERVERS:-wharf,vsftpd,pure-ftpd}"
for s in "${SERVERS[@]}"; do
	[[ $s == wharf || $s == vsftpd || $s == pure-ftpd ]] || die "BENCH_SERVERS: unknown server '$s'"
done
has_srv() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }
PEERS=()
for s in vsftpd pure-ftpd; do has_srv $s && PEERS+=("$s"); done

# ---------------------------------------------------------------- sections
want() { # want SECTION: is this section selected?
	local s=$1 only=",${BENCH_ONLY:-}," skip=",${BENCH_SKIP:-},"
	only=${only//,curl,/,download,upload,}
	only=${only//,small,/,mget,ftplib,}
	skip=${skip//,curl,/,download,upload,}
	skip=${skip//,small,/,mget,ftplib,}
	[[ -n ${BENCH_ONLY:-} && $only != *",$s,"* ]] && return 1
	[[ $skip == *",$s,"* ]] && return 1
	return 0
}

# ---------------------------------------------------------------- tools
[[ $(id -u) == 0 ]] || die "run as root (it creates the system user $FUSER and starts servers that drop privileges)"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
unpack_pkg() { # unpack_pkg PKG: apt-get download PKG and unpack it under $PEER_DIR/PKG (no maintainer scripts)
	local d
	d=$(mktemp -d) || return 1
	chmod 755 "$d"
	(cd "$d" && timeout 120 apt-get download -q "$1" >/dev/null 2>&1) ||
		(timeout 120 apt-get update -qq >/dev/null 2>&1 && cd "$d" && timeout 120 apt-get download -q "$1" >/dev/null 2>&1) ||
		{ rm -rf "$d"; return 1; }
	rm -rf "${PEER_DIR:?}/$1" && mkdir -p "$PEER_DIR/$1" && dpkg-deb -x "$d"/"$1"_*.deb "$PEER_DIR/$1"
	local rc=$?
	rm -rf "$d"
	return $rc
}
need=()
for t in curl lftp openssl python3; do command -v $t >/dev/null || need+=("$t"); done
((${#need[@]})) && { apt_install "${need[@]}" || die "cannot install ${need[*]}"; }
for t in curl lftp openssl python3; do command -v $t >/dev/null || die "missing tool: $t"; done

# vsftpd and pure-ftpd both provide ftp-server and conflict: whichever is not
# installed from apt is unpacked under $PEER_DIR. Their own services are stopped
# (Debian's packages start one on port 21).
find_peer() { # find_peer PKG BIN: prints the binary's path
	if [[ -x /usr/sbin/$2 ]]; then echo "/usr/sbin/$2"; elif [[ -x $PEER_DIR/$1/usr/sbin/$2 ]]; then echo "$PEER_DIR/$1/usr/sbin/$2"; fi
}
VSFTPD="" PUREFTPD=""
if has_srv vsftpd; then
	VSFTPD=$(find_peer vsftpd vsftpd)
	if [[ -z $VSFTPD ]]; then
		if installed pure-ftpd; then
			apt_install libwrap0 libcap2 libpam0g libpam-modules libssl3 && unpack_pkg vsftpd
			[[ -f /etc/pam.d/vsftpd ]] || cp "$PEER_DIR/vsftpd/etc/pam.d/vsftpd" /etc/pam.d/vsftpd 2>/dev/null
		else
			apt_install vsftpd && command -v systemctl >/dev/null && systemctl disable --now vsftpd >/dev/null 2>&1
		fi
		VSFTPD=$(find_peer vsftpd vsftpd)
	fi
	[[ -n $VSFTPD ]] || die "cannot install vsftpd"
	[[ -f /etc/pam.d/vsftpd ]] || die "no /etc/pam.d/vsftpd (vsftpd logs local users in through PAM)"
fi
if has_srv pure-ftpd; then
	PUREFTPD=$(find_peer pure-ftpd pure-ftpd)
	if [[ -z $PUREFTPD ]]; then
		if installed vsftpd; then
			apt_install libsodium23 libcap2 libcrypt1 libpam0g libssl3 && unpack_pkg pure-ftpd
		else
			apt_install pure-ftpd && command -v systemctl >/dev/null && systemctl disable --now pure-ftpd >/dev/null 2>&1
		fi
		PUREFTPD=$(find_peer pure-ftpd pure-ftpd)
	fi
	[[ -n $PUREFTPD ]] || die "cannot install pure-ftpd"
fi
if has_srv wharf; then
	[[ -x $WHARF ]] || die "no wharf binary at $WHARF (build it first, or BENCH_SERVERS=vsftpd,pure-ftpd)"
fi
ulimit -n 8192 || die "cannot raise ulimit -n to 8192"

# ---------------------------------------------------------------- temp folder, cleanup
T=$(mktemp -d "${BENCH_TMP:-/var/tmp}/wharf-ftps-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$T"
declare -A PID PORT PASV
CLIENTPID=""
tree_pids() { # tree_pids PID: PID and all its descendants
	local p=$1 c
	[[ -n $p ]] || return 0
	echo "$p"
	for c in $(pgrep -P "$p" 2>/dev/null); do tree_pids "$c"; done
}
stop_srv() { # stop_srv NAME: the server and every session process it forked
	local s=$1 p kids
	[[ -n ${PID[$s]:-} ]] || return 0
	kids=$(tree_pids "${PID[$s]}" | tail -n +2)
	stop_pid "${PID[$s]}"
	for p in $kids; do kill -TERM "$p" 2>/dev/null; done
	PID[$s]=""
}
cleanup() {
	local s
	stop_pid "$CLIENTPID"
	for s in "${SERVERS[@]}"; do stop_srv "$s"; done
	id "$FUSER" >/dev/null 2>&1 && usermod -L -d /nonexistent "$FUSER" >/dev/null 2>&1
	drop_tmp "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Control ports: free ephemeral ones. Passive ranges: 2000 ports each, below the
# kernel's ephemeral range (32768-60999 here), so client ports never take them and
# TIME_WAIT left by hundreds of data connections cannot exhaust a range.
pb=20000
for s in "${SERVERS[@]}"; do
	PORT[$s]=$(free_port)
	PASV[$s]="$pb $((pb + 1999))"
	pb=$((pb + 2000))
done

# ---------------------------------------------------------------- user, files, certificate
if ! id "$FUSER" >/dev/null 2>&1; then
	useradd -M -d "$T/home" -s /bin/sh -c "wharf FTPS benchmark" "$FUSER" || die "cannot create user $FUSER"
fi
usermod -d "$T/home" -s /bin/sh -U "$FUSER" >/dev/null 2>&1 || usermod -d "$T/home" -s /bin/sh "$FUSER" || die "usermod $FUSER failed"
printf '%s:%s\n' "$FUSER" "$PASSWORD" | chpasswd || die "chpasswd failed"
grep -qx "$FUSER" /etc/ftpusers 2>/dev/null && die "$FUSER is listed in /etc/ftpusers (vsftpd's PAM would refuse it)"

mkdir -p "$T/home/small" "$T/home/up" "$T/dl" "$T/bin" "$T/wharf/state/certs/bench" "$T/vsftpd"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || die "openssl could not make the certificate"
# wharf keeps an issued certificate as one file: the key, then the chain.
cat "$T/key.pem" "$T/cert.pem" >"$T/wharf/state/certs/bench/issued.pem"
chmod 600 "$T/key.pem" "$T/cert.pem" "$T/wharf/state/certs/bench/issued.pem"

say "making a ${BIG_MIB} MiB test file and $NFILES small files ..."
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$T/home/big.bin" || die "cannot write $T/home/big.bin"
for ((i = 1; i <= NFILES; i++)); do
	head -c $SMALL_BYTES /dev/urandom >"$T/home/small/$(printf 'f%04d.bin' $i)"
done
chown -R "$FUSER:" "$T/home" "$T/wharf"
chmod 700 "$T/wharf/state"
BIG_BYTES=$(stat -c %s "$T/home/big.bin")

if has_srv wharf; then
	# A private copy: a rebuild during the run cannot change what is measured.
	cp "$WHARF" "$T/bin/wf-ftps-bench" || die "cannot copy $WHARF"
	WHARF=$T/bin/wf-ftps-bench
	chmod 755 "$T/bin" "$WHARF"
	HASH=$(printf '%s\n' "$PASSWORD" | timeout 30 "$WHARF" passwd) || die "wharf passwd failed"
fi

# ---------------------------------------------------------------- configs
write_configs() {
	local lo hi
	if has_srv wharf; then
		read -r lo hi <<<"${PASV[wharf]}"
		cat >"$T/wharf/wharf.conf" <<EOF
# benchmark config (written by bench/ftps.sh)
state_dir = "state";
workers = 2;
run_user = "$FUSER";
log = { level = "warn"; error_log = "stderr"; access_log = "off"; };
limits = { max_connections_per_ip = $((IDLE + 100)); ftp_idle_timeout = 600; };
tls = { session_tickets = true; min_version = "1.2"; };
certificates = ( { name = "bench"; domains = ["localhost"]; acme = false; } );
services = ( { type = "ftps"; address = "127.0.0.1"; port = ${PORT[wharf]}; certificates = ["bench"];
               passive_port_min = $lo; passive_port_max = $hi; } );
users = ( { name = "$FUSER"; password = "$HASH"; home = "$T/home";
            permissions = ["read", "write", "delete", "mkdir"]; } );
EOF
	fi
	if has_srv vsftpd; then
		read -r lo hi <<<"${PASV[vsftpd]}"
		cat >"$T/vsftpd/vsftpd.conf" <<EOF
# benchmark config (written by bench/ftps.sh)
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=${PORT[vsftpd]}
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pam_service_name=vsftpd
# ssl_ciphers: Debian's built-in default (ECDHE-RSA-AES256-GCM-SHA384) has no TLS 1.2 suite for an ECDSA key
ssl_enable=YES
rsa_cert_file=$T/cert.pem
rsa_private_key_file=$T/key.pem
ssl_ciphers=HIGH
require_ssl_reuse=YES
force_local_data_ssl=YES
force_local_logins_ssl=YES
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
pasv_enable=YES
pasv_min_port=$lo
pasv_max_port=$hi
pasv_address=127.0.0.1
connect_from_port_20=NO
xferlog_enable=NO
dirmessage_enable=NO
max_clients=$((IDLE + 100))
max_per_ip=$((IDLE + 100))
idle_session_timeout=600
secure_chroot_dir=/var/run/vsftpd/empty
isolate=NO
isolate_network=NO
seccomp_sandbox=NO
EOF
		mkdir -p /var/run/vsftpd/empty
	fi
}

# ---------------------------------------------------------------- servers
start_srv() { # start_srv NAME
	local s=$1 lo hi i
	case $s in
	wharf)
		timeout 30 "$WHARF" check -c "$T/wharf/wharf.conf" >>"$T/wharf.log" 2>&1 ||
			{ say "wharf check refused the config:"; tail -5 "$T/wharf.log" >&2; return 1; }
		echo "=== start $(date -u +%T)" >>"$T/wharf.log"
		"$WHARF" serve -c "$T/wharf/wharf.conf" >>"$T/wharf.log" 2>&1 &
		;;
	vsftpd)
		echo "=== start $(date -u +%T)" >>"$T/vsftpd.log"
		"$VSFTPD" "$T/vsftpd/vsftpd.conf" >>"$T/vsftpd.log" 2>&1 &
		;;
	pure-ftpd)
		read -r lo hi <<<"${PASV[pure-ftpd]}"
		echo "=== start $(date -u +%T)" >>"$T/pure-ftpd.log"
		# -Y 2: TLS required for the control connection (clients here all send PROT P);
		# -l unix: system users; -E: no anonymous; -H: no DNS; -c/-C: client limits.
		"$PUREFTPD" -S "127.0.0.1,${PORT[pure-ftpd]}" -Y 2 -2 "$T/cert.pem,$T/key.pem" \
			-p "$lo:$hi" -P 127.0.0.1 -l unix -E -H -c $((IDLE + 100)) -C $((IDLE + 100)) -I 15 \
			>>"$T/pure-ftpd.log" 2>&1 &
		;;
	esac
	PID[$s]=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "${PID[$s]}" 2>/dev/null || break
		(exec 3<>"/dev/tcp/127.0.0.1/${PORT[$s]}") 2>/dev/null && return 0
		sleep 0.1
	done
	say "$s did not start; log tail:"
	tail -20 "$T/$s.log" >&2
	stop_srv "$s"
	return 1
}
server_alive() { # server_alive NAME SECTION: notes a server that died, and how
	local s=$1 p=${PID[$1]:-} st
	[[ -n $p ]] && kill -0 "$p" 2>/dev/null && return 0
	if [[ -n $p ]]; then
		wait "$p" 2>/dev/null
		st=$?
		note "$s (pid $p) exited with status $st during section '$2'; its last log line: $(tail -n 1 "$T/$s.log")"
		PID[$s]=""
	fi
	[[ $s == wharf ]] && WHARF_FAILED=1
	return 1
}
ensure_up() { # ensure_up SECTION: starts servers not running (again), so later sections still run
	local s
	for s in "${SERVERS[@]}"; do
		[[ -n ${PID[$s]:-} ]] && server_alive "$s" "$1" && continue
		if start_srv "$s"; then
			[[ -n ${STARTED[$s]:-} ]] && note "$s restarted before section '$1'"
		else
			fail "$s" "did not start (before section '$1')"
		fi
		STARTED[$s]=1
	done
}
restart_all() { # restart_all SECTION: fresh processes of every server
	local s
	for s in "${SERVERS[@]}"; do
		stop_srv "$s"
		start_srv "$s" || fail "$s" "did not start (before section '$1')"
	done
	sleep 0.5
}
declare -A STARTED

# ---------------------------------------------------------------- results
declare -A RES UNIT LOWER RUNS
ROWS=()
NOTES=()
WHARF_FAILED=0
record() { # record ROWNAME UNIT LOWER_IS_BETTER(0|1|-) SERVER VALUE ("-": shown, not compared)
	local row=$1
	[[ -v UNIT[$row] ]] || ROWS+=("$row")
	UNIT[$row]=$2
	LOWER[$row]=$3
	RES[$row/$4]=$5
	say "  $row [$4]: $5 $2"
}
record_runs() { # record_runs ROWNAME SERVER RUN...: each repeat's value, in order, for the paired ratio
	local row=$1 srv=$2
	shift 2
	RUNS[$row/$srv]="$*"
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# client_cpu CMD...: runs CMD (stdout kept, stderr as CMD sends it); its CPU time,
# user plus system, of it and every child it waited for, in ms, lands in
# $T/client-cpu. A row whose client is busy for all of its wall time is bound by
# the client: no server can make it faster.
client_cpu() {
	local TIMEFORMAT='%3U %3S' rc
	{ time "$@" 2>&3; } 3>&2 2>"$T/client-time"
	rc=$?
	awk '{printf "%.0f", ($1 + $2) * 1000}' "$T/client-time" >"$T/client-cpu"
	return $rc
}
cpu_share() { # cpu_share WALL_MS: the client's CPU as a % of WALL_MS
	awk -v w="$1" '{printf "%.0f", (w > 0 ? 100 * $1 / w : 0)}' "$T/client-cpu"
}
fail() { # fail SERVER MESSAGE
	note "$1: $2"
	[[ $1 == wharf ]] && WHARF_FAILED=1
	return 0
}

# net:timeout 10 + net:max-retries 1: a transfer that makes no progress for 10 s fails (no retry).
# ssl:ca-file: lftp 4.9.2 copies its whole trust store into every TLS session it
# opens, data connections included. With the system bundle (144 CAs) that is about
# 4 ms of lftp's CPU per file of an mget, the same against every server, which
# hid the servers' own difference. The bench's certificate is the one CA this
# client needs, as with any private CA.
LFTP_BASE="set cmd:fail-exit true; set net:timeout 10; set net:max-retries 1; set net:reconnect-interval-base 1;
set ftp:ssl-force true; set ftp:ssl-protect-data true; set ftp:ssl-auth TLS; set ssl:verify-certificate no;
set ssl:ca-file $T/cert.pem; set xfer:clobber on; set cmd:interactive false"
lftp_run() { # lftp_run SERVER TLS(1.3|1.2) TIMEOUT COMMANDS: runs lftp logged in; its output in $T/lftp.log
	local prio=NORMAL
	[[ $2 == 1.2 ]] && prio="NORMAL:-VERS-ALL:+VERS-TLS1.2"
	echo "=== $1 TLS $2: $4" >>"$T/lftp.log"
	timeout "$3" lftp -c "$LFTP_BASE; set ssl:priority \"$prio\";
open -u $FUSER,$PASSWORD -p ${PORT[$1]} 127.0.0.1; $4" >>"$T/lftp.log" 2>&1
}

# ---------------------------------------------------------------- 1. transfers
# Each run alternates the servers (wharf, vsftpd, pure-ftpd, wharf, ...) so drift
# on the shared machine hits all alike; the median of each is reported.
one_xfer() { # one_xfer SERVER curl|lftp download|upload RUN: prints "MB/s CLIENT_CPU_%", or "FAIL why"
	local srv=$1 tool=$2 kind=$3 run=$4 out rc speed size got t0 ms dest="up/$1-$2-$4.bin"
	if [[ $tool == curl ]]; then
		if [[ $kind == download ]]; then
			t0=$(date +%s%N)
			out=$(client_cpu curl -sS --ssl-reqd -k -u "$FUSER:$PASSWORD" --speed-limit 1000000 --speed-time 10 --max-time 180 -o /dev/null \
				-w '%{speed_download} %{size_download}' "ftp://127.0.0.1:${PORT[$srv]}/big.bin" 2>"$T/curl.err")
			rc=$?
			ms=$(ms_since "$t0")
			read -r speed size <<<"$out"
			if ((rc == 0)) && [[ $size == "$BIG_BYTES" ]]; then
				awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}'
				echo " $(cpu_share "$ms")"
			else
				echo "FAIL curl download run $run: size=$size/$BIG_BYTES, curl exit $rc: $(head -c 300 "$T/curl.err")"
			fi
			return
		fi
		t0=$(date +%s%N)
		out=$(client_cpu curl -sS --ssl-reqd -k -u "$FUSER:$PASSWORD" --speed-limit 1000000 --speed-time 10 --max-time 300 -T "$T/home/big.bin" \
			-w '%{speed_upload}' "ftp://127.0.0.1:${PORT[$srv]}/$dest" 2>"$T/curl.err")
		rc=$?
		ms=$(ms_since "$t0")
		speed=$out
	else
		t0=$(date +%s%N)
		if [[ $kind == download ]]; then
			client_cpu lftp_run "$srv" 1.3 180 "get big.bin -o /dev/null"
			rc=$?
			ms=$(ms_since "$t0")
			if ((rc == 0)); then
				awk -v b="$BIG_BYTES" -v ms="$ms" 'BEGIN {printf "%.0f", b / ms / 1e3}'
				echo " $(cpu_share "$ms")"
			else
				echo "FAIL lftp get run $run: lftp exit $rc: $(tail -n 2 "$T/lftp.log" | tr '\n' ' ')"
			fi
			return
		fi
		client_cpu lftp_run "$srv" 1.3 300 "put $T/home/big.bin -o $dest"
		rc=$?
		ms=$(ms_since "$t0")
		speed=$(awk -v b="$BIG_BYTES" -v ms="$ms" 'BEGIN {printf "%.0f", b * 1e3 / ms}')
	fi
	got=$(stat -c %s "$T/home/$dest" 2>/dev/null || echo 0)
	if ((rc == 0)) && [[ $got == "$BIG_BYTES" ]]; then
		awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1e6}'
		echo " $(cpu_share "$ms")"
	else
		if [[ $tool == curl ]]; then out=$(head -c 300 "$T/curl.err"); else out=$(tail -n 2 "$T/lftp.log" | tr '\n' ' '); fi
		echo "FAIL $tool upload run $run: stored $got/$BIG_BYTES bytes, exit $rc: $out"
	fi
	rm -f "$T/home/$dest"
	sync # the next run starts with no dirty pages
}
bench_xfer() { # bench_xfer curl|lftp download|upload
	local tool=$1 kind=$2 s i v c label
	local -A runs=() cpus=() failed=()
	cat "$T/home/big.bin" >/dev/null # page cache
	sync
	for ((i = 1; i <= REPEAT; i++)); do
		for s in "${SERVERS[@]}"; do
			[[ -n ${PID[$s]:-} && -z ${failed[$s]:-} ]] || continue # one failure: no more runs of it
			v=$(one_xfer "$s" "$tool" "$kind" "$i")
			if [[ $v =~ ^[0-9]+\ [0-9]+$ ]]; then
				read -r v c <<<"$v"
				runs[$s]="${runs[$s]:-} $v"
				cpus[$s]="${cpus[$s]:-} $c"
			else
				fail "$s" "${v#FAIL }"
				failed[$s]=1
			fi
		done
	done
	label="${BIG_MIB} MiB $kind, $tool"
	for s in "${SERVERS[@]}"; do
		say "  $label runs (MB/s) [$s]:${runs[$s]:- none}; $tool's CPU (% of wall):${cpus[$s]:- none}"
		# shellcheck disable=SC2086 # word splitting of the run list is meant
		record "$label" "MB/s" 0 "$s" "$(median ${runs[$s]:-})"
		# shellcheck disable=SC2086
		record_runs "$label" "$s" ${runs[$s]:-}
		# shellcheck disable=SC2086
		record "  $tool's CPU during the $kind, % of wall" "%" - "$s" "$(median ${cpus[$s]:-})"
		server_alive "$s" "$tool $kind"
	done
	rm -f "$T/home/up/"*
}

# ---------------------------------------------------------------- 2. small files
one_mget() { # one_mget SERVER TLS RUN: prints "MS_PER_FILE LFTP_CPU_MS_PER_FILE", or "FAIL why"
	local srv=$1 tls=$2 t0 ms rc n
	rm -rf "$T/dl/m" && mkdir -p "$T/dl/m"
	t0=$(date +%s%N)
	client_cpu lftp_run "$srv" "$tls" 300 "mget -O $T/dl/m small/*"
	rc=$?
	ms=$(ms_since "$t0")
	n=$(find "$T/dl/m" -type f -size ${SMALL_BYTES}c | wc -l)
	if ((rc == 0 && n == NFILES)); then
		awk -v ms="$ms" -v n="$NFILES" -v cpu="$(cat "$T/client-cpu")" 'BEGIN {printf "%.2f %.2f", ms / n, cpu / n}'
	else
		echo "FAIL lftp mget TLS $tls run $3: $n of $NFILES files, lftp exit $rc: $(tail -n 2 "$T/lftp.log" | tr '\n' ' ')"
	fi
}
one_ftplib() { # one_ftplib SERVER TLS RUN: prints ms per file, or "FAIL why"
	local srv=$1 tls=$2 out
	out=$(timeout 300 python3 "$HERE/ftps_client.py" small 127.0.0.1 "${PORT[$srv]}" "$FUSER" "$PASSWORD" \
		--tls "$tls" --dir small --count "$NFILES" --expect-bytes $((NFILES * SMALL_BYTES)) 2>&1)
	echo "=== $srv TLS $tls run $3: $out" >>"$T/ftplib.log"
	if [[ $out == OK* ]]; then
		sed 's/.*ms_per_file=\([^ ]*\).*/\1/' <<<"$out"
	else
		echo "FAIL ftplib TLS $tls run $3: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
	fi
}
bench_small() { # bench_small mget|ftplib
	local kind=$1 tls s i v c label
	local -A runs cpus failed
	for tls in 1.3 1.2; do
		runs=() cpus=() failed=()
		for ((i = 1; i <= REPEAT; i++)); do
			for s in "${SERVERS[@]}"; do
				[[ -n ${PID[$s]:-} && -z ${failed[$s]:-} ]] || continue # one failure: no more runs of it
				v=$(one_$kind "$s" "$tls" "$i")
				if [[ $v =~ ^[0-9.]+( [0-9.]+)?$ ]]; then
					read -r v c <<<"$v"
					runs[$s]="${runs[$s]:-} $v"
					[[ -n $c ]] && cpus[$s]="${cpus[$s]:-} $c"
				else
					fail "$s" "${v#FAIL }"
					failed[$s]=1
				fi
			done
		done
		if [[ $kind == mget ]]; then
			label="$NFILES x 4 KiB, lftp mget, TLS $tls"
		else
			label="$NFILES x 4 KiB, ftplib + session reuse, TLS $tls"
		fi
		for s in "${SERVERS[@]}"; do
			v=""
			[[ -n ${cpus[$s]:-} ]] && v="; lftp's CPU (ms/file):${cpus[$s]}"
			say "  $label runs (ms/file) [$s]:${runs[$s]:- none}$v"
			# shellcheck disable=SC2086
			record "$label" "ms/file" 1 "$s" "$(median ${runs[$s]:-})"
			# shellcheck disable=SC2086
			record_runs "$label" "$s" ${runs[$s]:-}
			# shellcheck disable=SC2086
			[[ $kind == mget ]] && record "  lftp's own CPU, TLS $tls" "ms/file" - "$s" "$(median ${cpus[$s]:-})"
			server_alive "$s" "$kind"
		done
	done
	rm -rf "$T/dl/m"
}

# ---------------------------------------------------------------- 3. idle memory
mem() { # mem SERVER: "RSS_KiB PSS_KiB NPROCS" summed over the server and every process it forked
	local p rss=0 pss=0 n=0 r s
	for p in $(tree_pids "${PID[$1]}"); do
		read -r r s <<<"$(awk '/^Rss:/ {r = $2} /^Pss:/ {s = $2} END {print r + 0, s + 0}' "/proc/$p/smaps_rollup" 2>/dev/null)"
		rss=$((rss + ${r:-0}))
		pss=$((pss + ${s:-0}))
		n=$((n + 1))
	done
	echo "$rss $pss $n"
}
bench_memory() {
	local s i ready ok n0 n1 rss0 pss0 rss1 pss1 out
	restart_all memory # fresh servers
	for s in "${SERVERS[@]}"; do
		[[ -n ${PID[$s]:-} ]] || continue
		# warm up: two sessions with a transfer each, so lazily made state is not counted per session
		for i in 1 2; do
			out=$(timeout 60 python3 "$HERE/ftps_client.py" small 127.0.0.1 "${PORT[$s]}" "$FUSER" "$PASSWORD" \
				--count 2 2>&1)
			[[ $out == OK* ]] || fail "$s" "memory warm-up session $i: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
		done
		for ((i = 0; i < 100; i++)); do # forked session processes gone: up to 10 s
			read -r rss0 pss0 n0 <<<"$(mem "$s")"
			((n0 <= 1)) || [[ $s == wharf ]] && break
			sleep 0.1
		done
		sleep 1
		read -r rss0 pss0 n0 <<<"$(mem "$s")"
		python3 "$HERE/ftps_client.py" idle 127.0.0.1 "${PORT[$s]}" "$FUSER" "$PASSWORD" --count "$IDLE" \
			--hold 180 --open-timeout 150 >"$T/idle-$s.out" 2>"$T/idle-$s.err" &
		CLIENTPID=$!
		ready=""
		for ((i = 0; i < 1600; i++)); do # up to 160 s
			ready=$(grep -m1 '^READY' "$T/idle-$s.out" 2>/dev/null) && break
			kill -0 "$CLIENTPID" 2>/dev/null || break
			sleep 0.1
		done
		if [[ -z $ready ]]; then
			fail "$s" "idle session client did not get ready: $(tail -3 "$T/idle-$s.err" | tr '\n' ' ')"
			stop_pid "$CLIENTPID"
			CLIENTPID=""
			continue
		fi
		sleep 2
		read -r rss1 pss1 n1 <<<"$(mem "$s")"
		ok=$(sed 's/.*ok=\([0-9]*\).*/\1/' <<<"$ready")
		say "  $s idle: $ready; RSS $rss0 -> $rss1 KiB, PSS $pss0 -> $pss1 KiB, processes $n0 -> $n1"
		if ((ok != IDLE)); then
			fail "$s" "only $ok of $IDLE idle sessions logged in ($ready); $(sort "$T/idle-$s.err" | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
		fi
		if ((ok > 0)); then
			record "RSS per idle logged-in session ($IDLE held)" "KiB" 1 "$s" \
				"$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN {printf "%.1f", (b - a) / n}')"
			record "PSS per idle logged-in session ($IDLE held)" "KiB" 1 "$s" \
				"$(awk -v a="$pss0" -v b="$pss1" -v n="$ok" 'BEGIN {printf "%.1f", (b - a) / n}')"
			record "processes with $IDLE idle sessions" "" 1 "$s" "$n1"
		fi
		server_alive "$s" memory
		stop_pid "$CLIENTPID"
		CLIENTPID=""
		sleep 1
	done
}

# ---------------------------------------------------------------- run
START=$(date +%s)
write_configs
{
	echo "# wharf vs vsftpd vs Pure-FTPd, FTPS benchmark ($( ((QUICK)) && echo quick || echo full) run)"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
		"$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
	has_srv wharf && echo "wharf:   $("$WHARF" --version 2>&1 | head -1) ($(cd "$HERE/.." && git rev-parse --short HEAD 2>/dev/null)$(cd "$HERE/.." && git diff --quiet HEAD 2>/dev/null || echo '+dirty'))," \
		"GnuTLS $(dpkg-query -W -f '${Version}' libgnutls30 2>/dev/null)"
	has_srv vsftpd && echo "vsftpd:  $("$VSFTPD" -v 0>&1 2>&1 | head -1 | sed 's/^vsftpd: //') ($VSFTPD)"
	has_srv pure-ftpd && echo "pure-ftpd: $("$PUREFTPD" --help 2>&1 | head -1) ($PUREFTPD)"
	echo "peers' TLS: $(openssl version | cut -d' ' -f1-2)"
	echo "clients: curl $(curl --version | awk 'NR==1 {print $2}') (OpenSSL), lftp $(lftp --version | awk 'NR==1 {print $4}') (GnuTLS)," \
		"Python $(python3 -c 'import ssl, sys; print(sys.version.split()[0], "ftplib,", ssl.OPENSSL_VERSION)')"
	echo "servers: ${SERVERS[*]}; ports: $(for s in "${SERVERS[@]}"; do printf '%s=%s ' "$s" "${PORT[$s]}"; done)"
} | tee "$T/header.txt"

ensure_up start
for sec in download upload; do
	if want $sec; then
		ensure_up $sec
		say "[$sec, curl]"
		bench_xfer curl $sec
	fi
done
if want lftp; then
	ensure_up lftp
	say "[download and upload, lftp]"
	bench_xfer lftp download
	bench_xfer lftp upload
fi
if want mget; then
	ensure_up mget
	say "[small files, lftp mget]"
	bench_small mget
fi
if want ftplib; then
	ensure_up ftplib
	say "[small files, ftplib]"
	bench_small ftplib
fi
if want memory; then
	say "[memory]"
	bench_memory
fi
if has_srv wharf; then
	stop_pid "${PID[wharf]}"
	[[ ${LAST_EXIT:-0} == 0 ]] || note "wharf exited with status $LAST_EXIT on SIGTERM at the end"
	PID[wharf]=""
	crash=$(grep -ciE 'abort|assert|segmentation|sanitizer|fatal' "$T/wharf.log")
	((crash > 0)) && note "wharf log has $crash line(s) matching abort/assert/segfault/fatal"
fi

# ---------------------------------------------------------------- table
# "x best": wharf against the better peer, oriented so that higher is better for
# wharf: peer/wharf for ms and KiB rows, wharf/peer for MB/s rows.
# "paired": the same ratio taken inside each repeat (wharf's run against the
# better peer's runs of that round, which ran right after it), then the median
# of those. The host's own speed drifts from minute to minute (an AES-GCM
# loop alone went from 2.3 to 4.3 GB/s within a minute on this machine
# kind); servers that ran seconds apart share that drift, so the paired
# figure carries less of it than the ratio of medians taken minutes apart.
paired() { # paired ROW: median over repeats of wharf's run against the better peer's same-round run
	awk -v w="${RUNS[$1/wharf]:-}" -v v="${RUNS[$1/vsftpd]:-}" -v p="${RUNS[$1/pure-ftpd]:-}" \
		-v lower="${LOWER[$1]}" 'BEGIN {
		nw = split(w, W, " "); nv = split(v, V, " "); np = split(p, P, " "); n = 0
		for (i = 1; i <= nw; i++) {
			best = ""
			if (i <= nv) best = V[i]
			if (i <= np && (best == "" || (lower ? P[i] < best : P[i] > best))) best = P[i]
			if (best == "" || best == 0 || W[i] == 0) continue
			R[++n] = lower ? best / W[i] : W[i] / best
		}
		if (n < 2) { print "-"; exit }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && R[j - 1] > R[j]; j--) { t = R[j]; R[j] = R[j - 1]; R[j - 1] = t }
		printf "%.2f", R[int((n + 1) / 2)] }'
}
echo
fmt='%-50s %-7s %9s %9s %9s %8s %8s\n'
printf "$fmt" "test" "unit" "wharf" "vsftpd" "pure-ftpd" "x best" "paired"
printf "$fmt" "----" "----" "-----" "------" "---------" "------" "------"
for row in "${ROWS[@]}"; do
	w=${RES[$row/wharf]:--} v=${RES[$row/vsftpd]:--} p=${RES[$row/pure-ftpd]:--}
	ratio=$(awk -v w="$w" -v v="$v" -v p="$p" -v lower="${LOWER[$row]}" 'BEGIN {
		num = "^[0-9.]+$"; best = ""
		if (v ~ num) best = v
		if (p ~ num && (best == "" || (lower ? p < best : p > best))) best = p
		if (w !~ num || best == "" || w == 0 || best == 0) { print "-"; exit }
		printf "%.2f", lower ? best / w : w / best }')
	pr=-
	[[ -n ${RUNS[$row/wharf]:-} ]] && pr=$(paired "$row")
	[[ -z ${UNIT[$row]} || ${LOWER[$row]} == - ]] && ratio=- pr=-
	printf "$fmt" "$row" "${UNIT[$row]}" "$w" "$v" "$p" "$ratio" "$pr"
done
echo
echo "x best: wharf against the better of vsftpd and pure-ftpd, higher is better for wharf on every row" \
	"(goal >= 1.2); paired: the same ratio inside each repeat (the servers run one after another in each round)," \
	"median over the repeats. Transfers: median of $REPEAT run(s) of ${BIG_MIB} MiB (1 MB = 10^6 bytes) from the page cache," \
	"downloads to /dev/null, uploads into the same folder on the same disk (page cache synced between runs)."
echo "A server whose run fails gets no more runs of that row; a transfer with under 1 MB/s for 10 s fails."
echo "curl: its own speed figure (whole session: connect, AUTH TLS, login, EPSV, transfer, 226)." \
	"lftp: bytes / wall time of the whole lftp process, TLS 1.3 (lftp uses GnuTLS)."
echo "Small files: $NFILES files of 4 KiB over one control connection, median of $REPEAT run(s); lftp mget:" \
	"wall time of the whole lftp process (start, login, listing, $NFILES RETR) / $NFILES; ftplib: NLST and $NFILES RETR" \
	"(login not counted) / $NFILES, each data connection resuming the control connection's TLS session."
ftplib_info() { # ftplib_info SERVER TLS: "CIPHER, data sessions resumed R/N" from its last good run
	grep -F "=== $1 TLS $2 run" "$T/ftplib.log" 2>/dev/null | grep ': OK ' | tail -n 1 |
		sed 's/.*resumed=\([^ ]*\) .*cipher=\([^ ]*\).*/\2, data sessions resumed \1/'
}
for s in "${SERVERS[@]}"; do
	[[ -s $T/ftplib.log ]] && grep -qF "=== $s TLS" "$T/ftplib.log" &&
		echo "  ftplib (OpenSSL client) with $s: TLS 1.3 $(ftplib_info "$s" 1.3); TLS 1.2 $(ftplib_info "$s" 1.2)"
done
echo "Memory: fresh servers, $IDLE sessions each logged in (AUTH TLS, PBSZ 0, PROT P, USER, PASS) then idle;" \
	"RSS and PSS summed over the server's process and every process it forked, minus the same before, / $IDLE." \
	"RSS counts shared pages once per process (heavy for forking servers); PSS splits them."
echo "Client CPU rows: user + system time of the client process over its wall time (transfers), or per file" \
	"(lftp mget); near 100 %, the client is the bottleneck of that row, whichever server it talks to."
for tls in 1.3 1.2; do # the best "x best" any server could reach on the mget rows: lftp's own CPU is a floor
	row="$NFILES x 4 KiB, lftp mget, TLS $tls" crow="  lftp's own CPU, TLS $tls"
	awk -v v="${RES[$row/vsftpd]:--}" -v p="${RES[$row/pure-ftpd]:--}" -v c="${RES[$crow/wharf]:--}" \
		-v tls="$tls" 'BEGIN {
		num = "^[0-9.]+$"; best = ""
		if (v ~ num) best = v
		if (p ~ num && (best == "" || p < best)) best = p
		if (best == "" || c !~ num || c == 0) exit
		printf "lftp mget, TLS %s: lftp itself spends %.2f ms of CPU per file (with wharf); against the better peer'"'"'s %.2f ms per file, a server taking no time at all would score %.2f.\n", tls, c, best, best / c }'
done
for tool in curl lftp; do # the same for transfers: the client's CPU per byte is a floor on its time
	for kind in download upload; do
		row="${BIG_MIB} MiB $kind, $tool" crow="  $tool's CPU during the $kind, % of wall"
		awk -v v="${RES[$row/vsftpd]:--}" -v p="${RES[$row/pure-ftpd]:--}" -v w="${RES[$row/wharf]:--}" \
			-v c="${RES[$crow/wharf]:--}" -v row="$row" -v tool="$tool" 'BEGIN {
			num = "^[0-9.]+$"; best = ""
			if (v ~ num) best = v
			if (p ~ num && (best == "" || p > best)) best = p
			if (best == "" || best == 0 || w !~ num || c !~ num || c == 0) exit
			top = w * 100 / c
			printf "%s: %s alone would go at most %.0f MB/s (wharf'"'"'s rate over %s'"'"'s busy share); against the better peer'"'"'s %.0f MB/s, a server taking no time at all would score %.2f.\n", row, tool, top, tool, best, top / best }'
	done
done
echo "Goals: x best >= 1.2 on every row; lftp mget over TLS 1.3 under 10 ms per file for wharf."
echo "wharf makes an upload durable (fsync, then rename) before its 226; vsftpd and pure-ftpd do not fsync."
echo "Clients and servers share the same $(nproc) CPUs; compare the servers only inside one run."
if ((${#NOTES[@]})); then
	echo
	echo "Problems seen:"
	for n in "${NOTES[@]}"; do echo "  - $n"; done
fi
if has_srv wharf && { ((WHARF_FAILED)) || ((${#NOTES[@]})); }; then
	echo
	echo "wharf log tail ($T/wharf.log):"
	tail -n 25 "$T/wharf.log" | sed 's/^/  | /'
fi
echo
echo "total time: $(($(date +%s) - START)) s"
