"""An HTTP/2 connection whose output waits for its client (a large download
read slowly) still reads that client's frames: PINGs are answered and new
requests served while the download goes on, not once it is over. What that
input makes the server queue is bounded: a client that reads nothing and
floods it with frames that call for answers (PINGs, requests it resets at
once) is closed, and the server goes on serving others. The client is
Python's h2 (h2_util)."""

import hashlib
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import H2Client  # noqa: E402
import h2.settings  # noqa: E402  (h2_util says how to install it)

BIG = 64 << 20
READ_RATE = 8 << 20  # bytes per second the slow client reads: far below what the server makes
PROBE_BOUND = 2.0    # seconds: an answer starved behind the download waits for all of it (about 8 s)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class BackedUp(harness.SharedServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.big = os.urandom(BIG)
        cls.big_sha = hashlib.sha256(cls.big).hexdigest()
        path = os.path.join(cls.server.home(), "big.bin")
        with open(path, "wb") as f:
            f.write(cls.big)
        cls.server.give(path)

    def start_backed_up_download(self, c):
        """A GET of big.bin whose stream window never holds it back; the
        client then reads nothing until it says so."""
        sid = c.request("GET", "/big.bin", hold=True)
        c.grant(sid, BIG)
        # The server fills the socket's buffers within milliseconds; a
        # second leaves its own output backed up however loaded the machine.
        time.sleep(1.0)
        return sid

    def burst(self, c):
        """Sends what the client has queued at once (corked: one loopback
        segment per 64 KiB), so that the server reads it in one go rather
        than sending what it answered between the pieces."""
        c.sock.settimeout(10)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            c.flush()
        except (socket.timeout, TimeoutError, OSError):
            pass  # the server took what it took, or closed: its log tells
        finally:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    def wait_closed(self, c, timeout):
        """Reads (and drops) what comes until the server's end; the bytes read."""
        got, deadline = 0, time.monotonic() + timeout
        while not c.closed and time.monotonic() < deadline:
            got += c.pump(min(0.5, max(0.01, deadline - time.monotonic())))
        self.assertTrue(c.closed, "the connection was not closed within %.0f s" % timeout)
        return got

    def test_pings_and_requests_answered_beside_a_slow_download(self):
        """While the client reads a 64 MiB download at 8 MB/s (its output
        backed up on the server all along), a PING and a GET of a small
        file every half second are answered within PROBE_BOUND each, while
        the download is still under way; the download arrives whole."""
        c = H2Client(self.server, timeout=30, rcvbuf=256 << 10)
        self.addCleanup(c.close)
        # Neither the stream's window nor the connection's holds the
        # download back: the server stops only when the client reads slower
        # than it sends (with a window that runs out, it would pause and
        # read input all the same).
        c.conn.increment_flow_control_window(BIG)
        sid = c.request("GET", "/big.bin", hold=True)
        c.grant(sid, BIG)
        d = c.streams[sid]
        probes = []  # (ping payload, GET stream id, sent at)
        start = time.monotonic()
        next_probe, got = start + 1.0, 0
        while not d.ended and d.reset is None and not c.closed and time.monotonic() - start < 25:
            now = time.monotonic()
            if now >= next_probe and len(d.data) < BIG * 3 // 4:
                probes.append((c.ping(), c.request("GET", "/hello.txt"), now))
                next_probe = now + 0.5
            if got > READ_RATE * (now - start):
                time.sleep(0.005)
                continue
            got += c.pump(0.05)
        self.assertIsNone(d.reset)
        self.assertTrue(d.ended, "the download did not end within 25 s (%d bytes)" % len(d.data))
        self.assertEqual(d.status, 200)
        self.assertEqual(len(d.data), BIG)
        self.assertEqual(hashlib.sha256(d.data).hexdigest(), self.big_sha)
        done_at = d.ended_at
        # Starved ones come after the download: let them, to tell how late.
        c.wait(lambda: all(p in c.ping_acked and c.streams[g].ended for p, g, _ in probes), 5)
        self.assertGreaterEqual(len(probes), 5)
        for payload, get, sent_at in probes:
            self.assertIn(payload, c.ping_acked, "PING %r not answered" % payload)
            waited = c.ping_acked[payload] - sent_at
            self.assertLess(waited, PROBE_BOUND, "PING %r answered after %.1f s, the download ending %.1f s "
                            "after it" % (payload, waited, done_at - sent_at))
            s = c.streams[get]
            self.assertTrue(s.ended, "GET on stream %d got no whole answer" % get)
            self.assertEqual((s.status, bytes(s.data)), (200, self.HELLO))
            self.assertLess(s.ended_at - sent_at, PROBE_BOUND, "GET on stream %d answered after %.1f s"
                            % (get, s.ended_at - sent_at))
        # Answered beside the download, not after it.
        self.assertLess(max(c.ping_acked[p] for p, _, _ in probes), done_at)

    def test_ping_flood_from_a_client_that_reads_nothing_is_closed(self):
        """A client that reads nothing (its download backed up on the
        server) and sends 5000 PINGs: the server reads them, and closes the
        connection once 256 ACKs wait (nghttp2's flood limit) instead of
        keeping them all; it holds no more memory for it than that, and
        serves another client at once."""
        c = H2Client(self.server, timeout=30, rcvbuf=16 << 10)
        self.addCleanup(c.close)
        self.start_backed_up_download(c)
        pid = self.server.proc.pid
        before = rss_kib(pid)
        for _ in range(5000):
            c.conn.ping(b"floodfld")
        self.burst(c)
        self.assertTrue(self.server.wait_log("Flooding was detected in this HTTP/2 session", timeout=10),
                        "no flood detected")
        self.assertLess(rss_kib(pid) - before, 32 << 10, "the server grew by more than 32 MiB")
        other = H2Client(self.server)
        self.addCleanup(other.close)
        self.assertEqual(other.get("/hello.txt"), (200, self.HELLO))
        got = self.wait_closed(c, 20)
        self.assertLess(got, BIG, "the whole download came: the connection was not ended")


class BackedUpFewStreams(BackedUp):
    """The same, with h2_max_streams = 10: the server holds at most 256 +
    4 * 10 frames for a client."""
    EXTRA = "limits = { h2_max_streams = 10; };"

    # The tests of BackedUp run once, with it.
    test_pings_and_requests_answered_beside_a_slow_download = None
    test_ping_flood_from_a_client_that_reads_nothing_is_closed = None

    def test_reset_requests_from_a_client_that_reads_nothing_are_bounded(self):
        """A client that reads nothing (its download backed up) opens 900
        streams and resets each at once: every answer the server made for
        them waits in its queue. nghttp2's own limits are not reached (256
        ACKs, 1000 resets in a burst), the server's bound on queued frames
        is: the connection is closed, and others are served. (The client
        turns HPACK's table off, so that each answer's HEADERS is a few
        hundred bytes and the little the kernel may take when the client
        sends lets few of them out.)"""
        c = H2Client(self.server, timeout=30, rcvbuf=16 << 10)
        self.addCleanup(c.close)
        c.conn.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0})
        c.flush()
        self.assertEqual(c.get("/hello.txt"), (200, self.HELLO))  # the password is verified: answers come at once
        acks_flooded = self.server.log().count("Flooding was detected")
        self.start_backed_up_download(c)
        headers = [(":method", "GET"), (":scheme", "https"), (":path", "/hello.txt"),
                   (":authority", "localhost"), ("authorization", harness.basic_auth("alice", "alice-pw"))]
        for _ in range(900):
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, headers, end_stream=True)
            c.conn.reset_stream(sid)
        self.burst(c)
        self.assertTrue(self.server.wait_log("HTTP/2 flood: ", timeout=10), "no flood seen")
        self.assertEqual(self.server.log().count("Flooding was detected"), acks_flooded)
        other = H2Client(self.server)
        self.addCleanup(other.close)
        self.assertEqual(other.get("/hello.txt"), (200, self.HELLO))
        got = self.wait_closed(c, 20)
        self.assertLess(got, BIG)


class UploadBesideBackedUp(BackedUp):
    """An upload beside a download the client reads slowly: the upload's
    WINDOW_UPDATEs wait behind the download's DATA the server has already
    handed to the kernel. That must be little, or the upload stalls for its
    window as long as the client takes to read it all (4 MiB of socket
    buffer: 10 s at 400 KB/s), and the server resets it for making no
    progress (send_timeout is 5 s here)."""
    EXTRA = "limits = { send_timeout = 5; };"
    READ_RATE = 400 << 10
    UP = 12 << 20  # three times the stream's window: two WINDOW_UPDATEs at least

    test_pings_and_requests_answered_beside_a_slow_download = None
    test_ping_flood_from_a_client_that_reads_nothing_is_closed = None

    def test_upload_beside_a_slowly_read_download_completes(self):
        """The client reads a 64 MiB download at 400 KB/s and sends a 12 MiB
        PUT on another stream as fast as its window lets it: the PUT is
        stored whole (201) and never reset, and the download goes on."""
        c = H2Client(self.server, timeout=30, rcvbuf=64 << 10)
        self.addCleanup(c.close)
        c.conn.increment_flow_control_window(BIG)
        down = c.streams[self.start_backed_up_download(c)]
        body = os.urandom(self.UP)
        up_sid = c.request("PUT", "/beside-slow.bin", body_follows=True, length=len(body))
        up = c.streams[up_sid]
        start, got, sent = time.monotonic(), 0, 0
        while (sent < len(body) or not (up.ended or up.reset is not None)) and not c.closed \
                and time.monotonic() - start < 60:
            room = min(c.conn.local_flow_control_window(up_sid), c.conn.max_outbound_frame_size,
                       len(body) - sent)
            if room > 0 and up.reset is None:
                c.conn.send_data(up_sid, body[sent:sent + room], end_stream=sent + room == len(body))
                c.flush()
                sent += room
                continue
            if got > self.READ_RATE * (time.monotonic() - start):
                time.sleep(0.005)
                continue
            got += c.pump(0.05)
        self.assertIsNone(up.reset, "the upload was reset after %d of %d bytes were sent" % (sent, len(body)))
        self.assertTrue(up.ended, "no answer to the upload within 60 s (%d of %d bytes sent)" % (sent, len(body)))
        self.assertEqual(up.status, 201)
        with open(os.path.join(self.server.home(), "beside-slow.bin"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).digest(), hashlib.sha256(body).digest())
        self.assertIsNone(down.reset)
        self.assertFalse(c.closed)


if __name__ == "__main__":
    harness.main()
