# Shared by the benchmark scripts (sourced, not run): options, messages,
# stopping processes. Each script's header comment is its --help text.

HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
WHARF=${WHARF_BIN:-$HERE/../build/wharf}
QUICK=0
for arg in "$@"; do
	case $arg in
	--quick) QUICK=1 ;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "unknown option: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

say() { printf '%s\n' "$*" >&2; }
die() {
	say "$(basename "$0"): $*"
	exit 1
}

note() { # note TEXT: a problem for the summary (the script's NOTES array), said now too
	NOTES+=("$*")
	say "NOTE: $*"
}
median() { # median V...: middle value (lower middle for even counts); "-" if none
	(($#)) || {
		echo -
		return
	}
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
stop_pid() { # stop_pid PID: TERM, wait up to 10 s, then KILL; the exit status lands in LAST_EXIT
	local p=$1 i
	[[ -n $p ]] && kill -0 "$p" 2>/dev/null || return 0
	kill -TERM "$p" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	LAST_EXIT=$?
	return 0
}

apt_install() { # apt_install PKG...: apt-get install, with one `apt-get update` retry
	say "installing $* ..."
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 && return 0
	timeout 120 apt-get update -qq >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

drop_tmp() { # drop_tmp DIR: remove the run's temp folder, or keep it with BENCH_KEEP=1
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		say "kept $1"
	else
		rm -rf "$1"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port PORT: up to 10 s
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
