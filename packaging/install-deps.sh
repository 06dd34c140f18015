#!/usr/bin/env bash
# Installs what wharf needs on a Debian 12 machine, and nothing already there.
#   packaging/install-deps.sh           build dependencies
#   packaging/install-deps.sh --test    plus the real peers the tests drive
#   packaging/install-deps.sh --bench   plus the servers and load tools the benchmarks use
set -euo pipefail

pkgs=(gcc make cmake pkg-config libgnutls28-dev libnghttp2-dev libcurl4-gnutls-dev
      libjson-c-dev libev-dev libconfig-dev libcrypt-dev)
for arg in "$@"; do
	case "$arg" in
	--test) pkgs+=(python3 curl openssl gnutls-bin nghttp2-client clang libclang-rt-14-dev pebble) ;;
	--bench) pkgs+=(python3 curl gnutls-bin nghttp2-client nginx-light wrk) ;;
	*) echo "usage: $0 [--test] [--bench]" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
