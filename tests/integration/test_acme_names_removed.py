"""A name removed from a certificate's domains: the served certificate names
more than the config has, and a reload orders a new one at once (as a name
added or another key type does), not at the next renewal months later; the
old one serves until the new one comes. Listing the same names in another
order or case, or writing an address otherwise, is no change. Against
Debian's pebble, on loopback."""

import calendar
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import tls_peer_cert  # noqa: E402
from pebble import AcmeCase, wait_issued, wait_renewed  # noqa: E402


def sans(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem, capture_output=True,
                         text=True, timeout=10).stdout
    return sorted(p.strip() for p in out.split("\n", 1)[-1].split(",") if p.strip())


class NamesRemoved(AcmeCase):
    def tearDown(self):
        if hasattr(self, "server"):
            harness.log_on_failure(self, self.server)
        super().tearDown()

    def test_removed_name_orders_a_certificate_without_it(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test", "www.wharf.test"))
        s.start()
        first = wait_issued(s, "wharf.test")
        self.assertEqual(sans(first), ["DNS:wharf.test", "DNS:www.wharf.test"])

        s.certificates[0]["domains"] = ["wharf.test"]
        s.write_config()
        # cert list judges it as the server will: due now, not in years.
        out = subprocess.run([harness.WHARF, "cert", "list", "--json", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        due = json.loads(out.stdout)["certificates"][0]["next_renewal"]
        self.assertLess(calendar.timegm(time.strptime(due, "%Y-%m-%dT%H:%M:%SZ")), time.time() + 60, due)
        self.assertTrue(s.reload(), s.log()[-3000:])
        second = wait_renewed(s, "wharf.test", first, timeout=30)
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertEqual(sans(second), ["DNS:wharf.test"])
        self.assertIn("certificate main: the certificate served names 1 name the config no longer has", s.log())
        # Once is enough: the new one names exactly the configured set.
        time.sleep(2)
        self.assertEqual(s.log().count("; installed"), 2, s.log()[-3000:])

    def test_same_names_in_another_order_case_or_spelling_are_no_change(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test", "www.wharf.test", "127.0.0.1", "::1"))
        # Pebble's validator dials the address itself: an acme-http service on ::1 too.
        s.services.append({"type": "acme-http", "address": "::1", "port": self.pebble.http_port,
                           "https_port": self.pebble.tls_port})
        s.write_config()
        s.start()
        first = wait_issued(s, "wharf.test")
        self.assertEqual(sans(first), ["DNS:wharf.test", "DNS:www.wharf.test", "IP Address:0:0:0:0:0:0:0:1",
                                       "IP Address:127.0.0.1"])
        installed = s.log().count("; installed")

        s.certificates[0]["domains"] = ["0:0:0:0:0:0:0:1", "WWW.Wharf.test", "127.0.0.1", "wharf.TEST"]
        s.write_config()
        self.assertTrue(s.reload(), s.log()[-3000:])
        time.sleep(3)
        tail = s.log().split("SIGHUP")[-1]
        self.assertNotIn("ordering from", tail)
        self.assertNotIn("no longer has", tail)
        self.assertEqual(s.log().count("; installed"), installed)
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), first)


if __name__ == "__main__":
    harness.main()
