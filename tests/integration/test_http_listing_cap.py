"""Folder listings are bounded per connection and per process. An HTTP/2
client that keeps every stream's window shut (SETTINGS_INITIAL_WINDOW_SIZE
0) and asks for a large folder on many streams gets two listings (their
200s' heads, their pages held until it reads them); every further one on
that connection gets 503 with Retry-After at once, without the folder being
read, so the client holds at most two listings' memory and at most two
listing jobs on the offload pool. Once the window opens the two pages come
whole, and the connection may list again: a listing's place is held
until its page is produced, not while its stream waits for a client
that never ends its side of it. Meanwhile another connection's
GET and MKCOL are answered at once. Across connections, at most
XFER_LISTING_JOBS_MAX (16) listing jobs are queued or running on the pool
(here each connection is a client of its own, as one client is built only
two at a time):
with the pool held by slow password checks, the seventeenth listing asked
for gets 503 with Retry-After, and the sixteen before it their pages."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import H2Client  # noqa: E402
import h2.settings  # noqa: E402  (h2_util says how to install it)

BIG = 10000     # names in big/
PER_CONN = 2    # XFER_LISTINGS_PER_CONN
JOBS_MAX = 16   # XFER_LISTING_JOBS_MAX
STREAMS = 30    # listings one connection asks for at once
SLOW = 60       # seconds any one slow step may take, however loaded the host
PROMPT = 3.0    # seconds: an answer not held up by the listings


class HttpListingCap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.slow_check_server()
        cls.addClassCleanup(cls.server.cleanup)
        big = os.path.join(cls.server.home(), "big")
        os.makedirs(big)
        for i in range(BIG):
            os.close(os.open(os.path.join(big, "f%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
        small = os.path.join(cls.server.home(), "small")
        os.makedirs(small)
        for i in range(3):
            os.close(os.open(os.path.join(small, "s%d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def shut_client(self, source=None):
        """An HTTP/2 connection (of source, or 127.0.0.1) whose password is
        checked, then every stream's window shut (the answers' heads still
        come: HEADERS are not flow-controlled)."""
        c = H2Client(self.server, timeout=SLOW, source=source)
        self.assertEqual(c.get("/hello.txt", timeout=SLOW), (200, b"hello\n"))
        c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        c.flush()
        return c

    def assertWholeListing(self, s):
        self.assertTrue(s.ended, "the page did not come whole")
        self.assertEqual(int(s.headers["content-length"]), len(s.data))
        self.assertTrue(s.data.endswith(b"</html>\n"), bytes(s.data[-200:]))
        names = re.findall(rb'<tr><td><a href="([^"]*)">', s.data)
        self.assertEqual(names[1:], [b"f%05d" % i for i in range(BIG)])  # every one, sorted

    def assertBusy(self, s, detail):
        self.assertEqual(s.status, 503, bytes(s.data)[:200])
        self.assertEqual(s.headers.get("retry-after"), "1")
        self.assertIn(detail, bytes(s.data))

    def settle(self, held):
        """harness.hold_pool's wrong passwords end: each is refused (401),
        its connection closed."""
        for s in held:
            status, _, _ = s.read_response(timeout=SLOW)
            self.assertEqual(status, 401)
            s.close()

    def test_one_connection_holds_two_listings(self):
        c = self.shut_client()
        try:
            sids = [c.request("GET", "/big/", hold=True) for _ in range(STREAMS)]
            streams = [c.streams[sid] for sid in sids]
            self.assertTrue(c.wait(lambda: all(s.status for s in streams), SLOW),
                            [s.status for s in streams])
            # The first two were taken, listed and answered; the rest were
            # refused at once, while those two were under way.
            self.assertEqual([s.status for s in streams[:PER_CONN]], [200] * PER_CONN)
            self.assertEqual([s.status for s in streams[PER_CONN:]], [503] * (STREAMS - PER_CONN))
            for s in streams[:PER_CONN]:
                self.assertEqual(s.headers["content-type"], "text/html; charset=utf-8")
                self.assertEqual(s.data, b"")  # the window is shut

            # Meanwhile another connection is answered at once: a file, and
            # a change made on the pool.
            started = time.monotonic()
            status, _, body = harness.curl(self.server, "/hello.txt", http="--http2", timeout=SLOW)
            self.assertEqual((status, body), (200, b"hello\n"))
            status, _, _ = harness.curl(self.server, "/made/", args=["-X", "MKCOL"], timeout=SLOW)
            self.assertEqual(status, 201)
            self.assertLess(time.monotonic() - started, PROMPT)

            # The window opens: the two pages come whole, and the refusals'
            # bodies say why.
            for sid in sids:
                c.grant(sid, 16 << 20)
            self.assertTrue(c.wait(lambda: all(s.ended for s in streams), SLOW),
                            [s.ended for s in streams])
            for s in streams[:PER_CONN]:
                self.assertWholeListing(s)
            for s in streams[PER_CONN:]:
                self.assertBusy(s, b"this connection has folder listings under way")

            # Those sent, the connection lists again.
            again = [c.request("GET", "/big/", hold=True) for _ in range(PER_CONN)]
            for sid in again:
                c.grant(sid, 16 << 20)
            self.assertTrue(c.wait(lambda: all(c.streams[sid].ended for sid in again), SLOW))
            for sid in again:
                self.assertEqual(c.streams[sid].status, 200)
                self.assertWholeListing(c.streams[sid])
        finally:
            c.close()
        log = self.server.log()
        self.assertEqual(log.count("listings under way on this connection"), 1, log[-3000:])
        self.assertIsNone(self.server.proc.poll(), "the server died")

    def test_a_page_sent_gives_its_place_back(self):
        """A listing's place is held while its page is produced, not while
        its stream waits on: a client that never ends its side of a
        request (no END_STREAM) has its stream ended only once it has the
        whole answer (RST_STREAM NO_ERROR after a PING round trip), yet
        once it has a listing's whole page (or a HEAD's answer, for which
        the page is only measured) it may list again, as often as it
        likes, on the same connection."""
        c = H2Client(self.server, timeout=SLOW)
        try:
            self.assertEqual(c.get("/hello.txt", timeout=SLOW), (200, b"hello\n"))
            sids = []
            for method in ("GET", "HEAD", "GET", "HEAD", "GET", "GET"):
                sid = c.request(method, "/small/", body_follows=True)
                s = c.streams[sid]
                self.assertTrue(c.wait(lambda: s.ended or s.reset is not None, SLOW), method)
                self.assertEqual(s.status, 200, (method, bytes(s.data)[:200]))
                if method == "GET":
                    self.assertIn(b'<a href="s2">', s.data)
                sids.append(sid)
            # None was reset for a fault: at most ended, its answer whole.
            self.assertEqual([int(c.streams[sid].reset or 0) for sid in sids], [0] * len(sids))
        finally:
            c.close()
        self.assertNotIn("listings under way on this connection", self.server.log())

    def test_the_pool_holds_sixteen_listing_jobs(self):
        # Each from an address of its own: one client is built two listings
        # at a time (test_listing_budget.py), here each has that many.
        conns = [self.shut_client("127.0.0.%d" % (10 + i)) for i in range(JOBS_MAX // PER_CONN + 1)]
        try:
            # Four wrong passwords of the slow user hold all three pool threads
            # for two seconds or more: the listings asked for meanwhile queue.
            held = harness.hold_pool(self.server, 4, SLOW)
            sids = [(c, c.request("GET", "/big/", hold=True)) for c in conns for _ in range(PER_CONN)]
            streams = [c.streams[sid] for c, sid in sids]
            for c in conns:
                self.assertTrue(c.wait(lambda: all(s.status for s in c.streams.values()), SLOW))
            # Sixteen jobs were queued; the two asked for after them were
            # refused (the worker reads the connections in its own order).
            statuses = [s.status for s in streams]
            self.assertEqual(sorted(statuses), [200] * JOBS_MAX + [503] * (len(streams) - JOBS_MAX), statuses)
            for c, sid in sids:
                c.grant(sid, 16 << 20)
            for c in conns:
                self.assertTrue(c.wait(lambda: all(s.ended for s in c.streams.values()), SLOW))
            for s in streams:
                if s.status == 200:
                    self.assertWholeListing(s)
                else:
                    self.assertBusy(s, b"too many folders being listed")
            self.settle(held)
        finally:
            for c in conns:
                c.close()
        self.assertIn("folders being listed already", self.server.log())
        self.assertIsNone(self.server.proc.poll(), "the server died")

    def test_one_client_gets_two_builds(self):
        """One client (an address) is built two listings at a time, however
        many connections it spreads its requests over: the rest get 503 at
        once, and the builds left are another client's, whose listing of a
        small folder is answered, not refused."""
        conns = [self.shut_client() for _ in range(JOBS_MAX // PER_CONN)]
        try:
            held = harness.hold_pool(self.server, 4, SLOW)
            sids = [(c, c.request("HEAD", "/big/")) for c in conns for _ in range(PER_CONN)]
            streams = [c.streams[sid] for c, sid in sids]
            for c in conns:
                self.assertTrue(c.wait(lambda: all(s.status for s in c.streams.values()), SLOW))
            statuses = [s.status for s in streams]
            self.assertEqual(sorted(statuses), [200] * 2 + [503] * (len(streams) - 2), statuses)
            for s in streams:
                if s.status == 503:
                    self.assertEqual(s.headers.get("retry-after"), "1")
            status, _, body = harness.curl(self.server, "/small/", http="--http2",
                                           args=["--interface", "127.0.0.2"], timeout=SLOW)
            self.assertEqual(status, 200, body[:300])
            self.assertIn(b'<a href="s2">', body)
            self.settle(held)
        finally:
            for c in conns:
                c.close()
        log = self.server.log()
        self.assertIn("listings: HTTP 127.0.0.1 has 2 folders being listed already (its share)", log)
        self.assertIsNone(self.server.proc.poll(), "the server died")


if __name__ == "__main__":
    unittest.main()
