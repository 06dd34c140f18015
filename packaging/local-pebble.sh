#!/usr/bin/env bash
# Starts a throw-away local ACME CA (Debian's pebble) for the quick start:
# directory https://127.0.0.1:14000/dir, HTTP-01 validations to port 5002,
# every name resolved to 127.0.0.1 by pebble-challtestsrv. State in DIR
# (default .run/pebble). `local-pebble.sh stop DIR` stops it.
set -euo pipefail
cmd=${1:-start}
W=${2:-.run/pebble}
mkdir -p "$W"
W=$(cd "$W" && pwd)

stop() {
	for f in pebble.pid challtestsrv.pid; do
		[ -s "$W/$f" ] && kill "$(cat "$W/$f")" 2>/dev/null || true
		rm -f "$W/$f"
	done
}
if [ "$cmd" = stop ]; then
	stop
	exit 0
fi
stop
if [ ! -s "$W/ca.pem" ]; then
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$W/ca.key" \
		-out "$W/ca.pem" -days 3650 -subj "/CN=wharf quick-start ACME endpoint CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$W/pebble.key" \
		-out "$W/pebble.csr" -subj "/CN=localhost" 2>/dev/null
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$W/pebble.ext"
	openssl x509 -req -in "$W/pebble.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 825 \
		-extfile "$W/pebble.ext" -out "$W/pebble.pem" 2>/dev/null
	chmod 644 "$W/ca.pem"
fi
cat >"$W/pebble.json" <<JSON
{ "pebble": { "listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$W/pebble.pem", "privateKey": "$W/pebble.key", "httpPort": 5002, "tlsPort": 5001,
  "ocspResponderURL": "", "externalAccountBindingRequired": false } }
JSON
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 127.0.0.1:8053 -http01 "" -https01 "" \
	-tlsalpn01 "" -management 127.0.0.1:8055 </dev/null >"$W/challtestsrv.log" 2>&1 &
echo $! >"$W/challtestsrv.pid"
PEBBLE_VA_NOSLEEP=1 pebble -config "$W/pebble.json" -dnsserver 127.0.0.1:8053 </dev/null >"$W/pebble.log" 2>&1 &
echo $! >"$W/pebble.pid"
for _ in $(seq 1 100); do
	if curl -fsS --cacert "$W/ca.pem" -o /dev/null https://127.0.0.1:14000/dir 2>/dev/null; then
		echo "local ACME CA (pebble) ready: https://127.0.0.1:14000/dir" >&2
		exit 0
	fi
	sleep 0.1
done
stop
echo "pebble did not start; see $W/pebble.log" >&2
exit 1
