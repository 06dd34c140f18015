"""limits.min_rate: a transfer that moves, but fewer than min_rate x
send_timeout bytes in a send_timeout window, is dropped as a stalled one is,
in each protocol and direction; one well above the rate, with pauses shorter
than the window, completes. Before, any byte within send_timeout was
progress: a client sending or granting a few bytes every second held its
temp file and descriptors for ever.

Uploads and HTTP/2 downloads are trickled by the client itself (a few
bytes at a time, or 100 bytes of stream window at a time). HTTP/1.1 and
FTPS downloads have no flow control but TCP's, and the kernel moves a
download read slowly in steps of its socket buffers (megabytes on
loopback): read at a trickle, the server sees no progress at all for
seconds, which send_timeout already caught. Their test reads a megabyte
every half second instead (the server then moves some every second) against
a min_rate far above that."""

import os
import re
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ftps_util  # noqa: E402
import harness  # noqa: E402
from h2_util import ALICE, H2Client  # noqa: E402

SEND_TIMEOUT = 2
MIN_RATE = 1000
TEMP_PREFIX = ".wharf-upload."
PROTOCOL_ERROR = 1
# A trickle: 100 bytes every half second is 200 bytes/s, a fifth of MIN_RATE,
# yet a byte well within every send_timeout.
TRICKLE, TRICKLE_EVERY = 100, 0.5
# Dropped within two windows of the first (which may still hold a burst),
# and some slack for a loaded machine.
DROPPED_WITHIN = 3 * SEND_TIMEOUT + 2
GIVE_UP = 12


class Base(ftps_util.FTPSCase):
    HTTPS = True
    WORKERS = 1

    def home_path(self, name):
        return os.path.join(self.server.home(), name)

    def temp_files(self):
        return [n for n in os.listdir(self.server.home()) if n.startswith(TEMP_PREFIX)
                and not n.endswith(".partial")]

    def assert_rate_logged(self, rate, what=""):
        pattern = r"%smade \d+ bytes of progress in %d s, below limits\.min_rate %d" % (
            what, SEND_TIMEOUT, rate)
        self.assertTrue(harness.wait_until(lambda: re.search(pattern, self.server.log()), timeout=5),
                        "no line matching %r" % pattern)


class Trickle(Base):
    EXTRA = "limits = { send_timeout = %d; min_rate = %d; };" % (SEND_TIMEOUT, MIN_RATE)

    @classmethod
    def prepare(cls, server):
        cls.slow = os.urandom(1 << 20)
        server.put_file("slow.bin", cls.slow)
        server.put_file("small.txt", b"small\n")
        cls.mid = os.urandom(100000)
        server.put_file("mid.bin", cls.mid)

    # -- below the rate: dropped

    def test_http1_upload_trickle_is_cut(self):
        with harness.RawTLS(self.server) as t:
            t.send("PUT /h1-trickle.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: 100000\r\n\r\n" % harness.basic_auth("alice", "alice-pw"))
            start, closed = time.monotonic(), False
            while time.monotonic() - start < GIVE_UP and not closed:
                try:
                    t.send(b"x" * TRICKLE)
                except OSError:
                    closed = True
                    break
                closed = t.closed_by_peer(timeout=TRICKLE_EVERY)
            took = time.monotonic() - start
        self.assertTrue(closed, "200 bytes/s kept an HTTP/1.1 upload open for %d s" % GIVE_UP)
        self.assertLess(took, DROPPED_WITHIN)
        self.assert_rate_logged(MIN_RATE, "transfer ")
        self.assertFalse(os.path.exists(self.home_path("h1-trickle.bin")))
        self.assertTrue(harness.wait_until(lambda: self.temp_files() == [], 5), self.temp_files())

    def test_http2_upload_trickle_is_reset(self):
        c = H2Client(self.server)
        self.addCleanup(c.close)
        sid = c.request("PUT", "/h2-trickle.bin", body_follows=True, length=100000)
        s = c.streams[sid]
        start = time.monotonic()
        while s.reset is None and not c.closed and time.monotonic() - start < GIVE_UP:
            c.send_body(sid, b"u" * TRICKLE)
            c.wait(lambda: s.reset is not None, TRICKLE_EVERY)
        self.assertEqual(s.reset, PROTOCOL_ERROR, "200 bytes/s kept an HTTP/2 upload open")
        self.assertLess(s.reset_at - start, DROPPED_WITHIN)
        self.assert_rate_logged(MIN_RATE, "HTTP/2 stream %d " % sid)
        self.assertEqual(c.get("/small.txt")[0], 200)  # the connection goes on
        self.assertFalse(os.path.exists(self.home_path("h2-trickle.bin")))
        self.assertTrue(harness.wait_until(lambda: self.temp_files() == [], 5), self.temp_files())

    def test_http2_download_trickle_is_reset(self):
        """The stream's window opens 100 bytes at a time once its first 64 KiB
        are in: the first window's burst passes, the trickle after it does not."""
        c = H2Client(self.server)
        self.addCleanup(c.close)
        sid = c.request("GET", "/slow.bin", hold=True)
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: len(s.data) >= 65535, 5), "the first 64 KiB did not come")
        got = c.read_granting(sid, TRICKLE, TRICKLE_EVERY, GIVE_UP)
        self.assertEqual(got.reset, PROTOCOL_ERROR, "200 bytes/s of window kept an HTTP/2 download open")
        self.assertLess(got.took, DROPPED_WITHIN)
        self.assertLess(len(got.data), len(self.slow))
        self.assertGreater(len(got.data), 65535)  # the trickle moved: not a stall
        self.assert_rate_logged(MIN_RATE, "HTTP/2 stream %d " % sid)
        self.assertEqual(c.get("/small.txt")[0], 200)

    def test_ftps_upload_trickle_is_cut_and_parked(self):
        c = self.control()
        c.login()
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=5)
        self.addCleanup(raw.close)
        r = c.cmd("STOR ftp-trickle.bin")
        self.assertEqual(r.code, 150, r)
        d = c.wrap_data(raw)
        self.addCleanup(d.close)
        d.settimeout(2)
        start, r = time.monotonic(), None
        while r is None and time.monotonic() - start < GIVE_UP:
            try:
                d.sendall(b"f" * TRICKLE)
            except (ssl.SSLError, OSError):
                pass  # cut: the reply says how
            try:
                r = c.read_reply(timeout=TRICKLE_EVERY)
            except ftps_util.Closed:
                raise
            except AssertionError:  # no reply yet
                pass
        took = time.monotonic() - start
        self.assertIsNotNone(r, "200 bytes/s kept an FTPS upload open for %d s" % GIVE_UP)
        self.assertLess(took, DROPPED_WITHIN)
        self.assertEqual(r.code, 426, r)
        self.assertIn("Data connection timed out", r.text)
        self.assertRegex(r.text, r"\d+ bytes kept: resume with REST")
        self.assertFalse(os.path.exists(self.home_path("ftp-trickle.bin")))
        self.assertTrue([n for n in os.listdir(self.server.home()) if "ftp-trickle.bin" in n
                         and n.endswith(".partial")], os.listdir(self.server.home()))
        self.assert_rate_logged(MIN_RATE, "transfer of /ftp-trickle.bin ")

    # -- above the rate, with pauses shorter than send_timeout: complete

    BURST, BURSTS, PAUSE = 4000, 5, 1.2  # over 3000 bytes/s

    def test_http1_upload_in_bursts_completes(self):
        body = os.urandom(self.BURST * self.BURSTS)
        with harness.RawTLS(self.server) as t:
            t.send("PUT /h1-bursts.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (harness.basic_auth("alice", "alice-pw"), len(body)))
            for i in range(0, len(body), self.BURST):
                time.sleep(self.PAUSE)
                t.send(body[i:i + self.BURST])
            status, _, _ = t.read_final_response()
        self.assertEqual(status, 201)
        with open(self.home_path("h1-bursts.bin"), "rb") as f:
            self.assertEqual(f.read(), body)

    def test_http2_upload_in_bursts_completes(self):
        c = H2Client(self.server)
        self.addCleanup(c.close)
        body = os.urandom(self.BURST * self.BURSTS)
        sid = c.request("PUT", "/h2-bursts.bin", body_follows=True, length=len(body))
        s = c.streams[sid]
        for i in range(0, len(body), self.BURST):
            c.wait(lambda: s.reset is not None, self.PAUSE)
            c.send_body(sid, body[i:i + self.BURST], end=i + self.BURST >= len(body))
        self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, 10))
        self.assertIsNone(s.reset)
        self.assertEqual(s.status, 201)
        with open(self.home_path("h2-bursts.bin"), "rb") as f:
            self.assertEqual(f.read(), body)

    def test_http2_download_in_bursts_completes(self):
        """8 KiB of window a second, after the first 64 KiB."""
        c = H2Client(self.server)
        self.addCleanup(c.close)
        sid = c.request("GET", "/mid.bin", hold=True)
        got = c.read_granting(sid, 8192, 1.0, 15)
        self.assertIsNone(got.reset)
        self.assertTrue(got.ended)
        self.assertGreater(got.took, SEND_TIMEOUT)
        self.assertEqual(got.data, self.mid)

    def test_ftps_upload_in_bursts_completes(self):
        c = self.control()
        c.login()
        body = os.urandom(self.BURST * self.BURSTS)
        raw = socket.create_connection(("127.0.0.1", c.epsv()), timeout=5)
        self.addCleanup(raw.close)
        r = c.cmd("STOR ftp-bursts.bin")
        self.assertEqual(r.code, 150, r)
        d = c.wrap_data(raw)
        for i in range(0, len(body), self.BURST):
            time.sleep(self.PAUSE)
            d.sendall(body[i:i + self.BURST])
        d.settimeout(5)
        d.unwrap()
        d.close()
        r = c.read_reply(timeout=10)
        self.assertEqual(r.code, 226, r)
        with open(self.home_path("ftp-bursts.bin"), "rb") as f:
            self.assertEqual(f.read(), body)


PACED_RATE = 16 << 20  # bytes/s: far above what the paced reader below takes
PACED_READ, PACED_EVERY = 1 << 20, 0.5  # about 2 MiB/s


class Paced(Base):
    """Downloads without flow control of their own, read at about 2 MiB/s
    against a min_rate of 16 MiB/s (see the module's text)."""
    EXTRA = "limits = { send_timeout = %d; min_rate = %d; };" % (SEND_TIMEOUT, PACED_RATE)

    @classmethod
    def prepare(cls, server):
        cls.size = 40 << 20  # more than the old code moved in GIVE_UP at this pace
        server.put_file("big.bin", os.urandom(cls.size))

    def read_paced(self, conn):
        """Reads PACED_READ every PACED_EVERY until the end or GIVE_UP:
        (bytes read, seconds, whether the end came)."""
        conn.settimeout(1)
        start, got = time.monotonic(), 0
        while time.monotonic() - start < GIVE_UP:
            want = PACED_READ
            while want > 0:
                try:
                    chunk = conn.recv(min(want, 1 << 16))
                except (socket.timeout, TimeoutError):
                    break
                except (ssl.SSLError, OSError):
                    chunk = b""
                if not chunk:
                    return got, time.monotonic() - start, True
                got += len(chunk)
                want -= len(chunk)
            time.sleep(PACED_EVERY)
        return got, time.monotonic() - start, False

    def paced_socket(self, port):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 10)  # no autotuning to tens of MB
        raw.settimeout(5)
        raw.connect(("127.0.0.1", port))
        self.addCleanup(raw.close)
        return raw

    def test_http1_download_below_rate_is_cut(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        t = ctx.wrap_socket(self.paced_socket(self.server.port), server_hostname="localhost")
        self.addCleanup(t.close)
        t.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % ALICE.encode())
        got, took, ended = self.read_paced(t)
        self.assertTrue(ended, "about 2 MiB/s kept a download open for %d s (min_rate 16 MiB/s)" % GIVE_UP)
        self.assertLess(took, DROPPED_WITHIN + 2)
        self.assertLess(got, self.size)
        self.assert_rate_logged(PACED_RATE, "transfer ")

    def test_ftps_download_below_rate_is_cut(self):
        c = self.control()
        c.login()
        raw = self.paced_socket(c.epsv())
        r = c.cmd("RETR big.bin")
        self.assertEqual(r.code, 150, r)
        d = c.wrap_data(raw)
        self.addCleanup(d.close)
        got, took, ended = self.read_paced(d)
        self.assertTrue(ended, "about 2 MiB/s kept an FTPS download open for %d s (min_rate 16 MiB/s)" % GIVE_UP)
        self.assertLess(took, DROPPED_WITHIN + 2)
        self.assertLess(got, self.size)
        r = c.read_reply(timeout=5)
        self.assertEqual(r.code, 426, r)
        self.assertIn("Data connection timed out", r.text)
        self.assert_rate_logged(PACED_RATE, "transfer of /big.bin ")


if __name__ == "__main__":
    harness.main()
