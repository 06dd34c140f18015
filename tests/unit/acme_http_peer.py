#!/usr/bin/python3
"""HTTPS peer for test_acme_http: a stand-in CA endpoint, Python stdlib only.

Usage: acme_http_peer.py DIR. Writes a throwaway self-signed certificate for
127.0.0.1 to DIR/cert.pem (key in DIR/key.pem), listens on an ephemeral port
of 127.0.0.1 and prints that port on one line. Exits when its stdin closes, so
it never outlives the test that started it.
"""
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client can reuse connections

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", ctype="text/plain; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path == "/hello":
            # Names in mixed case and padded values: the client must match
            # names case-insensitively and trim values.
            self.reply(200, b"hello\n", headers=[
                ("Replay-Nonce", "nonce-abc"),
                ("location", "https://127.0.0.1/acct/1"),
                ("Link", '<https://127.0.0.1/dir>;rel="index"'),
                ("LINK", '  <https://127.0.0.1/up>;rel="up"  '),
                ("retry-after", " 7"),
            ])
        elif path == "/longhdr":
            self.reply(200, b"", headers=[
                ("Replay-Nonce", "n" * 300),
                ("Location", "https://127.0.0.1/x"),
                ("Retry-After", "1\x017"),
            ])
        elif path == "/early":
            # An interim response whose headers must not leak into the final one.
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: <https://127.0.0.1/early>\r\n"
                             b"Replay-Nonce: early\r\n\r\n")
            self.reply(200, b"final", headers=[("Replay-Nonce", "final"),
                                               ("Link", "<https://127.0.0.1/final>")])
        elif path == "/conn":
            self.reply(200, str(self.client_address[1]).encode())
        elif path == "/slow":
            time.sleep(3)
            self.reply(200, b"slow")
        elif path == "/big":
            self.reply(200, b"x" * (2 << 20), ctype="application/octet-stream")
        elif path == "/bigstream":
            # No Content-Length: only the client's running count can stop it.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            for _ in range(32):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif path.startswith("/status/"):
            self.reply(int(path[len("/status/"):]), b"status")
        else:
            self.reply(404, b"not found")

    def do_HEAD(self):
        if self.path == "/head":
            self.reply(200, headers=[("Replay-Nonce", "head-nonce"), ("Cache-Control", "no-store")])
        else:
            self.reply(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        if self.path != "/post":
            self.reply(404, b"not found")
            return
        echo = {
            "body": body,
            "content_type": self.headers.get("Content-Type"),
            "expect": self.headers.get("Expect"),
            "user_agent": self.headers.get("User-Agent"),
        }
        self.reply(200, json.dumps(echo, sort_keys=True).encode(), ctype="application/json")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that reject our certificate or hang up early are part of the test.
        pass


def main():
    folder = sys.argv[1]
    cert = os.path.join(folder, "cert.pem")
    key = os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", 0), Handler)
    # Handshakes happen in the handler threads, so a slow one blocks nobody.
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(srv.server_address[1], flush=True)
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
