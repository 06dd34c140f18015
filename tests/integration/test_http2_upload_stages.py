"""Uploads side by side on one HTTP/2 connection share a bounded amount of
staging memory. Each upload gathers bytes in memory before it writes them
to its temp file; a lone upload gathers 128 KiB per write. One connection's
uploads share 1 MiB of such stages (XFER_UPLOAD_STAGES_PER_CONN): the first
eight get a full one, every later one 16 KiB, so a client opening 100
upload streams holds about 2.5 MiB of the server's memory, not 12.5. Seen
from outside: with 24 uploads of 100 KiB each under way, at most 8 temp
files are still empty (their bytes staged), and the others already hold
all but the last few KiB. The share is given back as uploads end: the
next round on the same connection gets full stages again. Every file is
stored whole."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from h2_util import H2Client  # noqa: E402

TEMP_PREFIX = ".wharf-upload."
STREAMS = 24
FULL = 8              # XFER_UPLOAD_STAGES_PER_CONN / XFER_UPLOAD_STAGE_MAX
SENT = 100 * 1024     # per upload, less than a full stage
SMALL_STAGE = 16 * 1024
SLOW = 30


class UploadStages(harness.SharedServerCase):
    def temp_sizes(self):
        home = self.server.home()
        sizes = []
        for name in os.listdir(home):
            if name.startswith(TEMP_PREFIX):
                try:
                    sizes.append(os.stat(os.path.join(home, name)).st_size)
                except FileNotFoundError:
                    pass
        return sizes

    def round(self, c, tag):
        data = [os.urandom(SENT) for _ in range(STREAMS)]
        sids = [c.request("PUT", "/%s-%02d.bin" % (tag, i), body_follows=True) for i in range(STREAMS)]
        for sid, body in zip(sids, data):
            c.send_body(sid, body, timeout=SLOW)
        # Every upload has its temp file, and every byte sent has reached
        # the server: a stage that writes at 16 KiB has written all but the
        # last part of a stage.
        flushed = SENT - SENT % SMALL_STAGE
        self.assertTrue(c.wait(lambda: len(self.temp_sizes()) == STREAMS and
                               sum(1 for s in self.temp_sizes() if s >= flushed) >= STREAMS - FULL, SLOW),
                        (sorted(self.temp_sizes()), self.server.log()[-2000:]))
        sizes = self.temp_sizes()
        self.assertLessEqual(sum(1 for s in sizes if s == 0), FULL, sorted(sizes))
        for sid in sids:
            c.conn.end_stream(sid)
        c.flush()
        streams = [c.streams[sid] for sid in sids]
        self.assertTrue(c.wait(lambda: all(s.ended for s in streams), SLOW), [s.status for s in streams])
        self.assertEqual([s.status for s in streams], [201] * STREAMS)
        for i, body in enumerate(data):
            with open(os.path.join(self.server.home(), "%s-%02d.bin" % (tag, i)), "rb") as f:
                self.assertEqual(f.read(), body, i)
        self.assertTrue(harness.wait_until(lambda: not self.temp_sizes(), timeout=SLOW), self.temp_sizes())

    def test_uploads_share_a_bounded_stage(self):
        c = H2Client(self.server, timeout=SLOW)
        self.addCleanup(c.close)
        self.assertEqual(c.get("/hello.txt", timeout=SLOW), (200, b"hello\n"))
        self.round(c, "first")
        # The share came back: a second round fares as the first.
        self.round(c, "second")


if __name__ == "__main__":
    harness.main()
