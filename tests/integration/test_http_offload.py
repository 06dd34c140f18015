"""A folder's listing over HTTPS is read, sorted and rendered on the offload
pool, so one big folder never holds a worker and every other connection on
it: with workers = 1, another connection's small GET (HTTP/1.1), or another
stream's on the same connection (HTTP/2), is answered while a folder of
100000 entries is listed. A client that leaves while its listing is built
(an HTTP/1.1 connection closed, an HTTP/2 stream reset or its connection
closed) costs nothing more: the worker goes on serving, and under ASan the
cancelled job is never touched after its exchange is gone.

DELETE and MKCOL make their change (an unlink that frees a file's blocks,
the folder's fsync) on the offload pool too, as FTP's DELE and MKD do. How
long one unlink or fsync takes cannot be forced from here; the pool being
busy can: with its threads held by slow password checks
(harness.slow_hash), a DELETE's or MKCOL's change waits for the pool, and
meanwhile another connection's GET on the same worker (or another stream's
on the same HTTP/2 connection) is answered, before the change's own answer.
Were the change made on the loop, that answer would have come first. A
client that leaves while its change waits for the pool is logged with 499
and its change is never made. A folder's listing, a file system job too,
waits for the busy pool the same way, and one whose client left meanwhile
is logged with 499 and frees itself once the pool is free."""

import json
import os
import select
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

h2_frame, hpack_literal, h2_frames = harness.h2_frame, harness.hpack_literal, harness.h2_frames
H2_PREFACE, H2_END_STREAM, H2_END_HEADERS = harness.H2_PREFACE, harness.H2_END_STREAM, harness.H2_END_HEADERS
MANY = harness.BigFolderCase.MANY  # names in the big folder
SLOW = 120     # seconds any one slow step may take, however loaded the host
ALICE = harness.basic_auth("alice", "alice-pw")
HEADERS, RST_STREAM, WINDOW_UPDATE = 1, 3, 8


def h1_get(path, accept="application/json"):
    return ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nAccept: %s\r\n\r\n"
            % (path, ALICE, accept))


def h2_get(path, accept="application/json"):
    return (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https") +
            hpack_literal(":path", path) + hpack_literal(":authority", "localhost") +
            hpack_literal("authorization", ALICE) + hpack_literal("accept", accept))



def answered_streams(c, n):
    """The streams whose answer's HEADERS come, in order, until n have (or
    SLOW passes)."""
    heads = []
    deadline = time.monotonic() + SLOW
    while len(heads) < n and time.monotonic() < deadline:
        heads += [sid for t, _, sid in h2_frames(c, timeout=1) if t == HEADERS]
    return heads

class HttpOffload(harness.BigFolderCase):
    WORKERS = 1  # every connection on the same loop
    SLOW = SLOW

    def test_http1_listing_leaves_the_worker_free(self):
        with harness.RawTLS(self.server, timeout=SLOW) as c, harness.RawTLS(self.server, timeout=SLOW) as other:
            self.warm(c)
            self.warm(other)
            c.send(h1_get("/many/"))
            time.sleep(0.1)  # the worker has it: were it listed on the loop, it would be busy now
            other.send(h1_get("/hello.txt"))
            status, _, body = other.read_response(timeout=SLOW)
            self.assertEqual((status, body), (200, b"hello\n"))
            readable, _, _ = select.select([c.sock], [], [], 0)
            self.assertFalse(c.buf or readable or c.sock.pending(),
                             "the small GET was answered only once the folder was listed")
            status, headers, body = c.read_response(timeout=SLOW)
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(int(headers["content-length"]), len(body))
            listing = json.loads(body)
            names = [e["name"] for e in listing["entries"]]
            self.assertEqual(len(names), MANY)
            self.assertEqual(names[0], "e00000")
            self.assertEqual(names[-1], "e%05d" % (MANY - 1))
            self.assertEqual(names, sorted(names))
            self.assertFalse(listing["truncated"])
            # HEAD of the folder: the same head, no body; the connection goes on.
            c.send(h1_get("/many/").replace("GET", "HEAD", 1))
            status, head_headers, body = c.read_response(head=True, timeout=SLOW)
            self.assertEqual((status, body), (200, b""))
            self.assertEqual(head_headers["content-length"], headers["content-length"])
            # A small folder as HTML, on the same kept-alive connection.
            c.send(h1_get("/", accept="text/html"))
            status, headers, body = c.read_response(timeout=SLOW)
            self.assertEqual(status, 200)
            self.assertIn(b'href="hello.txt"', body)
            # alice may write: the page has the upload form, its CSP that
            # form's script (test_http_browser.py checks both in full).
            self.assertEqual(int(headers["content-length"]), len(body))
            self.assertTrue(headers["content-security-policy"].startswith(
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-"), headers)
        # A first request whose password is checked off the loop, then its
        # folder listed there: two waits in a row.
        with harness.RawTLS(self.server, timeout=SLOW) as c:
            c.send(h1_get("/").replace(ALICE, harness.basic_auth("reader", "reader-pw")))
            status, _, body = c.read_response(timeout=SLOW)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body), {"path": "/", "entries": [], "truncated": False})
        self.assertServerHealthy()

    def test_http2_listing_leaves_other_streams_free(self):
        with harness.RawTLS(self.server, alpn=("h2",), timeout=SLOW) as c:
            self.assertEqual(c.alpn(), "h2")
            # Stream 1 warms the password; 3 lists the folder; 5 asks for a
            # small file once the listing has begun.
            c.send(H2_PREFACE + h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, h2_get("/hello.txt")))
            frames = h2_frames(c, timeout=2)
            self.assertIn((HEADERS, 1), [(t, sid) for t, _, sid in frames], frames)
            c.send(h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 3, h2_get("/many/")))
            time.sleep(0.1)
            c.send(h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 5, h2_get("/hello.txt")))
            heads = answered_streams(c, 2)
            self.assertEqual(heads, [5, 3], "the small GET's stream was answered only once the folder was listed")
        self.assertServerHealthy()

    def test_clients_leave_during_a_listing(self):
        # HTTP/1.1: the connection closes while its listing is built.
        for _ in range(3):
            with harness.RawTLS(self.server, timeout=SLOW) as c:
                self.warm(c)
                c.send(h1_get("/many/"))
                time.sleep(0.05)
        # HTTP/2: the stream is reset (RST_STREAM CANCEL) while its listing is
        # built: in the same read as its request (the job is cancelled before
        # its first step comes back), and a moment later (mid-listing).
        # Another stream on the same connection is answered after.
        for delay in (None, 0.05):
            with harness.RawTLS(self.server, alpn=("h2",), timeout=SLOW) as c:
                c.send(H2_PREFACE + h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, h2_get("/hello.txt")))
                h2_frames(c, timeout=2)
                request = h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 3, h2_get("/many/"))
                reset = h2_frame(RST_STREAM, 0, 3, (8).to_bytes(4, "big"))
                if delay is None:
                    c.send(request + reset)
                else:
                    c.send(request)
                    time.sleep(delay)
                    c.send(reset)
                c.send(h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 5, h2_get("/hello.txt")))
                frames = []
                deadline = time.monotonic() + SLOW
                while (HEADERS, 5) not in frames and time.monotonic() < deadline:
                    frames += [(t, sid) for t, _, sid in h2_frames(c, timeout=1)]
                self.assertIn((HEADERS, 5), frames)
                # Well past the listing's end: nothing ever comes for stream 3.
                time.sleep(2)
                frames += [(t, sid) for t, _, sid in h2_frames(c, timeout=1)]
                self.assertNotIn(3, [sid for t, sid in frames if t != WINDOW_UPDATE], frames)
        # HTTP/2: the whole connection closes with two listings being built.
        with harness.RawTLS(self.server, alpn=("h2",), timeout=SLOW) as c:
            c.send(H2_PREFACE + h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, h2_get("/hello.txt")))
            h2_frames(c, timeout=2)
            c.send(h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 3, h2_get("/many/")) +
                   h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 5, h2_get("/many/", accept="text/html")))
            time.sleep(0.05)
        time.sleep(3)  # the cancelled jobs reach their next step and free themselves
        self.assertServerHealthy()
        # Each listing left unanswered is logged as the client's leaving.
        self.assertEqual(self.server.log().count(" alice GET /many/ HTTP/2 499 0 "), 4, self.server.log()[-3000:])


def h1_req(method, path, extra=""):
    return ("%s %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n%s\r\n"
            % (method, path, ALICE, extra))


def h2_req(method, path):
    return (hpack_literal(":method", method) + hpack_literal(":scheme", "https") +
            hpack_literal(":path", path) + hpack_literal(":authority", "localhost") +
            hpack_literal("authorization", ALICE))


class HttpTreeChangesOffload(unittest.TestCase):
    """DELETE, MKCOL and a folder's listing wait for the pool, and the worker
    serves on."""

    @classmethod
    def setUpClass(cls):
        # A check of a second or more: long enough to tell waiting from not.
        cls.server = harness.slow_check_server()
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def home(self, name):
        return os.path.join(self.server.home(), name)

    def make(self, name):
        with open(self.home(name), "wb") as f:
            f.write(b"x" * 1000)

    warm = harness.BigFolderCase.warm
    SLOW = SLOW

    def busy_pool(self):
        """Three wrong passwords of the slow user hold all the pool's threads
        for a couple of seconds; returns their connections (each to get a 401)."""
        return harness.hold_pool(self.server, 3, SLOW)

    def settle(self, held):
        for s in held:
            status, _, _ = s.read_response(timeout=SLOW)
            self.assertEqual(status, 401)
            s.close()

    def assertNothingYet(self, c, what):
        readable, _, _ = select.select([c.sock], [], [], 0)
        self.assertFalse(c.buf or readable or c.sock.pending(), what)

    def test_http1_change_waits_for_the_pool_and_the_worker_goes_on(self):
        self.make("del-1.txt")
        os.mkdir(self.home("del-dir"))
        with harness.RawTLS(self.server, timeout=SLOW) as c, harness.RawTLS(self.server, timeout=SLOW) as other:
            self.warm(c)
            self.warm(other)
            for method, path, body, want in (
                    ("DELETE", "/del-1.txt", "", 204),
                    # A small body is read and dropped meanwhile; the connection goes on.
                    ("DELETE", "/del-dir", "Content-Length: 5\r\n\r\nhello", 204),
                    ("MKCOL", "/made", "", 201),
                    # A folder's listing is a file system job too.
                    ("GET", "/", "", 200)):
                held = self.busy_pool()
                request = h1_req(method, path, body)
                if body:
                    request = request[:-2]  # the body's own head end is in body
                c.send(request)
                time.sleep(0.1)  # the worker has it
                started = time.monotonic()
                other.send(h1_req("GET", "/hello.txt"))
                status, _, text = other.read_response(timeout=SLOW)
                answered = time.monotonic() - started
                self.assertEqual((status, text), (200, b"hello\n"))
                self.assertNothingYet(c, "%s %s was answered before the pool was free" % (method, path))
                status, _, text = c.read_response(timeout=SLOW)
                self.assertEqual(status, want, text)
                self.settle(held)
                self.assertLess(answered, 0.5, "the GET waited %.2f s" % answered)
            self.assertFalse(os.path.exists(self.home("del-1.txt")))
            self.assertFalse(os.path.exists(self.home("del-dir")))
            self.assertTrue(os.path.isdir(self.home("made")))
            # The replies of old, inline again with the pool free.
            c.send(h1_req("MKCOL", "/made"))
            status, _, text = c.read_response(timeout=SLOW)
            self.assertEqual((status, text), (405, b"405 Method Not Allowed: it exists already\n"))
            self.make("made/in.txt")
            c.send(h1_req("DELETE", "/made"))
            status, _, text = c.read_response(timeout=SLOW)
            self.assertEqual((status, text), (409, b"409 Conflict: the folder is not empty\n"))
            c.send(h1_req("DELETE", "/made/in.txt"))
            self.assertEqual(c.read_response(timeout=SLOW)[0], 204)
            c.send(h1_req("DELETE", "/made/in.txt"))
            self.assertEqual(c.read_response(timeout=SLOW)[0], 404)
            c.send(h1_req("DELETE", "/made"))
            self.assertEqual(c.read_response(timeout=SLOW)[0], 204)
        self.assertIsNone(self.server.proc.poll())

    def test_http2_change_waits_for_the_pool_and_other_streams_go_on(self):
        self.make("del-2.txt")
        with harness.RawTLS(self.server, alpn=("h2",), timeout=SLOW) as c:
            self.assertEqual(c.alpn(), "h2")
            c.send(H2_PREFACE + h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, h2_get("/hello.txt")))
            frames = h2_frames(c, timeout=2)
            self.assertIn((HEADERS, 1), [(t, sid) for t, _, sid in frames], frames)
            held = self.busy_pool()
            c.send(h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 3, h2_req("DELETE", "/del-2.txt")) +
                   h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 5, h2_req("MKCOL", "/made-2")))
            time.sleep(0.1)
            c.send(h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 7, h2_get("/hello.txt")))
            heads = answered_streams(c, 3)
            self.assertEqual(heads[0], 7, "the GET's stream was answered only once the changes were made")
            self.assertEqual(sorted(heads), [3, 5, 7])
            self.settle(held)
        self.assertFalse(os.path.exists(self.home("del-2.txt")))
        self.assertTrue(os.path.isdir(self.home("made-2")))
        log = self.server.log()
        self.assertIn(" alice DELETE /del-2.txt HTTP/2 204 0 ", log)
        self.assertIn(" alice MKCOL /made-2 HTTP/2 201 ", log)

    def test_client_leaves_while_its_work_waits(self):
        # A change, or a folder's listing, let go of while its job waits for
        # the pool (an HTTP/1.1 connection closed, an HTTP/2 stream reset).
        self.make("kept.txt")
        with harness.RawTLS(self.server, timeout=SLOW) as c, harness.RawTLS(self.server, timeout=SLOW) as lister:
            self.warm(c)
            self.warm(lister)
            held = self.busy_pool()
            c.send(h1_req("DELETE", "/kept.txt"))
            lister.send(h1_get("/"))
            time.sleep(0.1)
        with harness.RawTLS(self.server, alpn=("h2",), timeout=SLOW) as c:
            c.send(H2_PREFACE + h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, h2_req("MKCOL", "/never")) +
                   h2_frame(RST_STREAM, 0, 1, (8).to_bytes(4, "big")) +
                   h2_frame(HEADERS, H2_END_STREAM | H2_END_HEADERS, 3, h2_get("/")) +
                   h2_frame(RST_STREAM, 0, 3, (8).to_bytes(4, "big")))
            time.sleep(0.1)
        self.settle(held)
        time.sleep(0.5)  # the let-go jobs have met the pool
        # Let go of before the pool took them up: nothing changed.
        self.assertTrue(os.path.exists(self.home("kept.txt")))
        self.assertFalse(os.path.exists(self.home("never")))
        log = self.server.log()
        self.assertIn(" alice DELETE /kept.txt HTTP/1.1 499 0 ", log)
        self.assertIn(" alice MKCOL /never HTTP/2 499 0 ", log)
        # A listing nobody waits for any more frees itself, and the next is whole.
        self.assertIn(" alice GET / HTTP/1.1 499 0 ", log)
        self.assertIn(" alice GET / HTTP/2 499 0 ", log)
        self.assertIsNone(self.server.proc.poll())
        with harness.RawTLS(self.server, timeout=SLOW) as c:
            self.warm(c)
            c.send(h1_get("/"))
            status, _, body = c.read_response(timeout=SLOW)
            self.assertEqual(status, 200, body[:300])
            self.assertIn("kept.txt", [e["name"] for e in json.loads(body)["entries"]])
        self.assertIsNone(harness.sanitizer_report(self.server.log()))


if __name__ == "__main__":
    harness.main()
