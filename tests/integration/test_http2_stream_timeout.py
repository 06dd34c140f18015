"""An HTTP/2 stream that makes no progress is reset on its own, even while
other streams keep its connection busy: a download whose stream window the
client never opens, an upload whose body stops coming. The connection and
its other streams go on; a slow stream that keeps moving is left alone. The
client is Python's h2, which lets a test withhold one stream's window while
it keeps the connection's open (send_timeout is 2 s here)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import H2Client  # noqa: E402

TEMP_PREFIX = ".wharf-upload."
PROTOCOL_ERROR = 1
SEND_TIMEOUT = 2


class StreamTimeout(harness.SharedServerCase):
    EXTRA = "limits = { send_timeout = %d; };" % SEND_TIMEOUT

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = os.urandom(4 << 20)
        cls.server.put_file("big.bin", cls.big)
        cls.slow = os.urandom(256 << 10)
        cls.server.put_file("slow.bin", cls.slow)

    def setUp(self):
        self.c = H2Client(self.server)
        self.addCleanup(self.c.close)

    def temp_files(self):
        return [n for n in os.listdir(self.server.home()) if n.startswith(TEMP_PREFIX)]

    def assert_busy_answers(self, answers):
        self.assertTrue(answers)
        for status, body in answers:
            self.assertEqual((status, body), (200, self.HELLO))

    def test_download_without_window_is_reset(self):
        """The client never opens the download's stream window past the
        initial 64 KiB but keeps the connection busy: that stream is reset
        (PROTOCOL_ERROR) about send_timeout after its last DATA, the others
        are answered before and after."""
        c = self.c
        sid = c.request("GET", "/big.bin", hold=True)
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: len(s.data) >= 65535, 5), "the first 64 KiB did not come")
        answers = c.keep_busy_until(lambda: s.reset is not None, 4 * SEND_TIMEOUT)
        self.assertEqual(s.reset, PROTOCOL_ERROR, "the stalled download was not reset")
        self.assertEqual(s.status, 200)
        self.assertFalse(s.ended)
        self.assertEqual(len(s.data), 65535)
        stalled_for = s.reset_at - s.last_data
        self.assertGreaterEqual(stalled_for, SEND_TIMEOUT - 0.5)
        self.assertLessEqual(stalled_for, SEND_TIMEOUT + 1.5)
        self.assert_busy_answers(answers)
        self.assertEqual(c.get("/hello.txt"), (200, self.HELLO))  # the connection goes on
        self.assertFalse(c.closed)
        log = self.server.log()
        self.assertIn("HTTP/2 stream %d made no progress for %d s, resetting it" % (sid, SEND_TIMEOUT), log)
        self.assertTrue(harness.wait_until(
            lambda: " alice GET /big.bin HTTP/2 200 " in self.server.log(), timeout=5))

    def test_stalled_upload_is_reset_and_leaves_nothing(self):
        """An upload whose body stops coming midway, while other streams stay
        busy: reset, its temp file gone, nothing under the final name, and
        logged as an HTTP/1.1 upload cut short is."""
        c = self.c
        sid = c.request("PUT", "/stalled.bin", body_follows=True, length=1 << 20)
        s = c.streams[sid]
        c.send_body(sid, b"u" * 100000)
        sent_at = time.monotonic()
        self.assertTrue(c.wait(lambda: bool(self.temp_files()), 5), "no temp file for the upload")
        answers = c.keep_busy_until(lambda: s.reset is not None, 4 * SEND_TIMEOUT)
        self.assertEqual(s.reset, PROTOCOL_ERROR, "the stalled upload was not reset")
        stalled_for = s.reset_at - sent_at
        self.assertGreaterEqual(stalled_for, SEND_TIMEOUT - 0.5)
        self.assertLessEqual(stalled_for, SEND_TIMEOUT + 1.5)
        self.assertIsNone(s.status)
        # Removed at the reset (on the pool once bytes were written).
        self.assertTrue(harness.wait_until(lambda: self.temp_files() == [], 5), self.temp_files())
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "stalled.bin")))
        self.assert_busy_answers(answers)
        self.assertEqual(c.get("/hello.txt"), (200, self.HELLO))
        self.assertFalse(c.closed)
        log = self.server.log()
        self.assertIn("upload of /stalled.bin cut short after 100000 bytes; nothing stored", log)
        self.assertTrue(harness.wait_until(
            lambda: " alice PUT /stalled.bin HTTP/2 400 " in self.server.log(), timeout=5))

    def test_slow_streams_that_move_are_not_reset(self):
        """A download whose window opens 16 KiB at a time, and an upload that
        sends 8 KiB at a time, each more often than send_timeout but for
        longer than it in all: both complete."""
        c = self.c
        resets_before = self.server.log().count("made no progress")
        sid = c.request("GET", "/slow.bin", hold=True)
        got = c.read_granting(sid, 16384, 0.5, 20)
        self.assertIsNone(got.reset, "a slow but moving download was reset")
        self.assertTrue(got.ended)
        self.assertGreater(got.took, 2 * SEND_TIMEOUT)
        self.assertEqual(got.data, self.slow)

        body = os.urandom(8 * 8192)
        up = c.request("PUT", "/slow-up.bin", body_follows=True, length=len(body))
        u = c.streams[up]
        start = time.monotonic()
        for i in range(0, len(body), 8192):
            c.send_body(up, body[i:i + 8192], end=i + 8192 == len(body))
            c.wait(lambda: u.ended or u.reset is not None, 0.6)
        self.assertGreater(time.monotonic() - start, 2 * SEND_TIMEOUT)
        self.assertTrue(c.wait(lambda: u.ended or u.reset is not None, 10))
        self.assertIsNone(u.reset, "a slow but moving upload was reset")
        self.assertEqual(u.status, 201)
        with open(os.path.join(self.server.home(), "slow-up.bin"), "rb") as f:
            self.assertEqual(f.read(), body)
        self.assertEqual(self.server.log().count("made no progress"), resets_before)

    def test_upload_beside_a_backed_up_download_is_not_reset(self):
        """While the client reads a download slower than it is produced (the
        server's output backed up), an upload on the same connection whose
        body comes in time is read as it comes: it completes, unreset,
        while the download is still under way."""
        path = os.path.join(self.server.home(), "wide.bin")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.truncate(64 << 20)  # sparse: costs no disk
            self.server.give(path)
        c = self.c
        up = c.request("PUT", "/beside.bin", body_follows=True, length=16384)
        u = c.streams[up]
        c.send_body(up, b"x" * 8192)
        self.assertTrue(c.wait(lambda: bool(self.temp_files()), 5), "no temp file for the upload")
        sid = c.request("GET", "/wide.bin", hold=True)
        d = c.streams[sid]
        c.grant(sid, 12 << 20)
        start, sent = time.monotonic(), False
        while time.monotonic() - start < 25 and u.status is None and u.reset is None and d.reset is None:
            c.pump(0.02)  # about 3 MB/s: slower than the server produces
            if not sent and time.monotonic() - start > 1:
                c.send_body(up, b"y" * 8192, end=True)
                sent = True
            time.sleep(0.015)
        self.assertIsNone(u.reset, "an upload whose body waited on the server was reset")
        self.assertIsNone(d.reset)
        self.assertEqual(u.status, 201)
        self.assertFalse(d.ended)
        with open(os.path.join(self.server.home(), "beside.bin"), "rb") as f:
            self.assertEqual(f.read(), b"x" * 8192 + b"y" * 8192)

    def test_client_reading_nothing_is_closed(self):
        """A client that reads nothing at all cannot even be sent the reset:
        send_timeout after it, the connection closes."""
        path = os.path.join(self.server.home(), "huge.bin")
        with open(path, "wb") as f:
            f.truncate(64 << 20)  # sparse: costs no disk
        self.server.give(path)
        c = self.c
        sid = c.request("GET", "/huge.bin", hold=True)
        c.grant(sid, 64 << 20)
        # From here on the client reads nothing: the socket's buffers fill.
        self.assertTrue(harness.wait_until(
            lambda: "HTTP/2 stream %d stalled, and its reset not sent within %d s: closing" % (sid, SEND_TIMEOUT)
            in self.server.log(), timeout=6 * SEND_TIMEOUT))
        self.assertTrue(harness.wait_until(
            lambda: " alice GET /huge.bin HTTP/2 200 " in self.server.log(), timeout=5))


class PriorityWait(harness.SharedServerCase):
    """A download that depends (exclusively) on another, as a browser chains
    them, gets no DATA while that one runs: with its own window open and the
    connection sending, it is not stalled, and it completes. (send_timeout 4
    here: the client's reads lag what the server counts as sent by what the
    socket buffers hold, about 2 s at this client's rate.)"""
    EXTRA = "limits = { send_timeout = 4; };"

    def test_stream_waiting_on_its_priority_is_not_reset(self):
        first, second = os.urandom(24 << 20), os.urandom(256 << 10)
        for name, data in (("first.bin", first), ("second.bin", second)):
            path = os.path.join(self.server.home(), name)
            with open(path, "wb") as f:
                f.write(data)
            self.server.give(path)
        c = H2Client(self.server)
        self.addCleanup(c.close)
        start = time.monotonic()
        a = c.request("GET", "/first.bin")
        c.grant(a, len(first))  # never held by its window: it always has DATA to send
        b = c.request("GET", "/second.bin")
        c.conn.prioritize(b, weight=256, depends_on=a, exclusive=True)
        c.flush()
        A, B = c.streams[a], c.streams[b]
        while not (A.ended and B.ended) and A.reset is None and B.reset is None and not c.closed \
                and time.monotonic() - start < 60:
            c.pump(0.02)
            time.sleep(0.005)  # a steady reader, a few MB/s
        self.assertIsNone(B.reset, "a stream waiting on its priority was reset")
        self.assertIsNone(A.reset)
        self.assertTrue(A.ended and B.ended)
        # The server sent the first download for longer than send_timeout
        # (its access line's seconds), so the second waited that long.
        line = [l for l in self.server.log().splitlines() if "GET /first.bin HTTP/2 200" in l]
        self.assertTrue(line and float(line[0].split()[-1]) > 4.5, line)
        self.assertEqual(bytes(A.data), first)
        self.assertEqual(bytes(B.data), second)
        self.assertNotIn("made no progress", self.server.log())


if __name__ == "__main__":
    harness.main()
