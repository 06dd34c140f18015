"""Hostile and broken clients: malformed HTTP/1.1 heads, oversized heads,
unknown versions, ambiguous framing, slowloris, and non-TLS bytes on the TLS
port. Each must get a clear error (or be dropped), must never take the server
down, and must never stop other clients being served."""

import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

ALICE = harness.basic_auth("alice", "alice-pw")


h2_frame, hpack_literal, h2_frames = harness.h2_frame, harness.hpack_literal, harness.h2_frames
H2_PREFACE, H2_END_STREAM, H2_END_HEADERS = harness.H2_PREFACE, harness.H2_END_STREAM, harness.H2_END_HEADERS


def head(lines, request_line="GET /hello.txt HTTP/1.1"):
    return (request_line + "\r\n" + "".join(l + "\r\n" for l in lines) + "\r\n").encode("latin-1")


class BadInputBase(harness.SharedServerCase):

    def assertServerHealthy(self):
        self.assertIsNone(self.server.proc.poll(), "the server exited")
        status, _, body = harness.curl(self.server, "/hello.txt", timeout=10)
        self.assertEqual((status, body), (200, b"hello\n"))

    def refused(self, data, expect, closes=True):
        """Sends raw bytes; expects one response with status in expect, then
        (if closes) the connection to end."""
        with harness.RawTLS(self.server) as c:
            c.send(data)
            status, headers, _ = c.read_response(timeout=5)
            self.assertIn(status, expect if isinstance(expect, tuple) else (expect,))
            if closes:
                self.assertEqual(headers.get("connection", "").lower(), "close")
                self.assertTrue(c.closed_by_peer(timeout=5), "connection left open after %d" % status)
            return status


class ParserErrors(BadInputBase):
    def test_sanity_good_request(self):
        with harness.RawTLS(self.server) as c:
            c.send(head(["Host: localhost", "Authorization: " + ALICE]))
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"hello\n"))

    def test_malformed_request_lines_400(self):
        for line in (b"GARBAGE\r\n\r\n",
                     b"GET /hello.txt\r\nHost: localhost\r\n\r\n",
                     b"GET  /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
                     b"GET /hello.txt HTTP/1.1 extra\r\nHost: localhost\r\n\r\n",
                     b"GET /hel lo.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
                     b"G\x01T /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
                     b"GET /hello.txt HTTP/1.x\r\nHost: localhost\r\n\r\n",
                     b"GET /hello.txt http/1.1\r\nHost: localhost\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n"):
            with self.subTest(line=line[:40]):
                self.refused(line, 400)
        self.assertServerHealthy()

    def test_bad_header_lines_400(self):
        for lines in (["Host: localhost", " folded: continuation"],
                      ["Host: localhost", "X-Obs: a", "\tfolded"],
                      ["Host: localhost", "Bad Name: x"],
                      ["Host: localhost", "Space-Before-Colon : x"],
                      ["Host: localhost", "NoColon"],
                      ["Host: localhost", "X-Nul: a\x00b"],
                      ["Host: localhost", "X-CR: a\rb"],
                      ["Host: localhost", "Host: other"]):
            with self.subTest(lines=lines):
                self.refused(head(lines), 400)

    def test_invalid_host_400(self):
        """RFC 9112 3.2: a Host that is no host [":" port] (RFC 3986) is a
        400, and the connection closes, as for a missing one; so is such an
        authority in an absolute-form target. Names, IPv4, [IPv6] and ports
        are served."""
        for host in (b"a b", b"x/y", b"x@y", b"[::1", b"local\xc3\xa9", b"x:port", b"[::1]x"):
            with self.subTest(host=host):
                self.refused(b"GET /hello.txt HTTP/1.1\r\nHost: " + host + b"\r\nAuthorization: " +
                             ALICE.encode() + b"\r\n\r\n", 400)
        self.refused(head(["Host: localhost", "Authorization: " + ALICE], "GET https://x%2/hello.txt HTTP/1.1"), 400)
        for host in ("localhost", "localhost:443", "127.0.0.1", "[::1]:8443", "my-host.example"):
            with self.subTest(host=host), harness.RawTLS(self.server) as c:
                c.send(head(["Host: " + host, "Authorization: " + ALICE]))
                status, _, body = c.read_response(timeout=5)
                self.assertEqual((status, body), (200, b"hello\n"))
        self.assertServerHealthy()

    def test_invalid_http2_authority_400(self):
        """The same rule for HTTP/2's :authority (past what nghttp2 checks):
        that stream gets 400, the connection goes on."""
        def block(authority):
            return (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https") +
                    hpack_literal(":path", "/hello.txt") + hpack_literal(":authority", authority) +
                    hpack_literal("authorization", ALICE))
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            c.send(H2_PREFACE + h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 1, block("x@y")))
            h2_frames(c, timeout=1)
            c.send(h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 3, block("localhost:443")))
            h2_frames(c, timeout=1)
        log = self.server.log()
        self.assertIn(" - GET /hello.txt HTTP/2 400 ", log)  # refused before the login
        self.assertIn(" alice GET /hello.txt HTTP/2 200 ", log)

    def test_header_section_too_large_431(self):
        big = "X-Filler: " + "a" * 17000
        self.refused(head(["Host: localhost", "Authorization: " + ALICE, big]), 431)
        many = ["X-H%d: v" % i for i in range(200)]
        self.refused(head(["Host: localhost"] + many), 431)
        # Sent in pieces, as a slow client would: the answer is the same.
        with harness.RawTLS(self.server) as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n")
            for _ in range(10):
                c.send(b"X-Piece: " + b"b" * 2000 + b"\r\n")
            status, _, _ = c.read_response(timeout=5)
            self.assertEqual(status, 431)
            self.assertTrue(c.closed_by_peer(timeout=5))

    def test_target_past_the_head_limit_414(self):
        """A request line longer than limits.max_header_bytes (16K) is a
        target too long: 414 URI Too Long, as nginx answers, not 431 (that
        is for header fields); the connection closes, its head unread, and
        the server goes on."""
        for target in ("/" + "a" * 17000, "/" + "a" * 16374):  # the second ends in the limit, its version past it
            with self.subTest(length=len(target)):
                status = self.refused(head(["Host: localhost", "Authorization: " + ALICE],
                                           "GET %s HTTP/1.1" % target), 414)
                self.assertEqual(status, 414)
        # Sent in pieces, as a slow client would: the same.
        with harness.RawTLS(self.server) as c:
            c.send(b"PUT /")
            for _ in range(10):
                c.send(b"b" * 2000)
            status, headers, _ = c.read_response(timeout=5)
            self.assertEqual(status, 414)
            self.assertTrue(c.closed_by_peer(timeout=5))
        self.assertIn(" 414 ", self.server.log())
        self.assertServerHealthy()

    def test_large_but_allowed_header_ok(self):
        with harness.RawTLS(self.server) as c:
            c.send(head(["Host: localhost", "Authorization: " + ALICE, "X-Filler: " + "a" * 12000]))
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"hello\n"))

    def test_unknown_versions_505(self):
        for version in ("HTTP/3.0", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9"):
            with self.subTest(version=version):
                self.refused(head(["Host: localhost", "Authorization: " + ALICE],
                                  request_line="GET /hello.txt " + version), 505)

    def test_content_length_with_transfer_encoding_400(self):
        self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Content-Length: 5",
                           "Transfer-Encoding: chunked"], "PUT /smuggle.txt HTTP/1.1") + b"0\r\n\r\n", 400)
        self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Transfer-Encoding: chunked",
                           "Content-Length: 5"], "PUT /smuggle.txt HTTP/1.1") + b"hello", 400)
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "smuggle.txt")))

    def test_transfer_encoding_other_than_chunked_refused(self):
        for te in ("gzip", "chunked, identity", "identity", "gzip, chunked"):
            with self.subTest(te=te):
                self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Transfer-Encoding: " + te],
                                  "PUT /te.txt HTTP/1.1") + b"0\r\n\r\n", (400, 501))
        self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Transfer-Encoding: chunked",
                           "Transfer-Encoding: chunked"], "PUT /te.txt HTTP/1.1") + b"0\r\n\r\n", 400)
        # HTTP/1.0 has no chunked coding.
        self.refused(head(["Authorization: " + ALICE, "Transfer-Encoding: chunked"], "PUT /te.txt HTTP/1.0")
                     + b"0\r\n\r\n", 400)
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "te.txt")))

    def test_invalid_content_length_400(self):
        for value in ("abc", "-1", "+5", "5 5", "0x10", "99999999999999999999999", "", "1.0"):
            with self.subTest(value=value):
                self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Content-Length: " + value],
                                  "PUT /cl.txt HTTP/1.1") + b"hello", 400)
        self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Content-Length: 5",
                           "Content-Length: 6"], "PUT /cl.txt HTTP/1.1") + b"hello!", 400)
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "cl.txt")))

    def test_missing_host_on_http11_400(self):
        self.refused(head(["Authorization: " + ALICE]), 400)
        # HTTP/1.0 needs no Host.
        with harness.RawTLS(self.server) as c:
            c.send(head(["Authorization: " + ALICE], "GET /hello.txt HTTP/1.0"))
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"hello\n"))

    def test_malformed_chunked_body_400(self):
        for body in (b"zz\r\nhello\r\n0\r\n\r\n",
                     b"5\r\nhelloXX0\r\n\r\n",
                     b"5\nhello\n0\n\n" + b"\r\n",
                     b"-5\r\nhello\r\n0\r\n\r\n",
                     b"fffffffffffffffffffff\r\n"):
            with self.subTest(body=body):
                self.refused(head(["Host: localhost", "Authorization: " + ALICE, "Transfer-Encoding: chunked"],
                                  "PUT /badchunk.txt HTTP/1.1") + body, 400)
                home = self.server.home()
                self.assertTrue(harness.wait_until(
                    lambda: not [n for n in os.listdir(home) if n.startswith(".wharf-upload.")], timeout=5))
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "badchunk.txt")))

    def client_lines(self, c):
        """The access-log lines of RawTLS connection c (its client address and port)."""
        peer = "127.0.0.1:%d " % c.sock.getsockname()[1]
        return [l for l in self.server.log().splitlines() if " HTTP/1.1 " in l and (" " + peer) in l]

    def test_malformed_chunked_body_is_one_log_line(self):
        """A chunk size past 64 bits, a negative one, a bare-LF chunk line:
        the client gets one 400, and the log one line for it, the request's
        own (user, method, path), with the bytes its 400 sent."""
        bodies = (b"FFFFFFFFFFFFFFFFF5\r\nhello\r\n0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n",
                  b"5\nhello\n0\n\n")
        for i, body in enumerate(bodies):
            with self.subTest(body=body):
                path = "/oneline%d.txt" % i
                with harness.RawTLS(self.server) as c:
                    c.send(head(["Host: localhost", "Authorization: " + ALICE, "Transfer-Encoding: chunked"],
                                "PUT %s HTTP/1.1" % path) + body)
                    status, _, sent = c.read_response(timeout=5)
                    self.assertEqual(status, 400)
                    self.assertTrue(c.closed_by_peer(timeout=5))
                    self.assertTrue(harness.wait_until(lambda: self.client_lines(c), timeout=5))
                    time.sleep(0.3)  # a second line would follow at once
                    lines = self.client_lines(c)
                self.assertEqual(len(lines), 1, lines)
                self.assertIn(" alice PUT %s HTTP/1.1 400 %d " % (path, len(sent)), lines[0])

    def test_refused_head_logs_its_bytes_and_its_own_time(self):
        """A head refused unparsed, after a kept-alive wait: its line counts
        the bytes its 400 sent, and the time from its own first byte, not
        from the connection's accept."""
        with harness.RawTLS(self.server) as c:
            c.send(head(["Host: localhost", "Authorization: " + ALICE]))
            self.assertEqual(c.read_response()[0], 200)
            time.sleep(2.5)
            c.send(b"GET /\x01 HTTP/1.1\r\n\r\n")
            status, _, sent = c.read_response(timeout=5)
            self.assertEqual(status, 400)
            self.assertTrue(c.closed_by_peer(timeout=5))
            self.assertTrue(harness.wait_until(lambda: len(self.client_lines(c)) == 2, timeout=5))
            line = self.client_lines(c)[1]
        m = re.search(r" - - - HTTP/1\.1 400 (\d+) ([\d.]+)$", line)
        self.assertTrue(m, line)
        self.assertEqual(int(m.group(1)), len(sent))
        self.assertGreater(len(sent), 0)
        self.assertLess(float(m.group(2)), 1.0, line)

    def test_very_long_target_refused(self):
        """Longer than any path the file system takes (4095 bytes decoded),
        but within the head limit: 414; the connection stays usable."""
        for target in ("/" + "a" * 5000, "/" + "a/" * 2048 + "x", "/" + "%41" * 4096):
            with self.subTest(length=len(target)):
                with harness.RawTLS(self.server) as c:
                    c.send(head(["Host: localhost", "Authorization: " + ALICE], "GET %s HTTP/1.1" % target))
                    status, _, _ = c.read_response(timeout=5)
                    self.assertEqual(status, 414)
                    c.send(head(["Host: localhost", "Authorization: " + ALICE]))
                    status, _, body = c.read_response()
                    self.assertEqual((status, body), (200, b"hello\n"))
        self.assertServerHealthy()

    def test_long_target_within_the_limit_served(self):
        """A path 3001 bytes long is looked up like any other."""
        with harness.RawTLS(self.server) as c:
            c.send(head(["Host: localhost", "Authorization: " + ALICE], "GET /%s HTTP/1.1" % ("a/" * 1500 + "x")))
            status, _, _ = c.read_response(timeout=5)
            self.assertEqual(status, 404)

    def test_unknown_method_501(self):
        with harness.RawTLS(self.server) as c:
            c.send(head(["Host: localhost", "Authorization: " + ALICE], "BREW /hello.txt HTTP/1.1"))
            status, headers, _ = c.read_response()
            self.assertEqual(status, 501)
            self.assertIn("GET", headers.get("allow", ""))
            # Not a framing error: the connection stays usable.
            c.send(head(["Host: localhost", "Authorization: " + ALICE]))
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"hello\n"))

    def test_errors_are_logged(self):
        port_line = re.compile(r" - - - HTTP/1\.1 400 ")
        with harness.RawTLS(self.server) as c:
            c.send(b"NONSENSE\r\n\r\n")
            c.read_response()
        self.assertTrue(harness.wait_until(lambda: port_line.search(self.server.log()), timeout=5))

    def test_http2_preface_on_http11_connection(self):
        """A client that speaks h2 without negotiating it gets an HTTP/1.1
        error, not a crash."""
        with harness.RawTLS(self.server) as c:
            c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            status, _, _ = c.read_response(timeout=5)
            self.assertIn(status, (400, 505))
        self.assertServerHealthy()


class TLSGarbage(BadInputBase):
    def plain_tcp(self, data):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        port = s.getsockname()[1]
        try:
            s.sendall(data)
            got = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(4096)
                except (ConnectionResetError, socket.timeout, TimeoutError):
                    break
                if not chunk:
                    break
                got += chunk
            else:
                self.fail("server kept a garbage connection open")
            return got, port
        finally:
            s.close()

    def test_plain_http_on_tls_port_dropped_and_logged(self):
        got, port = self.plain_tcp(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertNotIn(b"hello\n", got)
        self.assertNotIn(b"HTTP/1.1 200", got)
        self.assertTrue(harness.wait_until(
            lambda: re.search(r"127\.0\.0\.1:%d: TLS handshake failed" % port, self.server.log()), timeout=5),
            self.server.log()[-2000:])
        self.assertServerHealthy()

    def test_http2_garbage_instead_of_preface(self):
        """ALPN chose h2, then the client sends no HTTP/2 preface."""
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            self.assertEqual(c.alpn(), "h2")
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" + os.urandom(200))
            self.assertTrue(c.closed_by_peer(timeout=5), "h2 connection without a preface kept open")
            self.assertNotIn(b"hello\n", c.buf)
        self.assertTrue(harness.wait_until(lambda: "HTTP/2 error" in self.server.log(), timeout=5))
        self.assertServerHealthy()

    def test_http2_protocol_error_ends_the_session_with_a_log_line(self):
        """A PRIORITY frame that makes stream 1 depend on itself: nghttp2
        ends the session with GOAWAY (PROTOCOL_ERROR), and the log says
        why, not only that the connection went."""
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            c.send(H2_PREFACE + h2_frame(2, 0, 1, b"\x00\x00\x00\x01\x10"))
            frames = h2_frames(c, timeout=3)
            self.assertIn(7, [t for t, _, _ in frames], frames)  # GOAWAY
        self.assertTrue(self.server.wait_log("HTTP/2 session ended by the server: PROTOCOL_ERROR: depend on itself"),
                        self.server.log()[-2000:])
        self.assertServerHealthy()

    def test_random_bytes_dropped(self):
        for data in (os.urandom(3000), b"\x16\x03\x01\xff\xff" + os.urandom(100), b"\x00" * 64,
                     b"\x16\x03\x03\x00\x05hello"):
            with self.subTest(data=data[:8]):
                self.plain_tcp(data)
        self.assertServerHealthy()

    def test_silent_tcp_client_does_not_block_others(self):
        """A connection that never starts its handshake holds up nobody (its
        deadline is checked in the slowloris class below)."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        try:
            self.assertServerHealthy()
        finally:
            s.close()


class Slowloris(BadInputBase):
    EXTRA = "limits = { header_timeout = 2; idle_timeout = 4; };"

    def test_trickled_head_is_cut_off(self):
        """A head that arrives one line every half second never completes:
        the server closes at about header_timeout, whatever the trickle."""
        results = {}

        def other_clients():
            # Others are served normally while the slow client hangs on.
            results["during"] = [harness.curl(self.server, "/hello.txt", timeout=10)[0] for _ in range(3)]

        with harness.RawTLS(self.server) as c:
            start = time.monotonic()
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n")
            t = threading.Thread(target=other_clients)
            t.start()
            closed_at = None
            for i in range(20):
                try:
                    c.send(b"X-Slow-%d: a\r\n" % i)
                except OSError:
                    closed_at = time.monotonic()
                    break
                if c.closed_by_peer(timeout=0.5):
                    closed_at = time.monotonic()
                    break
            t.join(timeout=30)
        self.assertIsNotNone(closed_at, "the server let a slow head trickle for 10 s")
        elapsed = closed_at - start
        self.assertGreaterEqual(elapsed, 1.5)
        self.assertLessEqual(elapsed, 5.0)
        self.assertEqual(results.get("during"), [200, 200, 200])
        self.assertIn("request head not complete within 2 s", self.server.log())
        self.assertServerHealthy()

    def h2_request_block(self):
        return (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https") +
                hpack_literal(":path", "/hello.txt") + hpack_literal(":authority", "localhost") +
                hpack_literal("authorization", ALICE))

    def test_raw_http2_request_sanity(self):
        """The hand-made HTTP/2 frames below are understood (control for the
        next test): a whole request gets a HEADERS and DATA answer."""
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            self.assertEqual(c.alpn(), "h2")
            c.send(H2_PREFACE + h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 1, self.h2_request_block()))
            frames = h2_frames(c, timeout=2)
            self.assertIn(1, [t for t, _, sid in frames if sid == 1], frames)  # HEADERS on stream 1
            self.assertIn(0, [t for t, _, sid in frames if sid == 1], frames)  # DATA on stream 1
        self.assertIn(" alice GET /hello.txt HTTP/2 200 ", self.server.log())

    def test_trickled_http2_head_is_cut_off(self):
        """header_timeout applies to HTTP/2 too: a HEADERS frame whose header
        block arrives one byte every half second is cut off, however long the
        bytes keep coming (as test_trickled_head_is_cut_off for HTTP/1.1)."""
        name = b"x-slow"
        value_len = 200
        block = b"\x00" + bytes([len(name)]) + name + bytes([0x7f, value_len - 127])
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            start = time.monotonic()
            # HEADERS announcing the whole block, then the value byte by byte.
            c.send(H2_PREFACE + h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 1, block,
                                         length=len(block) + value_len))
            closed_at = None
            for _ in range(16):
                try:
                    c.send(b"a")
                except OSError:
                    closed_at = time.monotonic()
                    break
                if c.closed_by_peer(timeout=0.5):
                    closed_at = time.monotonic()
                    break
        self.assertIsNotNone(closed_at, "an HTTP/2 request head trickled for 8 s was never cut off")
        self.assertLessEqual(closed_at - start, 5.0)

    def pinged_until_closed(self, c, start, first=b""):
        """PINGs every half second (after `first`), until the server closes
        or 10 s pass; the seconds from start to the close, or None."""
        c.send(H2_PREFACE + first)
        for i in range(20):
            try:
                c.send(h2_frame(6, 0, 0, b"%08d" % i))  # PING
            except OSError:
                return time.monotonic() - start
            if c.closed_by_peer(timeout=0.5):
                return time.monotonic() - start
        return None

    def test_http2_pings_before_any_request_are_cut_off(self):
        """No request head within header_timeout of connecting: closed, however
        many control frames keep coming (as an HTTP/1.1 client sending nothing)."""
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            elapsed = self.pinged_until_closed(c, time.monotonic())
        self.assertIsNotNone(elapsed, "PINGs kept an HTTP/2 connection without a request open for 10 s")
        self.assertLessEqual(elapsed, 5.0)
        self.assertTrue(harness.wait_until(lambda: "no HTTP/2 request within 2 s" in self.server.log(), timeout=5))
        self.assertServerHealthy()

    def test_http2_pings_do_not_stretch_idle_time(self):
        """After a request, idle_timeout runs from when the last stream ended:
        PINGs do not restart it."""
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            start = time.monotonic()
            elapsed = self.pinged_until_closed(
                c, start, h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 1, self.h2_request_block()))
        self.assertIn(" alice GET /hello.txt HTTP/2 200 ", self.server.log())
        self.assertIsNotNone(elapsed, "PINGs kept an idle HTTP/2 connection open for 10 s")
        self.assertGreaterEqual(elapsed, 2.5)
        self.assertLessEqual(elapsed, 7.0)
        self.assertServerHealthy()

    @staticmethod
    def frames_until_eof(c, timeout):
        """(type, stream, payload) of each frame until the server closes, and
        whether it did within timeout."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            while len(c.buf) >= 9 and len(c.buf) >= 9 + int.from_bytes(c.buf[:3], "big"):
                n = int.from_bytes(c.buf[:3], "big")
                frames.append((c.buf[3], int.from_bytes(c.buf[5:9], "big") & 0x7fffffff, c.buf[9:9 + n]))
                c.buf = c.buf[9 + n:]
            left = deadline - time.monotonic()
            if c.eof or left <= 0:
                return frames, c.eof
            try:
                c._fill(left)
            except (socket.timeout, TimeoutError):
                return frames, False

    def test_http2_timeouts_send_goaway_before_closing(self):
        """Each of the connection's own timeouts (no request, a head not
        complete, idle) ends it with GOAWAY(NO_ERROR) naming the last stream
        processed (RFC 9113 6.8), as nginx does, then the close. A stream
        counts from its HEADERS frame, as in nginx: the unfinished head's
        stream 1 is named too."""
        partial = b"\x00\x06x-slow\x7f" + bytes([200 - 127])  # a field whose value never comes
        cases = (("first", H2_PREFACE, 0),
                 ("head", H2_PREFACE + h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 1, partial,
                                                length=len(partial) + 200), 1),
                 ("idle", H2_PREFACE + h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 1,
                                                self.h2_request_block()), 1))
        for name, sent, last in cases:
            with self.subTest(timeout=name), harness.RawTLS(self.server, alpn=("h2",)) as c:
                c.send(sent)
                frames, closed = self.frames_until_eof(c, timeout=10)
                self.assertTrue(closed, "not closed within 10 s: %r" % frames)
                goaways = [payload for ftype, sid, payload in frames if ftype == 7]
                self.assertEqual(len(goaways), 1, "frames before the close: %r" % frames)
                self.assertEqual(frames[-1][0], 7, "GOAWAY is the last frame: %r" % frames)
                self.assertEqual(int.from_bytes(goaways[0][:4], "big") & 0x7fffffff, last)
                self.assertEqual(int.from_bytes(goaways[0][4:8], "big"), 0)  # NO_ERROR
        self.assertServerHealthy()

    def test_http2_refused_body_is_stopped_after_the_answer(self):
        """A body nobody wants (no password) is read and dropped up to 64 KiB;
        past that, with the 401 wholly sent, RST_STREAM asks the client to
        stop, and the connection serves the next request."""
        block = (hpack_literal(":method", "PUT") + hpack_literal(":scheme", "https") +
                 hpack_literal(":path", "/refused.bin") + hpack_literal(":authority", "localhost"))
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            c.send(H2_PREFACE + h2_frame(1, H2_END_HEADERS, 1, block))
            for _ in range(3):  # 48 KiB: still read and dropped
                c.send(h2_frame(0, 0, 1, b"x" * 16384))
            early = [(t, f) for t, f, sid in h2_frames(c, timeout=1) if sid == 1 and t != 8]  # not WINDOW_UPDATE
            self.assertEqual(early, [(1, H2_END_HEADERS), (0, H2_END_STREAM)])  # the 401, whole
            for _ in range(2):  # past 64 KiB
                c.send(h2_frame(0, 0, 1, b"x" * 16384))
            late = [t for t, _, sid in h2_frames(c, timeout=1) if sid == 1 and t != 8]
            self.assertEqual(late, [3])  # RST_STREAM
            c.send(h2_frame(1, H2_END_STREAM | H2_END_HEADERS, 3, self.h2_request_block()))
            types = [t for t, _, sid in h2_frames(c, timeout=2) if sid == 3]
            self.assertIn(1, types)
            self.assertIn(0, types)
        self.assertIn(" - PUT /refused.bin HTTP/2 401 ", self.server.log())
        self.assertIn(" alice GET /hello.txt HTTP/2 200 ", self.server.log())

    def test_http2_answered_stream_is_reset_once_the_client_has_the_answer(self):
        """A refused PUT that sent 1000 of its 100000 bytes, then nothing;
        a GET without END_STREAM: each answer goes out whole, a PING behind
        it, and once the client acknowledges that PING (it has read the
        answer) RST_STREAM(NO_ERROR), not after send_timeout; the request's
        access-log line is written then, with a short time."""
        put = (hpack_literal(":method", "PUT") + hpack_literal(":scheme", "https") +
               hpack_literal(":path", "/partial.bin") + hpack_literal(":authority", "localhost") +
               hpack_literal("content-length", "100000"))
        get = (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https") +
               hpack_literal(":path", "/hello.txt?open") + hpack_literal(":authority", "localhost") +
               hpack_literal("authorization", ALICE))
        with harness.RawTLS(self.server, alpn=("h2",)) as c:
            c.send(H2_PREFACE + h2_frame(1, H2_END_HEADERS, 1, put) + h2_frame(0, 0, 1, b"x" * 1000) +
                   h2_frame(1, H2_END_HEADERS, 3, get))
            start = time.monotonic()
            frames = h2_frames(c, timeout=1, payloads=True)
            pings = [p for t, fl, sid, p in frames if t == 6 and not fl & 1]
            self.assertTrue(pings, frames)
            for p in pings:
                c.send(h2_frame(6, 1, 0, p))  # ACK
            frames += h2_frames(c, timeout=1, payloads=True)
            for sid in (1, 3):
                mine = [(t, fl & H2_END_STREAM, p[:4] if t == 3 else b"") for t, fl, s, p in frames
                        if s == sid and t != 8]
                self.assertEqual(mine, [(1, 0, b""), (0, H2_END_STREAM, b""), (3, 0, bytes(4))], frames)
            self.assertTrue(harness.wait_until(lambda: " - PUT /partial.bin HTTP/2 401 " in self.server.log() and
                                               " alice GET /hello.txt?open HTTP/2 200 " in self.server.log(),
                                               timeout=max(0.1, 3 - (time.monotonic() - start))),
                            self.server.log()[-2000:])
        for line in self.server.log().splitlines():
            if "/partial.bin HTTP/2 " in line or "/hello.txt?open HTTP/2 " in line:
                self.assertLess(float(line.split()[-1]), 2.5, line)
        self.assertNotIn("made no progress", self.server.log())

    def test_idle_after_handshake_is_cut_off(self):
        with harness.RawTLS(self.server) as c:
            start = time.monotonic()
            self.assertTrue(c.closed_by_peer(timeout=6), "an idle new connection was kept open")
            self.assertLessEqual(time.monotonic() - start, 5.0)
        self.assertServerHealthy()

    def test_no_tls_handshake_is_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=8)
        try:
            start = time.monotonic()
            s.sendall(b"\x16\x03\x01")  # the first bytes of a hello, then nothing
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            elapsed = time.monotonic() - start
            self.assertGreaterEqual(elapsed, 1.5)
            self.assertLessEqual(elapsed, 5.0)
        finally:
            s.close()
        self.assertTrue(harness.wait_until(lambda: "TLS handshake timed out" in self.server.log(), timeout=5))
        self.assertServerHealthy()

    def test_many_slow_clients_do_not_block_service(self):
        conns = []
        try:
            for _ in range(20):
                c = harness.RawTLS(self.server)
                c.send(b"GET /hello.txt HTTP/1.1\r\n")
                conns.append(c)
            self.assertServerHealthy()
            # All of them are closed by the deadline.
            deadline = time.monotonic() + 6
            for c in conns:
                self.assertTrue(c.closed_by_peer(timeout=max(0.1, deadline - time.monotonic())))
        finally:
            for c in conns:
                c.close()
        self.assertServerHealthy()

    def test_complete_request_after_slow_start_is_fine(self):
        """Slow but within the deadline is served."""
        with harness.RawTLS(self.server) as c:
            c.send(b"GET /hello.txt HTTP/1.1\r\n")
            time.sleep(0.5)
            c.send(b"Host: localhost\r\nAuthorization: " + ALICE.encode() + b"\r\n")
            time.sleep(0.5)
            c.send(b"\r\n")
            status, _, body = c.read_response()
            self.assertEqual((status, body), (200, b"hello\n"))

    def test_head_in_one_byte_records(self):
        """Heads are parsed once they can be decided, not per record: one sent
        a byte per TLS record (blank lines split every way) is served, and a
        bad request line is still refused before the head ends."""
        head = (b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + ALICE.encode() +
                b"\r\nX-Pad: " + b"p" * 300 + b"\r\n\r\n")
        with harness.RawTLS(self.server) as c:
            for i in range(2):
                for b in head:
                    c.send(bytes([b]))
                status, _, body = c.read_response()
                self.assertEqual((status, body), (200, b"hello\n"), "request %d" % i)
        with harness.RawTLS(self.server) as c:
            for b in b"GET /hello.txt HTTP/7.1\r\n":
                c.send(bytes([b]))
            status, _, _ = c.read_response()
            self.assertEqual(status, 505)


if __name__ == "__main__":
    harness.main()
