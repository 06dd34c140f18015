"""limits.max_requests_per_connection holds for HTTP/2 as for HTTP/1.1:
once that many streams have begun the connection sends GOAWAY, so one
connection cannot repeat a request (a dozen bytes with HPACK, a full
access-log line each) without end; curl goes on over a new connection and
every request is answered."""

import collections
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class RequestLimit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra="limits = { max_requests_per_connection = 3; };")
        cls.addClassCleanup(cls.server.cleanup)
        with open(os.path.join(cls.server.home(), "r.txt"), "w") as f:
            f.write("r\n")
        cls.server.start()

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def test_goaway_after_the_limit_and_curl_goes_on(self):
        url = "https://127.0.0.1:%d/r.txt?n=%%d" % self.server.port
        urls = [arg for i in range(8) for arg in ("-o", "/dev/null", url % i)]
        out = subprocess.run(["curl", "-sk", "--http2", "-u", "alice:alice-pw", "-w",
                              "%{http_code} %{http_version}\n"] + urls,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.split("\n")[:8], ["200 2"] * 8, out.stderr)
        def served():
            return re.findall(r" 127\.0\.0\.1:(\d+) alice GET /r\.txt\?n=\d+ HTTP/2 200 ", self.server.log())
        self.assertTrue(harness.wait_until(lambda: len(served()) == 8, timeout=10), self.server.log()[-3000:])
        lines = served()
        per_connection = collections.Counter(lines)
        self.assertEqual(max(per_connection.values()), 3, per_connection)
        self.assertEqual(len(per_connection), 3, per_connection)

    def test_streams_past_the_limit_are_not_served(self):
        # Ten requests sent at once: three answered, GOAWAY, the rest
        # refused unprocessed (not served, not logged), then the close.
        head = b"".join(harness.hpack_literal(n, v) for n, v in (
            (":method", "GET"), (":scheme", "https"), (":path", "/r.txt?raw"), (":authority", "localhost"),
            ("authorization", harness.basic_auth("alice", "alice-pw"))))
        flags = harness.H2_END_STREAM | harness.H2_END_HEADERS
        before = self.server.log().count("GET /r.txt?raw ")
        with harness.RawTLS(self.server, alpn=("h2",)) as t:
            t.send(harness.H2_PREFACE + b"".join(harness.h2_frame(1, flags, sid, head) for sid in range(1, 21, 2)))
            frames = harness.h2_frames(t, 5)
            self.assertTrue(t.closed_by_peer(timeout=5), frames)
        self.assertEqual(sorted(sid for ftype, _, sid in frames if ftype == 1), [1, 3, 5], frames)
        self.assertIn(7, [ftype for ftype, _, _ in frames], "no GOAWAY: %r" % frames)
        self.assertEqual(sorted(sid for ftype, _, sid in frames if ftype == 3), list(range(7, 21, 2)), frames)
        self.assertTrue(harness.wait_until(lambda: self.server.log().count("GET /r.txt?raw ") - before == 3, 5),
                        self.server.log()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
