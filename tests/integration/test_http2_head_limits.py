"""An HTTP/2 request head past limits.max_header_bytes is answered, as over
HTTP/1.1, not reset: 414 when its :path (a pseudo-header field, the
request line's part) passes the cap, 431 when a regular field does, one
large field or many small ones alike. The cap is the one the server's
SETTINGS_MAX_HEADER_LIST_SIZE announces, counted as RFC 9113 6.5.2 counts
it (name, value and 32 bytes a field): a block exactly at it is served,
one byte more is 431. The stream is answered, its body (if any) dropped,
and the connection goes on. A field whose HPACK encoding passes 64 KiB is
past what nghttp2 decodes at all: the connection ends with GOAWAY
(COMPRESSION_ERROR), and the server serves on. A block far past the cap
(4 times), such as one that names a large field of HPACK's table thousands
of times in a few bytes each, resets its stream instead of being decoded
field by field to the end (ENHANCE_YOUR_CALM), its request logged as a
431 or 414: one error-log line, and the connection goes on. So
does a trailer block past the cap (trailers are not used)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import ALICE, H2Client  # noqa: E402

MAX = 16384  # limits.max_header_bytes, the default
COMPRESSION_ERROR = 9
ENHANCE_YOUR_CALM = 11


def block_size(fields):
    """RFC 9113 6.5.2: each field's name and value, and 32 bytes."""
    return sum(len(n) + len(v) + 32 for n, v in fields)


def raw_request(method, path):
    """alice's request head, HPACK literals without indexing."""
    return b"".join(harness.hpack_literal(n, v) for n, v in (
        (":method", method), (":scheme", "https"), (":path", path),
        (":authority", "localhost"), ("authorization", ALICE)))


# A 4000-byte field into HPACK's table (a literal with incremental indexing:
# it becomes index 62, which the byte 0xbe names): 4000 such bytes are
# 16 MB of fields.
TABLE_ENTRY = b"\x40\x03x-b\x7f" + bytes([((4000 - 127) & 0x7f) | 0x80, (4000 - 127) >> 7]) + b"v" * 4000


class Http2HeadLimits(harness.SharedServerCase):
    def setUp(self):
        self.c = H2Client(self.server)
        self.addCleanup(self.c.close)

    def answer(self, method, path, headers=(), body=None):
        c = self.c
        sid = c.request(method, path, headers=headers, body_follows=body is not None,
                        length=len(body) if body is not None else None)
        s = c.streams[sid]
        self.assertTrue(c.wait(lambda: s.status is not None or s.reset is not None or c.closed, 10),
                        "no answer")
        self.assertIsNone(s.reset, "the stream was reset (error %r)" % s.reset)
        if body is not None:
            c.send_body(sid, body, end=True)
        self.assertTrue(c.wait(lambda: s.ended, 10), "no whole answer")
        return s.status, bytes(s.data)

    def assertConnectionGoesOn(self):
        self.assertEqual(self.c.get("/hello.txt"), (200, b"hello\n"))

    def test_path_past_the_cap_is_414(self):
        for method in ("GET", "HEAD"):
            with self.subTest(method=method):
                status, body = self.answer(method, "/" + "a" * MAX)
                self.assertEqual(status, 414)
                if method == "GET":
                    self.assertIn(b"414 URI Too Long", body)
                self.assertConnectionGoesOn()
        self.assertTrue(self.server.wait_log(" GET - HTTP/2 414 "), self.server.log()[-2000:])

    def test_put_with_a_path_past_the_cap_is_414_and_stores_nothing(self):
        before = sorted(os.listdir(self.server.home()))
        status, body = self.answer("PUT", "/" + "p" * MAX, body=b"x" * 50000)
        self.assertEqual(status, 414, body)
        self.assertConnectionGoesOn()
        self.assertEqual(sorted(os.listdir(self.server.home())), before)

    def test_field_past_the_cap_is_431(self):
        status, body = self.answer("GET", "/hello.txt", headers=[("x-big", "b" * MAX)])
        self.assertEqual(status, 431)
        self.assertIn(b"431 Request Header Fields Too Large", body)
        self.assertConnectionGoesOn()
        # Many fields, none large: the block is what counts.
        status, _ = self.answer("GET", "/hello.txt", headers=[("x-f%03d" % i, "v" * 500) for i in range(40)])
        self.assertEqual(status, 431)
        self.assertConnectionGoesOn()
        self.assertTrue(self.server.wait_log(" GET /hello.txt HTTP/2 431 "), self.server.log()[-2000:])

    def test_the_cap_counts_as_settings_max_header_list_size(self):
        base = [(":method", "GET"), (":scheme", "https"), (":path", "/hello.txt"),
                (":authority", "localhost"), ("authorization", ALICE)]
        pad = MAX - block_size(base) - block_size([("x-pad", "")])
        status, body = self.answer("GET", "/hello.txt", headers=[("x-pad", "p" * pad)])
        self.assertEqual((status, body), (200, b"hello\n"))
        status, _ = self.answer("GET", "/hello.txt", headers=[("x-pad", "p" * (pad + 1))])
        self.assertEqual(status, 431)

    def test_a_field_hpack_cannot_hold_ends_the_connection(self):
        """'{' takes 15 bits in HPACK's Huffman code: 40000 of them are
        75000 bytes, past nghttp2's 64 KiB for one field."""
        c = self.c
        c.request("GET", "/" + "{" * 40000)
        goaway = []
        deadline = time.monotonic() + 10
        while not c.closed and time.monotonic() < deadline:
            c.sock.settimeout(1)
            try:
                data = c.sock.recv(65536)
            except (OSError, TimeoutError):
                continue
            if not data:
                break
            goaway += [ev.error_code for ev in c.conn.receive_data(data)
                       if ev.__class__.__name__ == "ConnectionTerminated"]
            if goaway:
                break
        self.assertEqual(goaway, [COMPRESSION_ERROR])
        self.assertEqual(harness.curl(self.server, "/hello.txt", http="--http2")[2], b"hello\n")
        self.assertIsNone(self.server.proc.poll(), "the server died")

    def test_a_block_far_past_the_cap_resets_its_stream(self):
        req, big = raw_request("GET", "/hello.txt"), TABLE_ENTRY
        flags = harness.H2_END_STREAM | harness.H2_END_HEADERS
        with harness.RawTLS(self.server, alpn=("h2",)) as t:
            t.send(harness.H2_PREFACE + harness.h2_frame(1, flags, 1, req + big) +
                   harness.h2_frame(1, flags, 3, req + b"\xbe" * 4000) +
                   harness.h2_frame(1, flags, 5, req))
            frames = harness.h2_frames(t, 5)
        rst = [sid for ftype, _, sid in frames if ftype == 3]
        answered = [sid for ftype, _, sid in frames if ftype == 1]
        self.assertEqual(rst, [3], frames)
        self.assertEqual(sorted(answered), [1, 5], frames)
        self.assertNotIn(7, [ftype for ftype, _, _ in frames], "GOAWAY: %r" % frames)
        self.assertTrue(self.server.wait_log("HTTP/2 stream 3: header block past 65536 bytes"),
                        self.server.log()[-2000:])

    def test_a_block_far_past_the_cap_is_the_clients_fault_and_logged(self):
        """One HEADERS frame: a 4000-byte field into the table, then 200
        one-byte references to it (800 KB of fields). The reset blames the
        client (ENHANCE_YOUR_CALM, not INTERNAL_ERROR, which RFC 9113 7
        keeps for the server's own faults), and the request has its
        access-log line, as every request has: the 431 it was judged."""
        req = raw_request("GET", "/calm.txt")
        flags = harness.H2_END_STREAM | harness.H2_END_HEADERS
        with harness.RawTLS(self.server, alpn=("h2",)) as t:
            t.send(harness.H2_PREFACE + harness.h2_frame(1, flags, 1, req + TABLE_ENTRY + b"\xbe" * 200))
            frames = harness.h2_frames(t, 3, payloads=True)
        codes = [int.from_bytes(p[:4], "big") for ftype, _, sid, p in frames if ftype == 3 and sid == 1]
        self.assertEqual(codes, [ENHANCE_YOUR_CALM], frames)
        self.assertTrue(self.server.wait_log(" - GET /calm.txt HTTP/2 431 0 ", timeout=5),
                        self.server.log()[-2000:])

    def test_a_trailer_block_past_the_cap_resets_its_stream(self):
        req, get, big = raw_request("PUT", "/trailed.bin"), raw_request("GET", "/hello.txt"), TABLE_ENTRY
        end = harness.H2_END_STREAM | harness.H2_END_HEADERS
        with harness.RawTLS(self.server, alpn=("h2",)) as t:
            # The upload's head puts a 4000-byte field in the table; its
            # body; then a trailer block naming that field 4000 times.
            t.send(harness.H2_PREFACE + harness.h2_frame(1, harness.H2_END_HEADERS, 1, req + big) +
                   harness.h2_frame(0, 0, 1, b"data") +
                   harness.h2_frame(1, end, 1, b"\xbe" * 4000) +
                   harness.h2_frame(1, end, 3, get))
            frames = harness.h2_frames(t, 5, payloads=True)
        rst = [(sid, int.from_bytes(p[:4], "big")) for ftype, _, sid, p in frames if ftype == 3]
        self.assertEqual(rst, [(1, ENHANCE_YOUR_CALM)], frames)
        self.assertIn(3, [sid for ftype, _, sid, _ in frames if ftype == 1], frames)
        self.assertNotIn(7, [f[0] for f in frames], "GOAWAY: %r" % frames)
        self.assertTrue(self.server.wait_log("HTTP/2 stream 1: trailer block past 16384 bytes"),
                        self.server.log()[-2000:])
        self.assertFalse(os.path.exists(os.path.join(self.server.home(), "trailed.bin")))

    def test_continuation_flood_gets_goaway(self):
        # nghttp2 ends the session past a few CONTINUATIONs of one block
        # (a fatal error it leaves to us to tell): the client hears why, in
        # a GOAWAY, before the connection closes.
        req = raw_request("GET", "/hello.txt")
        with harness.RawTLS(self.server, alpn=("h2",)) as t:
            t.send(harness.H2_PREFACE + harness.h2_frame(1, 0, 1, req[:1]) +
                   b"".join(harness.h2_frame(9, 0, 1, b"") for _ in range(100)))
            frames = harness.h2_frames(t, 5)
        self.assertIn(7, [ftype for ftype, _, _ in frames], frames)
        self.assertTrue(self.server.wait_log("HTTP/2 error: "), self.server.log()[-2000:])
        self.assertEqual(harness.curl(self.server, "/hello.txt", http="--http2")[2], b"hello\n")


if __name__ == "__main__":
    harness.main()
