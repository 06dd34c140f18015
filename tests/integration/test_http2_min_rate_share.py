"""limits.min_rate over HTTP/2 with several streams on one connection.

Each stream is judged on its own share of what the connection moves: the
DATA it sent itself, or, if more, an equal share of the DATA sent while its
answer waited with its own window open (nghttp2 picks which stream sends).
Before, such a stream was credited with all the connection's DATA in its
window, so a client that set large stream windows and opened the
connection's window at just over min_rate kept a hundred streams (and a
hundred open files) for the price of one. Streams served one after another
by the client's priorities on a fast connection still all complete.

While one stream's password check pauses the connection's reads (its DATA
came before the check was over), no stream's WINDOW_UPDATEs are read
either: that wait is the server's, for downloads too. Before, only uploads
were excused, and a download read briskly was reset in the pause."""

import os
import re
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import h2_util  # noqa: E402
from h2_util import ALICE, H2Client  # noqa: E402

import h2.config  # noqa: E402  (h2_util says what to install if it is missing)
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.settings  # noqa: E402

SEND_TIMEOUT = 2
MIN_RATE = 1000
PROTOCOL_ERROR = 1
STREAMS = 10
# The connection's window is opened CONN_GRANT bytes each CONN_EVERY s:
# 1500 bytes/s, above MIN_RATE for one stream, a seventh of it for STREAMS.
CONN_GRANT, CONN_EVERY = 750, 0.5
# Dropped within two windows of the first (which may still hold the first
# 64 KiB of connection window), and some slack for a loaded machine.
DROPPED_WITHIN = 3 * SEND_TIMEOUT + 2
GIVE_UP = 12


class _Client:
    """What both clients below share: a GET on a new stream, the events of
    what came, and the close. Subclasses set sock, conn and streams."""

    def get(self, path):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":path", path),
                                     (":authority", "localhost"), ("authorization", ALICE)], end_stream=True)
        self.streams[sid] = h2_util.Stream()
        self.flush()
        return sid

    def handle(self, data, acknowledge):
        """Takes the HTTP/2 bytes data; with acknowledge, every window is
        opened again by the DATA that came (a stream's only while it is
        live, else the connection's alone)."""
        now = time.monotonic()
        for ev in self.conn.receive_data(data):
            s = self.streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.DataReceived):
                s.data += ev.data
                if acknowledge and s.reset is None and not s.ended:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif acknowledge:
                    self.conn.increment_flow_control_window(ev.flow_controlled_length)
            elif isinstance(ev, h2.events.StreamEnded):
                s.ended, s.ended_at = True, now
            elif isinstance(ev, h2.events.StreamReset):
                s.reset, s.reset_at = ev.error_code, now
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class WindowFedClient(_Client):
    """One HTTP/2 connection whose streams' windows are 1 MiB and whose
    connection window only the test opens (the first 64 KiB aside): the
    connection, not any stream, is the limit."""

    def __init__(self, server, timeout=10.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        self.streams = {}
        self.closed = False
        self.flush()

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, timeout):
        """One read within timeout; DATA is never acknowledged, on the
        stream or the connection."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
            return
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return
        self.handle(data, acknowledge=False)

    def feed_connection(self, until, limit):
        """Opens CONN_GRANT bytes of the connection's window each
        CONN_EVERY s until until() holds, the connection closes or limit s
        pass."""
        start = time.monotonic()
        next_grant = start + CONN_EVERY
        while not until() and not self.closed and time.monotonic() - start < limit:
            self.pump(min(0.1, max(next_grant - time.monotonic(), 0.001)))
            if time.monotonic() >= next_grant:
                self.conn.increment_flow_control_window(CONN_GRANT)
                self.flush()
                next_grant += CONN_EVERY


class MinRateShare(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        slow = {"name": "slow", "password": "slow-pw", "hash": harness.slow_hash("slow-pw"),
                "perms": ["read", "write"]}
        alice = {"name": "alice", "password": "alice-pw", "perms": ["read", "write", "delete", "mkdir"]}
        cls.server = harness.Server(
            users=[alice, slow], workers=1,
            extra="limits = { max_login_failures = 1000; send_timeout = %d; min_rate = %d; };"
            % (SEND_TIMEOUT, MIN_RATE))
        cls.addClassCleanup(cls.server.cleanup)
        cls.big = os.urandom(4 << 20)
        cls.server.put_file("big.bin", cls.big)
        cls.mid = os.urandom(2 << 20)
        cls.server.put_file("mid.bin", cls.mid)
        cls.server.put_file("hello.txt", b"hello\n")
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def test_streams_sharing_a_trickled_connection_are_reset(self):
        """STREAMS downloads with 1 MiB stream windows, the connection's
        window opened at 1500 bytes/s: each stream moves about 150 bytes/s,
        and all of them (but perhaps one, which then has the connection to
        itself) are reset as below min_rate. Before, each was credited with
        all the connection's bytes, and none was."""
        c = WindowFedClient(self.server)
        self.addCleanup(c.close)
        sids = [c.get("/big.bin") for _ in range(STREAMS)]
        start = time.monotonic()

        def resets():
            return [sid for sid in sids if c.streams[sid].reset is not None]

        c.feed_connection(lambda: len(resets()) >= STREAMS - 1, GIVE_UP)
        reset = resets()
        self.assertFalse(c.closed, "the connection closed: only streams are to be reset")
        self.assertGreaterEqual(len(reset), STREAMS - 1,
                                "1500 bytes/s kept %d of %d streams open for %.0f s (min_rate %d each)"
                                % (STREAMS - len(reset), STREAMS, time.monotonic() - start, MIN_RATE))
        for sid in reset:
            s = c.streams[sid]
            self.assertEqual(s.reset, PROTOCOL_ERROR)
            self.assertLess(s.reset_at - start, DROPPED_WITHIN)
            self.assertLess(len(s.data), len(self.big))
            pattern = r"HTTP/2 stream %d made \d+ bytes of progress in %d s, below limits\.min_rate %d" % (
                sid, SEND_TIMEOUT, MIN_RATE)
            self.assertTrue(harness.wait_until(lambda: re.search(pattern, self.server.log()), timeout=5),
                            "no line matching %r" % pattern)

    def test_streams_served_in_turn_on_a_fast_connection_complete(self):
        """Downloads the client's priorities serve one after another (each
        depends on the one before, as browsers chain them), read at about
        1 MB/s: the last waits several send_timeouts for its first DATA, yet
        none is reset, as the connection moves far more than min_rate for
        each of them."""
        c = H2Client(self.server, timeout=10, rcvbuf=64 << 10)
        self.addCleanup(c.close)
        # Windows that never run out: the priorities alone say who sends.
        c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16 << 20})
        sids = []
        for i in range(4):
            sid = c.conn.get_next_available_stream_id()
            c.streams[sid] = h2_util.Stream()
            c.conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":path", "/mid.bin"),
                                      (":authority", "localhost"), ("authorization", ALICE)], end_stream=True,
                                priority_depends_on=sids[-1] if sids else 0, priority_exclusive=True)
            sids.append(sid)
        c.flush()
        start = time.monotonic()
        seen = {sid: (0, start) for sid in sids}  # bytes so far, and when they last grew
        gap = {sid: 0.0 for sid in sids}  # the longest each went without DATA before its end

        def over():
            return all(c.streams[sid].ended or c.streams[sid].reset is not None for sid in sids)

        while not over() and not c.closed and time.monotonic() - start < 30:
            for _ in range(4):  # a TLS record (16 KiB) a read: 64 KiB at most each 0.05 s
                c.pump(0.01)
            now = time.monotonic()
            for sid in sids:
                n = len(c.streams[sid].data)
                if n != seen[sid][0]:
                    gap[sid] = max(gap[sid], now - seen[sid][1])
                    seen[sid] = (n, now)
            time.sleep(0.05)
        took = time.monotonic() - start
        for sid in sids:
            s = c.streams[sid]
            self.assertIsNone(s.reset, "stream %d was reset after %.1f s" % (sid, (s.reset_at or 0) - start))
            self.assertTrue(s.ended, "stream %d did not end within 30 s" % sid)
            self.assertEqual(bytes(s.data), self.mid)
        # One waited two windows and more with no DATA of its own.
        self.assertGreater(max(gap.values()), 2 * SEND_TIMEOUT,
                           "not served in turn, or read too fast to show anything: longest waits %r, "
                           "all over in %.1f s" % (gap, took))
        self.assertNotIn("below limits.min_rate", self.server.log())

    def test_download_beside_a_paused_password_check_is_not_reset(self):
        """A download read briskly (64 KiB of window a second, 64 times
        min_rate) on the connection where another stream's DATA waits for a
        password check held up for seconds behind a busy pool: the reads
        pause for the check, WINDOW_UPDATEs too, and the download is not
        reset, neither in the pause nor just after it."""
        c = H2Client(self.server, timeout=30)
        self.addCleanup(c.close)
        a = c.request("GET", "/big.bin", hold=True)
        sa = c.streams[a]
        self.assertTrue(c.wait(lambda: len(sa.data) >= 65535, 5), "the first 64 KiB did not come")

        def pace(secs):
            end = time.monotonic() + secs
            while time.monotonic() < end and sa.reset is None and not sa.ended and not c.closed:
                c.grant(a, 16384)
                c.wait(lambda: sa.reset is not None, 0.25)

        pace(SEND_TIMEOUT + 1)
        self.assertIsNone(sa.reset)
        held = harness.hold_pool(self.server, 4, 30)
        for h in held:
            self.addCleanup(h.close)
        b = c.conn.get_next_available_stream_id()
        c.streams[b] = h2_util.Stream()
        c.conn.send_headers(b, [(":method", "PUT"), (":scheme", "https"), (":path", "/paused-up.bin"),
                                (":authority", "localhost"), ("authorization", harness.basic_auth("slow", "slow-pw")),
                                ("content-length", "100")])
        c.conn.send_data(b, b"x" * 100, end_stream=True)
        c.flush()
        sb = c.streams[b]
        paused_at = time.monotonic()
        pace(4 * SEND_TIMEOUT)
        self.assertTrue(c.wait(lambda: sb.status is not None, 20), "the upload was not answered")
        self.assertEqual(sb.status, 201)
        self.assertIn("stream %d: DATA waits for the password check" % b, self.server.log())
        self.assertIsNone(sa.reset, "the download was reset %.1f s into the pause" % ((sa.reset_at or 0) - paused_at))
        self.assertFalse(c.closed)
        before = len(sa.data)
        pace(SEND_TIMEOUT + 1)  # after the pause, too
        self.assertIsNone(sa.reset)
        self.assertGreater(len(sa.data), before)
        self.assertNotRegex(self.server.log(), r"HTTP/2 stream %d made" % a)


# The slow reader: READ_RAW bytes of TLS off the socket each READ_EVERY s
# (16 KB/s), its windows all open, READERS streams: a little over 1300
# bytes/s each, a third of READER_RATE (four streams could live on it).
READER_RATE = 4000
READ_RAW, READ_EVERY = 4096, 0.25
READERS = 12


class SlowReaderClient(_Client):
    """One HTTP/2 connection whose client opens every window as DATA comes
    but reads the TCP socket itself slowly (TLS over memory BIOs, so the
    pace is that of the raw bytes, not of 16 KiB records); the receive
    buffer is small, so little waits in the kernel."""

    def __init__(self, server, timeout=10.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", server.port))
        self.inc, self.outg = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.outg, server_hostname="localhost")
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._send_tls()
                if time.monotonic() > deadline:
                    raise AssertionError("no TLS handshake within %.0f s" % timeout)
                data = self.sock.recv(65536)
                if not data:
                    raise AssertionError("the server closed during the handshake")
                self.inc.write(data)
        self._send_tls()
        assert self.tls.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16 << 20})
        self.conn.increment_flow_control_window(16 << 20)
        self.streams = {}
        self.closed = False
        self.flush()

    def _send_tls(self):
        out = self.outg.read()
        if out:
            self.sock.sendall(out)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.tls.write(out)
        self._send_tls()

    def read_some(self, n, timeout):
        """Takes up to n raw bytes off the socket and handles what they
        complete; every window is opened again by what came."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(n)
        except (socket.timeout, TimeoutError):
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        self.inc.write(data)
        plain = b""
        while True:
            try:
                chunk = self.tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            plain += chunk
        if not plain:
            return
        self.handle(plain, acknowledge=True)

    def read_slowly(self, until, limit):
        """READ_RAW bytes each READ_EVERY s until until() holds, the
        connection closes or limit s pass."""
        start = time.monotonic()
        while not until() and not self.closed and time.monotonic() - start < limit:
            self.read_some(READ_RAW, READ_EVERY)
            time.sleep(READ_EVERY)


class MinRateShareSlowReader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(
            workers=1, extra="limits = { send_timeout = %d; min_rate = %d; };" % (SEND_TIMEOUT, READER_RATE))
        cls.addClassCleanup(cls.server.cleanup)
        path = os.path.join(cls.server.home(), "big.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(4 << 20))
        cls.server.give(path)
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def test_streams_read_slowly_off_the_socket_are_reset(self):
        """READERS downloads, every window open, the socket read at about
        16 KB/s: the connection moves four times READER_RATE, not twelve,
        and all the streams but the few it carries at the rate are reset
        as below it. Their resets wait behind what the server has already
        queued for this slow reader (a few hundred KiB), so the connection
        may close instead, as a reset not sent within send_timeout does.
        Before, each stream was credited with all the connection's bytes,
        and none was reset."""
        c = SlowReaderClient(self.server)
        self.addCleanup(c.close)
        sids = [c.get("/big.bin") for _ in range(READERS)]
        start = time.monotonic()
        least = READERS - 16000 // READER_RATE

        def below():
            found = re.findall(r"HTTP/2 stream (\d+) made \d+ bytes of progress in %d s, below limits\.min_rate %d"
                               % (SEND_TIMEOUT, READER_RATE), self.server.log())
            return {int(sid) for sid in found}

        c.read_slowly(lambda: len(below()) >= least, GIVE_UP)
        took = time.monotonic() - start
        judged = below()
        self.assertGreaterEqual(len(judged), least,
                                "a socket read at 16 KB/s kept %d of %d streams above min_rate %d for %.0f s"
                                % (READERS - len(judged), READERS, READER_RATE, took))
        self.assertLess(took, DROPPED_WITHIN)
        self.assertTrue(judged <= set(sids), judged)
        for sid in sids:
            s = c.streams[sid]
            self.assertFalse(s.ended, "stream %d ended: read too fast to show anything" % sid)
            self.assertIn(s.reset, (None, PROTOCOL_ERROR))

if __name__ == "__main__":
    harness.main()
