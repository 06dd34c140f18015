"""A TLS-ALPN-01 handshake that needs a HelloRetryRequest: GnuTLS calls the
client-hello hook once per ClientHello, so twice here, and the connection
must hold one reference to the challenge snapshot, not leak the first.

A leaked reference changes nothing a client sees; it shows as a leak when
the server exits under LeakSanitizer (the ASan run of the suite), which makes
the exit status non-zero. So the test asserts a clean exit, and that the
retried handshake really happened (two ClientHellos) and got the challenge
certificate.

The challenge is held pending on purpose: Pebble's DNS sends its validator
for the name to 127.0.0.2, where a socket that never answers keeps the
validation (and the order) waiting, while wharf serves the challenge on
127.0.0.1."""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from pebble import Pebble  # noqa: E402

NAME = "hrr.wharf.test"


def alpn_challenge_served(port):
    """Does wharf answer an acme-tls/1 handshake for NAME (a pending challenge)?"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["acme-tls/1"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
            with ctx.wrap_socket(raw, server_hostname=NAME) as s:
                return s.selected_alpn_protocol() == "acme-tls/1"
    except (OSError, ssl.SSLError):
        return False


class TlsAlpnHelloRetry(unittest.TestCase):
    def setUp(self):
        self.pebble = Pebble()
        self.addCleanup(self.pebble.cleanup)
        self.pebble.start()
        # The validator's connection is taken into this socket's backlog and
        # never answered: the challenge stays pending meanwhile.
        self.hole = socket.socket()
        self.hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.hole.bind(("127.0.0.2", self.pebble.tls_port))
        self.hole.listen(16)
        self.addCleanup(self.hole.close)
        req = urllib.request.Request("http://127.0.0.1:%d/add-a" % self.pebble.chall_mgmt_port,
                                     data=json.dumps({"host": NAME + ".", "addresses": ["127.0.0.2"]}).encode())
        urllib.request.urlopen(req, timeout=10).read()

    def test_retried_hello_takes_one_reference(self):
        services = [{"type": "https", "address": "127.0.0.1", "port": self.pebble.tls_port,
                     "certificates": ["main"]}]
        certs = [{"name": "main", "domains": [NAME], "challenge": "tls-alpn-01"}]
        s = Server(certificates=certs, services=services, extra=self.pebble.acme_config())
        self.addCleanup(s.cleanup)
        s.start()
        self.assertTrue(harness.wait_until(lambda: alpn_challenge_served(s.port), 30),
                        "no TLS-ALPN-01 challenge served:\n" + s.log()[-3000:])
        # The client's only key share is for X448, which wharf does not
        # take: the server asks again (HelloRetryRequest) for one it takes.
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % s.port, "-servername", NAME,
                              "-alpn", "acme-tls/1", "-tls1_3", "-groups", "X448:P-256", "-msg"],
                             input=b"", capture_output=True, timeout=30)
        text = out.stdout.decode("latin-1")
        hellos = [line for line in text.splitlines() if line.startswith(">>> ") and "ClientHello" in line]
        self.assertEqual(len(hellos), 2, text[-3000:])
        self.assertIn("ALPN protocol: acme-tls/1", text)
        self.assertIn("TLSv1.3", text)
        s.signal(signal.SIGTERM)
        s.proc.wait(timeout=30)
        log = s.log()
        self.assertFalse("LeakSanitizer" in log, log[-6000:])
        self.assertEqual(s.proc.returncode, 0, log[-6000:])


if __name__ == "__main__":
    harness.main()
