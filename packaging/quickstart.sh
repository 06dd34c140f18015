#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs wharf on the example
# config (config/wharf.conf): HTTPS on https://127.0.0.1:8443/, user "demo",
# password "wharf-demo", files in .run/files. When Debian's pebble is installed
# it also starts a local ACME CA and uses config/wharf-pebble.conf, so the
# certificate goes from provisional to CA-issued live. Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
packaging/install-deps.sh --try
# WHARF_BIN: a wharf built already (the tests run this script with theirs).
wharf=${WHARF_BIN:-}
if [ -z "$wharf" ]; then
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$(nproc)" >/dev/null
	wharf=$top/build/wharf
fi
# The configs name their folders relative to themselves (../.run/...).
run=$top
# As root, wharf serves as a system user of its own (the configs' run_user),
# so that no other daemon shares the private keys: make it, give it the demo
# folders. That user reads the config again on a reload and checks its
# folders by path, so it must be able to enter every folder on the way; a
# checkout where it cannot (under /root, or a home, both 0700 on Debian)
# runs from a copy of the configs in a folder of its own.
if [ "$(id -u)" -eq 0 ]; then
	getent passwd wharf >/dev/null ||
		useradd --system --user-group --home-dir /nonexistent --no-create-home \
			--shell /usr/sbin/nologin --comment "wharf file-transfer server" wharf
	if ! runuser -u wharf -- test -r "$top/config/wharf.conf"; then
		run=/var/lib/wharf-quickstart
		mkdir -p "$run/config"
		chmod 755 "$run"
		cp config/wharf.conf config/wharf-pebble.conf "$run/config/"
		echo "wharf's run user cannot enter $top (a folder on the way is closed to others):" \
			"running from $run (configs copied to $run/config, files in $run/.run/files)" >&2
	fi
fi
mkdir -p "$run/.run/files"
[ -e "$run/.run/files/README.txt" ] || echo "Hello from wharf. Upload with: curl -k -u demo:wharf-demo -T FILE https://127.0.0.1:8443/" > "$run/.run/files/README.txt"
[ "$(id -u)" -eq 0 ] && chown -R wharf:wharf "$run/.run"
config=$run/config/wharf.conf
if command -v pebble >/dev/null 2>&1 && [ "${WHARF_NO_PEBBLE:-0}" != 1 ]; then
	# With a local ACME CA the whole certificate life cycle shows: provisional
	# first, then CA-issued, swapped in live.
	packaging/local-pebble.sh start "$run/.run/pebble"
	trap 'packaging/local-pebble.sh stop "$run/.run/pebble"' EXIT
	config=$run/config/wharf-pebble.conf
	cat >&2 <<MSG

A local ACME CA (pebble) is running: wharf starts with a provisional
self-signed certificate for localhost and replaces it with a CA-issued one
within a second or two (watch the log: "ordering", "installed"). Then:
      $wharf cert list -c $config
      curl -k -u demo:wharf-demo https://localhost:8443/.wharf/status
MSG
fi
cat >&2 <<MSG

wharf is starting on https://127.0.0.1:8443/  (user: demo, password: wharf-demo)
try:  curl -k -u demo:wharf-demo https://127.0.0.1:8443/
      curl -k -u demo:wharf-demo -T somefile https://127.0.0.1:8443/
      curl -k --ssl-reqd -u demo:wharf-demo ftp://127.0.0.1:2121/     (FTPS, AUTH TLS)
      curl -k -u demo:wharf-demo ftps://127.0.0.1:9990/               (implicit FTPS)
(-k: the certificate is self-signed, or from the local test CA.)

MSG
"$wharf" serve -c "$config"
