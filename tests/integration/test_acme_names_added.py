"""A name added to a certificate while the CA is down: the reload keeps the
issued certificate serving the names it has (not a self-signed stand-in for
all of them, which would break every name until the CA is back); cert list
says a renewal is due now; once the CA answers, a certificate for all the
names is ordered and swapped in."""

import calendar
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import tls_peer_cert  # noqa: E402
from pebble import AcmeCase, issued_by_pebble, wait_issued, wait_renewed  # noqa: E402


def sans(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem, capture_output=True,
                         text=True, timeout=10).stdout
    return sorted(p.strip()[4:] for p in out.split("\n", 1)[-1].split(",") if p.strip().startswith("DNS:"))


class NamesAdded(AcmeCase):
    def test_issued_certificate_keeps_serving_while_the_ca_is_down(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        s.start()
        first = wait_issued(s, "wharf.test")
        self.assertEqual(sans(first), ["wharf.test"])
        self.pebble.stop_pebble()

        s.certificates[0]["domains"] = ["wharf.test", "www.wharf.test"]
        s.write_config()
        self.assertTrue(s.reload(), s.log()[-3000:])
        self.assertIn("certificate main: stored issued.pem names 1 of the 2 configured names; it serves those "
                      "until one for all is issued", s.log())
        # Still the CA's certificate for the name it has, not a self-signed one.
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), first)
        self.assertTrue(issued_by_pebble(tls_peer_cert(s.port, "wharf.test")))
        out = subprocess.run([harness.WHARF, "cert", "list", "--json", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        listed = {c["name"]: c for c in json.loads(out.stdout)["certificates"]}["main"]
        self.assertFalse(listed["provisional"], listed)
        due = calendar.timegm(time.strptime(listed["next_renewal"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertLess(due, time.time() + 120, listed)  # due now (or at the next retry), not in weeks
        self.assertTrue(s.wait_log("order failed", timeout=30), s.log()[-3000:])

        self.pebble.start_pebble()
        second = wait_renewed(s, "wharf.test", first, timeout=90)
        self.assertEqual(sans(second), ["wharf.test", "www.wharf.test"])
        self.assertEqual(tls_peer_cert(s.port, "www.wharf.test"), second)


if __name__ == "__main__":
    harness.main()
