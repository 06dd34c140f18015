"""HTTP/1.1 connection handling on the wire, over raw TLS sockets (ALPN
http/1.1): keep-alive, pipelining, chunked request bodies split at awkward
places, Connection: close, HTTP/1.0, bodies of refused requests, the request
cap per connection and the idle timeout."""

import hashlib
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

ALICE = harness.basic_auth("alice", "alice-pw")


def req(method, path, extra=(), version="HTTP/1.1", body=b"", auth=ALICE):
    lines = ["%s %s %s" % (method, path, version)]
    if version == "HTTP/1.1":
        lines.append("Host: localhost")
    if auth:
        lines.append("Authorization: " + auth)
    if body:
        lines.append("Content-Length: %d" % len(body))
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection(unittest.TestCase):
    EXTRA = "limits = { max_requests_per_connection = 5; idle_timeout = 2; max_login_failures = 1000; };"

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra=cls.EXTRA)
        cls.addClassCleanup(cls.server.cleanup)  # even if setUpClass fails
        cls.files = {"a.txt": b"file a\n", "b.txt": b"file b, longer\n", "c.txt": b"c\n",
                     "big.bin": os.urandom(2 * 1024 * 1024 + 11)}
        for name, data in cls.files.items():
            with open(os.path.join(cls.server.home(), name), "wb") as f:
                f.write(data)
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def conn(self):
        c = harness.RawTLS(self.server, alpn=("http/1.1",))
        self.addCleanup(c.close)
        self.assertEqual(c.alpn(), "http/1.1")
        return c

    def test_keep_alive_two_requests_one_connection(self):
        c = self.conn()
        c.send(req("GET", "/a.txt"))
        status, headers, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["a.txt"]))
        self.assertTrue(c.last_status_line.startswith("HTTP/1.1 200"))
        self.assertNotEqual(headers.get("connection", "").lower(), "close")
        self.assertIn("date", headers)
        c.send(req("GET", "/b.txt"))
        status, headers, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["b.txt"]))
        self.assertFalse(c.closed_by_peer(timeout=0.3))

    def test_pipelining_in_one_write(self):
        c = self.conn()
        c.send(req("GET", "/a.txt") + req("HEAD", "/b.txt") + req("GET", "/big.bin") +
               req("GET", "/missing.txt") + req("GET", "/c.txt"))
        status, _, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["a.txt"]))
        status, headers, body = c.read_response(head=True)
        self.assertEqual((status, int(headers["content-length"])), (200, len(self.files["b.txt"])))
        status, _, body = c.read_response(timeout=20)
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(self.files["big.bin"]).digest())
        self.assertEqual(c.read_response()[0], 404)
        status, _, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["c.txt"]))

    def test_pipelined_upload_then_download(self):
        data = os.urandom(50000)
        c = self.conn()
        c.send(req("PUT", "/piped.bin", body=data) + req("GET", "/piped.bin") + req("DELETE", "/piped.bin") +
               req("GET", "/piped.bin"))
        self.assertEqual(c.read_response()[0], 201)
        status, _, body = c.read_response()
        self.assertEqual((status, body), (200, data))
        self.assertEqual(c.read_response()[0], 204)
        self.assertEqual(c.read_response()[0], 404)

    def test_pipelined_requests_split_mid_line(self):
        c = self.conn()
        stream = req("GET", "/a.txt") + req("GET", "/b.txt")
        for i in range(0, len(stream), 7):
            c.send(stream[i:i + 7])
            time.sleep(0.002)
        self.assertEqual(c.read_response()[2], self.files["a.txt"])
        self.assertEqual(c.read_response()[2], self.files["b.txt"])

    def test_chunked_body_split_at_awkward_places(self):
        data = os.urandom(100000)
        body = b""
        pos = 0
        for size in (1, 15, 16, 255, 4096, 30000, 65537 - 4096):
            body += b"%x\r\n" % size + data[pos:pos + size] + b"\r\n"
            pos += size
        body += b"%X\r\n" % (len(data) - pos) + data[pos:] + b"\r\n0\r\n\r\n"
        stream = req("PUT", "/chunked.bin", ["Transfer-Encoding: chunked"]) + body
        c = self.conn()
        # Writes that cut through sizes, CRLFs and data.
        cuts = [3, 50, 51, 52, 60, 1000, 4000, 4100, 70000, len(stream)]
        last = 0
        for cut in cuts:
            c.send(stream[last:cut])
            last = cut
        status, _, _ = c.read_response()
        self.assertEqual(status, 201)
        c.send(req("GET", "/chunked.bin"))
        status, _, got = c.read_response()
        self.assertEqual((status, hashlib.sha256(got).digest()), (200, hashlib.sha256(data).digest()))

    def test_connection_close_honoured(self):
        c = self.conn()
        c.send(req("GET", "/a.txt", ["Connection: close"]) + req("GET", "/b.txt"))
        status, headers, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["a.txt"]))
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertTrue(c.closed_by_peer(timeout=5))
        self.assertNotIn(b"HTTP/1.1", c.buf, "answered a request after Connection: close")

    def test_http10_request(self):
        c = self.conn()
        c.send(req("GET", "/a.txt", version="HTTP/1.0"))
        status, headers, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["a.txt"]))
        self.assertRegex(c.last_status_line, r"^HTTP/1\.[01] 200")
        self.assertEqual(int(headers["content-length"]), len(self.files["a.txt"]))
        # HTTP/1.0 without keep-alive: one request, then the server closes.
        self.assertTrue(c.closed_by_peer(timeout=5))

    def test_http10_keep_alive_is_said(self):
        # HTTP/1.0 with Connection: keep-alive: the answer says it is kept
        # (a 1.0 client otherwise reads until our close), and a second
        # request on the connection is answered.
        c = self.conn()
        c.send(req("GET", "/a.txt", ["Connection: keep-alive"], version="HTTP/1.0"))
        status, headers, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["a.txt"]))
        self.assertEqual(headers.get("connection", "").lower(), "keep-alive")
        c.send(req("GET", "/b.txt", ["Connection: keep-alive"], version="HTTP/1.0"))
        status, headers, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["b.txt"]))

    def test_close_on_any_connection_line_wins(self):
        c = self.conn()
        c.send(req("GET", "/a.txt", ["Connection: close", "Connection: keep-alive"]))
        status, headers, _ = c.read_response()
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertTrue(c.closed_by_peer(timeout=5))

    def test_absolute_form_target(self):
        # RFC 9112 3.2.2: an origin server takes the absolute form, and its
        # authority stands for Host.
        c = self.conn()
        for target in ("https://localhost/a.txt", "HTTP://localhost:443/b.txt"):
            with self.subTest(target=target):
                c.send(req("GET", target))
                status, _, body = c.read_response()
                self.assertEqual(status, 200, target)
                self.assertEqual(body, self.files["a.txt" if target.endswith("a.txt") else "b.txt"])
        c.send(req("GET", "https://user@localhost/a.txt"))
        status, headers, _ = c.read_response()
        self.assertEqual(status, 400)
        self.assertEqual(headers.get("x-content-type-options"), "nosniff")  # even on the parser's own answers

    def test_http10_put(self):
        c = self.conn()
        c.send(req("PUT", "/ten.txt", version="HTTP/1.0", body=b"from 1.0"))
        self.assertEqual(c.read_response()[0], 201)
        with open(os.path.join(self.server.home(), "ten.txt"), "rb") as f:
            self.assertEqual(f.read(), b"from 1.0")

    def test_refused_request_small_body_is_discarded(self):
        """A 401 for a request with a small body: the body is read and
        dropped, never taken for the next request, and the connection stays
        usable."""
        inner = req("GET", "/a.txt")
        c = self.conn()
        c.send(req("PUT", "/x.txt", body=inner, auth=None) + req("GET", "/b.txt"))
        status, headers, _ = c.read_response()
        self.assertEqual(status, 401)
        status, _, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["b.txt"]))
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "x.txt")))

    def test_refused_request_large_body_closes(self):
        """A 401 for a request announcing a large body: answered, then closed
        rather than read."""
        c = self.conn()
        c.send(req("PUT", "/x.txt", ["Content-Length: %d" % (100 * 1024 * 1024)], auth=None))
        status, headers, _ = c.read_response()
        self.assertEqual(status, 401)
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertTrue(c.closed_by_peer(timeout=5))

    def test_options(self):
        c = self.conn()
        c.send(req("OPTIONS", "/a.txt"))
        status, headers, _ = c.read_response()
        self.assertEqual(status, 204)
        self.assertEqual(headers.get("allow"), "OPTIONS, GET, HEAD, PUT, DELETE")  # a file's

    def test_max_requests_per_connection(self):
        c = self.conn()
        c.send(b"".join(req("GET", "/a.txt") for _ in range(7)))
        for i in range(5):
            status, headers, body = c.read_response()
            self.assertEqual((status, body), (200, self.files["a.txt"]))
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertTrue(c.closed_by_peer(timeout=5))
        self.assertNotIn(b"HTTP/1.1", c.buf)

    def test_idle_timeout_closes_between_requests(self):
        c = self.conn()
        c.send(req("GET", "/a.txt"))
        self.assertEqual(c.read_response()[0], 200)
        start = time.monotonic()
        self.assertTrue(c.closed_by_peer(timeout=6), "idle connection kept open")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 1.5)
        self.assertLessEqual(elapsed, 5.0)

    def test_no_alpn_speaks_http11(self):
        c = harness.RawTLS(self.server, alpn=None)
        self.addCleanup(c.close)
        self.assertIsNone(c.alpn())
        c.send(req("GET", "/a.txt"))
        status, _, body = c.read_response()
        self.assertEqual((status, body), (200, self.files["a.txt"]))

    def test_client_reading_slowly_gets_everything(self):
        """Back-pressure: a client that reads a big response slowly still gets
        every byte, and the next pipelined response after it."""
        c = self.conn()
        c.send(req("GET", "/big.bin") + req("GET", "/a.txt"))
        time.sleep(1.0)  # let the server fill the socket buffers and wait
        status, _, body = c.read_response(timeout=20)
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(self.files["big.bin"]).digest())
        self.assertEqual(c.read_response()[2], self.files["a.txt"])


if __name__ == "__main__":
    harness.main()
