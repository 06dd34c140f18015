"""The backoff after failures and a reload. Failures the CA caused (here: no
answer at the URL configured) hold the backoff only while the CA entry they
were against stays as it was: a URL fixed and reloaded is ordered from at
once, not after the wait the wrong URL earned. A reload that changes nothing
of it keeps the backoff, and says so (until when, after how many failures),
so the admin who reloads does not wait for an order that is not coming.
Against Debian's pebble, on loopback; retry_interval is 60 s so that the
backoff outlasts every wait of the test."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from pebble import AcmeCase, wait_issued  # noqa: E402


class BackoffAcrossReload(AcmeCase):
    def tearDown(self):
        if hasattr(self, "server"):
            harness.log_on_failure(self, self.server)
        super().tearDown()

    def failing_server(self):
        p = self.pebble.start()
        self.good = p.acme_config().replace("retry_interval = 1;", "retry_interval = 60;")
        dead = harness.free_port()  # nothing listens there
        self.bad = self.good.replace(p.directory, "https://127.0.0.1:%d/dir" % dead)
        self.assertNotEqual(self.bad, self.good)
        s = self.make_server(domains=("wharf.test",))
        s.extra = self.bad
        s.write_config()
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=30), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "order failed" in l][0]
        wait = int(re.search(r"next attempt in (\d+) s", line).group(1))
        self.assertGreater(wait, 30, line)  # the test below is over well before
        return s

    def test_fixed_ca_url_is_ordered_from_at_once(self):
        s = self.failing_server()
        s.extra = self.good
        s.write_config()
        self.assertTrue(s.reload(), s.log()[-3000:])
        wait_issued(s, "wharf.test", timeout=20)
        self.assertIn("certificate main: the CA entry its last order failed for (wharf.test: directory unreachable: ",
                      s.log())
        self.assertEqual(s.log().count("main: order failed"), 1, s.log()[-3000:])

    def test_reload_without_a_change_says_the_backoff_holds(self):
        s = self.failing_server()
        self.assertTrue(s.reload(), s.log()[-3000:])
        self.assertTrue(s.wait_log("certificate main: held back until ", timeout=5), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "held back until" in l][-1]
        self.assertRegex(line, r"held back until 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ by the backoff after 1 failure "
                               r"\(wharf.test: .*\)$")
        self.assertNotIn("trying again now", s.log())
        self.assertEqual(s.log().count("ordering from"), 1, s.log()[-3000:])


if __name__ == "__main__":
    harness.main()
