#!/usr/bin/env bash
# Installs what wharf needs on a Debian 12 machine, and nothing already there.
#   packaging/install-deps.sh           build dependencies
#   packaging/install-deps.sh --try     plus the clients the README's "Try it" uses
#   packaging/install-deps.sh --test    plus the real peers the tests drive
#   packaging/install-deps.sh --bench   plus the servers and load tools the benchmarks use
#     (vsftpd and pure-ftpd conflict in Debian: vsftpd is installed, pure-ftpd is
#     unpacked under /opt/wharf-bench/pure-ftpd for bench/ftps.sh)
set -euo pipefail

bench=0
pkgs=(gcc make cmake pkg-config libgnutls28-dev libnghttp2-dev libcurl4-gnutls-dev
      libjson-c-dev libev-dev libconfig-dev libcrypt-dev)
for arg in "$@"; do
	case "$arg" in
	--try) pkgs+=(curl lftp) ;;
	--test) pkgs+=(python3 python3-cryptography python3-h2 curl openssl gnutls-bin nghttp2-client lftp rclone clang libclang-rt-14-dev pebble
	        chromium chromium-driver python3-selenium procps) ;;
	--bench) bench=1; pkgs+=(python3 curl gnutls-bin nghttp2-client nginx-light wrk lftp vsftpd libsodium23 pebble) ;;
	*) echo "usage: $0 [--try] [--test] [--bench]" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
updated=0
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	updated=1
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian's packages start their own services (nginx on 80, vsftpd on 21); the benchmarks start their own.
	if [ "$bench" = 1 ] && command -v systemctl >/dev/null; then
		"${sudo[@]}" systemctl disable --now nginx vsftpd >/dev/null 2>&1 || true
	fi
fi

# pure-ftpd conflicts with vsftpd (both provide ftp-server): its package is
# downloaded and unpacked (no maintainer scripts, no service) where bench/ftps.sh
# looks for it. Its libraries come with libsodium23 and vsftpd's dependencies.
if [ "$bench" = 1 ] && [ ! -x /usr/sbin/pure-ftpd ] && [ ! -x /opt/wharf-bench/pure-ftpd/usr/sbin/pure-ftpd ]; then
	echo "unpacking pure-ftpd under /opt/wharf-bench/pure-ftpd" >&2
	[ "$updated" = 1 ] || "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	dl=$(mktemp -d)
	chmod 755 "$dl"
	(cd "$dl" && "${sudo[@]}" apt-get download -q pure-ftpd >/dev/null 2>&1)
	"${sudo[@]}" mkdir -p /opt/wharf-bench/pure-ftpd
	"${sudo[@]}" dpkg-deb -x "$dl"/pure-ftpd_*.deb /opt/wharf-bench/pure-ftpd
	"${sudo[@]}" rm -rf "$dl"
fi
