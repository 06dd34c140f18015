"""TLS as clients see it, through gnutls-cli and Python's ssl (OpenSSL): TLS
1.2 and 1.3 negotiate, 1.1 and 1.0 are refused (and logged), only AEAD
ciphers, ALPN offers h2 and http/1.1, and tls.min_version = "1.3" shuts out
TLS 1.2."""

import os
import re
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

ONLY = "NORMAL:-VERS-ALL:+VERS-%s"
PROTOCOL_VERSION, HANDSHAKE_FAILURE = 70, 40  # TLS alerts (RFC 8446 6.2)


def gnutls(port, priority=None, alpn=(), sni="localhost", request=b""):
    """One gnutls-cli connection; returns (exit code, the '- ' info lines and
    errors as text, everything it printed)."""
    cmd = ["gnutls-cli", "--insecure", "-p", str(port), "127.0.0.1", "--sni-hostname", sni]
    if priority:
        cmd += ["--priority", priority]
    for a in alpn:
        cmd += ["--alpn", a]
    out = subprocess.run(cmd, input=request, capture_output=True, timeout=20)
    text = out.stdout.decode("latin-1") + out.stderr.decode("latin-1")
    return out.returncode, text


def negotiated(text):
    m = re.search(r"- Description: \((TLS1\.\d)-", text)
    return m.group(1) if m else None


def app_protocol(text):
    m = re.search(r"- Application protocol: (\S+)", text)
    return m.group(1) if m else None


class TLSVersions(harness.SharedServerCase):
    HELLO = b"hello over tls\n"

    def assertNegotiates(self, version):
        rc, text = gnutls(self.server.port, ONLY % version)
        self.assertEqual(rc, 0, text[-1500:])
        self.assertIn("Handshake was completed", text)
        self.assertEqual(negotiated(text), version)
        return text

    def assertRefused(self, priority, alert):
        """The handshake fails, the client is told why (the alert, so it
        can say more than that the connection closed), and the server logs
        why."""
        before = self.server.log().count("TLS handshake failed")
        rc, text = gnutls(self.server.port, priority)
        self.assertNotEqual(rc, 0, text[-1500:])
        self.assertNotIn("Handshake was completed", text)
        self.assertIn("Received alert [%d]" % alert, text)
        self.assertTrue(harness.wait_until(
            lambda: self.server.log().count("TLS handshake failed") > before, timeout=5))

    def python_get(self, version):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_alpn_protocols(["http/1.1"])
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                          b"Authorization: " + harness.basic_auth("alice", "alice-pw").encode() + b"\r\n\r\n")
                data = b""
                while True:
                    try:
                        chunk = s.recv(4096)
                    except (ssl.SSLEOFError, ConnectionResetError):
                        break
                    if not chunk:
                        break
                    data += chunk
                return s.version(), data

    def test_tls12_negotiates(self):
        text = self.assertNegotiates("TLS1.2")
        # AEAD only, forward secret.
        self.assertRegex(text, r"- Description: \(TLS1\.2-X\.509\)-\(ECDHE-[^)]+\)-\([^)]+\)-"
                               r"\((AES-128-GCM|AES-256-GCM|CHACHA20-POLY1305)\)")

    def test_tls13_negotiates(self):
        self.assertNegotiates("TLS1.3")

    def test_tls11_refused(self):
        self.assertRefused(ONLY % "TLS1.1", PROTOCOL_VERSION)

    def test_tls10_refused(self):
        self.assertRefused(ONLY % "TLS1.0", PROTOCOL_VERSION)

    def test_cbc_only_client_refused(self):
        self.assertRefused("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC", HANDSHAKE_FAILURE)

    def test_requests_work_over_both_versions(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            with self.subTest(version=name):
                got, data = self.python_get(version)
                self.assertEqual(got, name)
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
                self.assertTrue(data.endswith(b"\r\n\r\nhello over tls\n"))

    def test_alpn_offers_h2_and_http11(self):
        for offered, expect in (((), None), (("h2",), "h2"), (("http/1.1",), "http/1.1"),
                                (("http/1.1", "h2"), "h2"), (("h2", "http/1.1"), "h2")):
            with self.subTest(offered=offered):
                rc, text = gnutls(self.server.port, alpn=offered)
                self.assertEqual(rc, 0, text[-1500:])
                self.assertEqual(app_protocol(text), expect)

    def test_alpn_result_matches_protocol_spoken(self):
        # curl sees the protocol ALPN chose.
        self.assertEqual(harness.curl_http_version(self.server, "/hello.txt", http="--http2"), ("2", 200))
        self.assertEqual(harness.curl_http_version(self.server, "/hello.txt", http="--http1.1"), ("1.1", 200))
        # And so does a raw client offering only http/1.1, both TLS versions.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                _, data = self.python_get(version)
                self.assertIn(b"hello over tls", data)

    def test_server_survives_refusals(self):
        for v in ("TLS1.0", "TLS1.1"):
            gnutls(self.server.port, ONLY % v)
        self.assertIsNone(self.server.proc.poll())
        status, _, body = harness.curl(self.server, "/hello.txt")
        self.assertEqual((status, body), (200, b"hello over tls\n"))


class TLS13Only(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra='tls = { min_version = "1.3"; };')
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def test_tls12_refused_tls13_accepted(self):
        rc, text = gnutls(self.server.port, ONLY % "TLS1.2")
        self.assertNotEqual(rc, 0)
        self.assertNotIn("Handshake was completed", text)
        rc, text = gnutls(self.server.port, ONLY % "TLS1.3")
        self.assertEqual(rc, 0, text[-1500:])
        self.assertEqual(negotiated(text), "TLS1.3")


if __name__ == "__main__":
    harness.main()
