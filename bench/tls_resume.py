#!/usr/bin/env python3
"""Says whether an HTTPS server resumes TLS sessions: one full handshake with a
GET (so TLS 1.3 tickets arrive), then a second connection offering the
session. Prints "resumed" or "full" (or "error: ..."); exits 0 unless error.

usage: tls_resume.py HOST PORT PATH [BASE64_AUTH]
"""

import socket
import ssl
import sys


def get(ctx, host, port, path, auth, session=None):
    raw = socket.create_connection((host, port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    req = "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % path
    if auth:
        req += "Authorization: Basic %s\r\n" % auth
    s.sendall((req + "\r\n").encode())
    while s.recv(65536):
        pass
    reused, sess = s.session_reused, s.session
    s.close()
    return reused, sess


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    auth = sys.argv[4] if len(sys.argv) > 4 else ""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        _, sess = get(ctx, host, port, path, auth)
        reused, _ = get(ctx, host, port, path, auth, session=sess)
    except Exception as e:  # report, do not crash the benchmark
        print("error: %s" % e)
        return 1
    print("resumed" if reused else "full")
    return 0


if __name__ == "__main__":
    sys.exit(main())
