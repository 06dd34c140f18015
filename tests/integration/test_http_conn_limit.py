"""limits.max_connections_per_ip on HTTP: one client address holds at most
that many HTTPS and acme-http connections together; one more is closed
right after accept, before any byte of a TLS handshake comes back, with a
log line that says why. Every
connection admitted gives its count back once, however it ends: a failed,
abandoned or timed-out handshake, HTTP/1.1 and HTTP/2 closes from either
side (GOAWAY included), a SIGTERM drain and the closing of what is left at
shutdown_timeout."""

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

LIMIT = 4
ALICE = harness.basic_auth("alice", "alice-pw")
REFUSED = ("connection refused before the TLS handshake: 127.0.0.1 holds max_connections_per_ip (%d) "
           "HTTP connections (HTTPS and acme-http) already" % LIMIT)


def client_hello(alpn=("http/1.1",)):
    """The bytes of a real TLS ClientHello (SNI localhost), made without a socket."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def refused_before_handshake(port, timeout=5.0):
    """Sends a ClientHello on a fresh connection: True when the server ends
    the connection without a byte back (a refusal at accept), False when
    it answers (a ServerHello: admitted)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(client_hello())
        try:
            got = s.recv(1)
        except ConnectionResetError:
            return True
        return got == b""


def get_hello(c, timeout=10.0):
    c.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % ALICE)
    return c.read_response(timeout=timeout)


class LimitCase(harness.SharedServerCase):
    LIMITS = ""  # more keys of the limits group

    @classmethod
    def setUpClass(cls):
        cls.EXTRA = ("limits = { max_connections_per_ip = %d; max_login_failures = 1000;%s };"
                     % (LIMIT, cls.LIMITS))
        super().setUpClass()

    def tearDown(self):
        super().tearDown()
        self.assertNotIn("(a bug)", self.server.log())

    def held(self):
        """An HTTP/1.1 connection that was served one request and stays open."""
        c = harness.RawTLS(self.server)
        self.addCleanup(c.close)
        self.assertEqual(get_hello(c)[::2], (200, b"hello\n"))
        return c

    def hold_all(self, timeout=15.0):
        """LIMIT served connections at once, the client's whole share; waits
        for the server to have seen the end of earlier ones."""
        deadline = time.monotonic() + timeout
        while True:
            held = []
            try:
                for _ in range(LIMIT):
                    held.append(self.held())
                return held
            except (OSError, ssl.SSLError, AssertionError):
                for c in held:
                    c.close()
                self.assertLess(time.monotonic(), deadline, "%d connections were never admitted together" % LIMIT)
                time.sleep(0.2)

    def curl_hello(self):
        status, _, body = harness.curl(self.server, "/hello.txt", timeout=10)
        return (status, body) == (200, b"hello\n")


class Limit(LimitCase):
    def test_a_one_past_the_limit_is_closed_at_accept(self):
        held = self.hold_all()
        refused_before = self.server.log().count(REFUSED)
        self.assertTrue(refused_before_handshake(self.server.port),
                        "a connection past the limit got a handshake answer")
        self.assertTrue(self.server.wait_log(REFUSED, timeout=5, count=refused_before + 1),
                        "no log line says why the connection was refused")
        # A real client is refused too, and the connections held are served.
        out = subprocess.run(["curl", "-sS", "-k", "--max-time", "10", "-o", "/dev/null", "-u", "alice:alice-pw",
                              self.server.url("/hello.txt")], capture_output=True, timeout=20)
        self.assertNotEqual(out.returncode, 0, "curl was served past the limit")
        self.assertEqual(get_hello(held[0])[::2], (200, b"hello\n"))
        # One closes: a new connection is admitted, and serves a real request.
        held.pop().close()
        self.assertTrue(harness.wait_until(self.curl_hello, timeout=10, interval=0.2),
                        "a connection freed by its client was not given back")
        self.assertEqual(get_hello(held[0])[::2], (200, b"hello\n"))

    def test_b_a_flood_is_logged_once_a_minute(self):
        held = self.hold_all()
        before = self.server.log().count(REFUSED)
        for _ in range(30):
            self.assertTrue(refused_before_handshake(self.server.port))
        time.sleep(0.5)
        # One line a minute: the first test's refusal was logged already.
        self.assertLessEqual(self.server.log().count(REFUSED) - before, 1)
        for c in held:
            c.close()

    def test_d_acme_http_counts_with_https(self):
        """The plain acme-http port counts with HTTPS: one client holding
        its share of HTTPS connections is refused there too (else it could
        hold every connection the process takes through port 80, HTTPS's
        share with it), and admitted again once one closes."""
        services = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
                    {"type": "acme-http", "address": "127.0.0.1", "port": None, "https_port": 443}]
        with harness.Server(services=services,
                            extra="limits = { max_connections_per_ip = %d; };" % LIMIT) as s:
            with open(os.path.join(s.home(), "hello.txt"), "wb") as f:
                f.write(b"hello\n")
            plain = s.services[1]["port"]
            held = []
            for _ in range(LIMIT):
                c = harness.RawTLS(s)
                self.addCleanup(c.close)
                self.assertEqual(get_hello(c)[::2], (200, b"hello\n"))
                held.append(c)

            def answered():
                with socket.create_connection(("127.0.0.1", plain), timeout=5) as sock:
                    sock.sendall(b"GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    try:
                        return sock.recv(12).startswith(b"HTTP/1.1")
                    except ConnectionResetError:
                        return False
            self.assertFalse(answered(), "an acme-http connection past the limit was served")
            self.assertTrue(s.wait_log("acme-http 127.0.0.1:", timeout=5), s.log()[-2000:])
            self.assertIn("connection refused: 127.0.0.1 holds max_connections_per_ip (%d) HTTP connections" % LIMIT,
                          s.log())
            held.pop().close()
            self.assertTrue(harness.wait_until(answered, timeout=10, interval=0.2),
                            "no acme-http answer once an HTTPS connection closed")

    def test_c_a_ban_refuses_logins_not_connections(self):
        """A banned address keeps HTTP's behaviour: connections are admitted,
        requests with a password get 429 (here: a separate server that bans
        at the first failure)."""
        with harness.Server(extra="limits = { max_connections_per_ip = %d; max_login_failures = 1; };" % LIMIT) as s:
            with open(os.path.join(s.home(), "hello.txt"), "wb") as f:
                f.write(b"hello\n")
            status, _, _ = harness.curl(s, "/hello.txt", password="wrong", timeout=10)
            self.assertEqual(status, 401)
            self.assertTrue(s.wait_log("banning 127.0.0.1", timeout=5), s.log()[-2000:])
            status, headers, _ = harness.curl(s, "/hello.txt", timeout=10)
            self.assertEqual(status, 429)
            self.assertIn("retry-after", headers)


class EveryCloseGivesBack(LimitCase):
    """Connections that end every way there is, many at once from threads
    on both workers, some of them refused; then exactly LIMIT are admitted
    together again and one more is refused: no count was kept, none given
    back twice."""
    LIMITS = " header_timeout = 2;"
    KINDS = 7

    def churn_once(self, i):
        port = self.server.port
        kind = i % self.KINDS
        try:
            if kind == 0:  # not TLS at all: the handshake fails
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
                    s.recv(100)
            elif kind == 1:  # a ClientHello, then the client goes away
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(client_hello())
            elif kind == 2:  # half a ClientHello: the handshake times out
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    hello = client_hello()
                    s.sendall(hello[:len(hello) // 2])
                    s.recv(100)
            elif kind == 3:  # HTTP/1.1, closed by the server after the answer
                with harness.RawTLS(self.server, timeout=5) as c:
                    c.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                           "Connection: close\r\n\r\n" % ALICE)
                    c.read_response(timeout=5)
                    c.closed_by_peer(timeout=5)
            elif kind == 4:  # HTTP/1.1, closed by the client while idle
                with harness.RawTLS(self.server, timeout=5) as c:
                    get_hello(c, timeout=5)
            elif kind == 5:  # HTTP/2 without a request: the server's GOAWAY at header_timeout
                with harness.RawTLS(self.server, alpn=("h2",), timeout=5) as c:
                    c.send(harness.H2_PREFACE)
                    c.closed_by_peer(timeout=5)
            else:  # HTTP/2 with curl: a request, then the client's GOAWAY
                harness.curl(self.server, "/hello.txt", http="--http2", timeout=5)
        except (OSError, ssl.SSLError, AssertionError, subprocess.SubprocessError):
            pass  # refused past the limit, or cut short: either is a way to end

    def test_counts_come_back_after_churn(self):
        # Each way once, alone (so admitted), then a refusal, for sure.
        for kind in range(self.KINDS):
            self.churn_once(kind)
        self.assertIn("TLS handshake timed out", self.server.log())
        self.assertIn("no HTTP/2 request within 2 s", self.server.log())
        held = self.hold_all()
        self.assertTrue(refused_before_handshake(self.server.port))
        for c in held:
            c.close()
        # Then all at once, from threads, past the limit now and then.
        threads = []
        for t in range(8):
            def work(t=t):
                for i in range(t, 8 * 12, 8):
                    self.churn_once(i)
            threads.append(threading.Thread(target=work))
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        self.assertFalse(any(th.is_alive() for th in threads), "the churn did not end")
        held = self.hold_all()
        self.assertTrue(refused_before_handshake(self.server.port), "a count was given back twice")
        held.pop().close()
        self.assertTrue(harness.wait_until(self.curl_hello, timeout=10, interval=0.2))


class Shutdown(unittest.TestCase):
    """SIGTERM with the client's whole share open: idle HTTP/1.1 and HTTP/2
    connections close in the drain, a handshake under way is cut, an upload
    in progress is closed at shutdown_timeout. Each gives its count back:
    the server says nothing remains counted when it exits."""

    def test_drain_and_shutdown_timeout(self):
        with harness.Server(extra="limits = { max_connections_per_ip = %d; shutdown_timeout = 2; };" % LIMIT) as s:
            with open(os.path.join(s.home(), "hello.txt"), "wb") as f:
                f.write(b"hello\n")
            # The handshake under way first: the round trips of the others
            # leave the server time to accept it (a probe accepted before it
            # would take its place).
            handshake = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            self.addCleanup(handshake.close)
            hello = client_hello()
            handshake.sendall(hello[:len(hello) // 2])
            h1 = harness.RawTLS(s)
            self.addCleanup(h1.close)
            self.assertEqual(get_hello(h1)[0], 200)
            h2 = harness.RawTLS(s, alpn=("h2",))
            self.addCleanup(h2.close)
            h2.send(harness.H2_PREFACE)
            upload = harness.RawTLS(s)
            self.addCleanup(upload.close)
            upload.send("PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                        "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n" % ALICE)
            self.assertEqual(upload.read_response(timeout=30)[0], 100)  # its password was checked
            upload.send("x" * 1000)
            self.assertNotIn(REFUSED, s.log())
            self.assertTrue(refused_before_handshake(s.port), "the four connections were not all counted")
            t0 = time.monotonic()
            s.signal(signal.SIGTERM)
            self.assertEqual(s.proc.wait(timeout=20), 0)
            self.assertLess(time.monotonic() - t0, 10)
            log = s.log()
            self.assertIn("shutdown_timeout reached", log)  # the upload was still open
            self.assertNotIn("still counted", log)
            self.assertNotIn("(a bug)", log)


if __name__ == "__main__":
    harness.main()
