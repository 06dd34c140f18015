#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs wharf on the example
# config (config/wharf.conf): HTTPS on https://127.0.0.1:8443/, user "demo",
# password "wharf-demo", files in .run/files. Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p .run/files
[ -e .run/files/README.txt ] || echo "Hello from wharf. Upload with: curl -k -u demo:wharf-demo -T FILE https://127.0.0.1:8443/" > .run/files/README.txt
# As root, wharf serves as nobody: give it the demo folders.
if [ "$(id -u)" -eq 0 ]; then
	chown -R nobody:nogroup .run
fi
cat >&2 <<MSG

wharf is starting on https://127.0.0.1:8443/  (user: demo, password: wharf-demo)
try:  curl -k -u demo:wharf-demo https://127.0.0.1:8443/
      curl -k -u demo:wharf-demo -T somefile https://127.0.0.1:8443/
The certificate is a provisional self-signed one (kept in .run/state), hence -k.

MSG
exec build/wharf serve -c config/wharf.conf
