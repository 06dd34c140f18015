"""A CA's Retry-After is a wait for the whole account, not for one
certificate. When the CA answers a request 429 (or 503) with Retry-After,
the other certificates ordered from it do not ask it anything before the
wait ends: they are put off to that moment, with one log line each, and the
wait counts as no failure (neither the backoff nor the fallback to the next
CA moves). Against a real ACME server (Debian's pebble), with an HTTPS
stand-in in front of it for the 429 Pebble never sends; the stand-in counts
every request that reaches it."""

import calendar
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from pebble import account_dir  # noqa: E402
from test_acme_account_step import AccountStepCase, status_json, wait_issued  # noqa: E402

RETRY_AFTER = 8  # seconds; retry_interval is 1 s, so the two cannot be confused


def issued(server, name):
    return os.path.exists(os.path.join(server.state_dir, "certs", name, "issued.pem"))


def cert_list(server):
    out = subprocess.run([harness.WHARF, "cert", "list", "--json", "-c", server.config_path], capture_output=True,
                         text=True, timeout=20)
    return {c["name"]: c for c in json.loads(out.stdout)["certificates"]}


class CaWait(AccountStepCase):
    def two_cert_server(self, directory, names=("one", "two"), serve=("one", "two")):
        p = self.pebble
        self.dead = "https://127.0.0.1:%d/dir" % harness.free_port()
        extra = p.acme_config().replace(p.directory, directory)
        extra = extra.replace("} ); };", '}, { url = "%s"; } ); };' % self.dead)  # a fallback CA, never needed
        services = [{"type": "https", "address": "127.0.0.1", "port": p.tls_port, "certificates": list(serve)},
                    {"type": "acme-http", "address": "127.0.0.1", "port": p.http_port, "https_port": p.tls_port}]
        self.server = Server(certificates=[{"name": n, "domains": ["%s.wharf.test" % n], "challenge": "http-01"}
                                           for n in names], services=services, extra=extra)
        return self.server

    def assert_put_off(self, s, name, directory, refused_at, retry_after=RETRY_AFTER):
        """NAME was not ordered: one line says which CA asked to wait until
        when; status.json and cert list say no failure, the fallback count
        untouched, and when the wait ends."""
        self.assertTrue(s.wait_log("certificate %s: not ordered" % name, timeout=20), s.log()[-3000:])
        [line] = [l for l in s.log().splitlines() if "certificate %s: not ordered" % name in l]
        self.assertIn("%s asked to wait until 20" % directory, line)
        self.assertIn("this wait counts as no failure", line)
        st = {}
        self.assertTrue(harness.wait_until(lambda: st.update(status_json(s, name)) or st.get("ca_wait_until"),
                                           timeout=5), st)
        self.assertEqual((st["failures"], st["ca_failures"], st["ca"]), (0, 0, 0), st)
        self.assertGreaterEqual(st["ca_wait_until"], int(refused_at) + retry_after - 1, st)
        self.assertGreaterEqual(st["next_attempt"], st["ca_wait_until"], st)
        listed = cert_list(s)[name]
        self.assertEqual(listed["failures"], 0, listed)
        self.assertIsNone(listed["last_error"], listed)
        self.assertIsNotNone(listed["ca_wait_until"], listed)
        self.assertGreaterEqual(listed["next_renewal"], listed["ca_wait_until"], listed)

    def assert_nothing_asked_during_the_wait(self, seen, refused_at, retry_after=RETRY_AFTER):
        early = [(round(t - refused_at, 2), m, p) for t, m, p in seen if refused_at < t < refused_at + retry_after]
        self.assertEqual(early, [], seen)

    def test_second_certificate_waits_for_the_ca(self):
        # Two certificates due at once: the first one's attempt is refused
        # 429 with Retry-After at the account step. The second asked the CA
        # nothing (it waited on that same attempt) and is put off until the
        # CA's time, with no failure counted; both are issued after it.
        directory, seen = self.account_429_front(retry_after=RETRY_AFTER)
        s = self.two_cert_server(directory)
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=20), s.log()[-3000:])
        [refused_at] = [t for t, m, p in seen if m == "POST"]
        self.assert_put_off(s, "two", directory, time.time() - (time.monotonic() - refused_at))
        lines = [l for l in s.log().splitlines() if "order failed" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("certificate one: order failed", lines[0])
        self.assertIn("rateLimited", lines[0])
        self.assertIn("asks to wait until", s.log())  # the CA's wait, said once
        # The stand-in saw the directory and the refused account request, and
        # nothing more until the wait was over.
        self.assertEqual([(m, p) for t, m, p in seen][:2], [("GET", "/dir"), ("POST", "/sign-me-up")])
        self.assertTrue(harness.wait_until(lambda: issued(s, "one") and issued(s, "two"), timeout=RETRY_AFTER + 40),
                        s.log()[-4000:])
        self.assert_nothing_asked_during_the_wait(seen, refused_at)
        self.assertEqual(len([1 for t, m, p in seen if m == "POST"]), 1, seen)
        self.assertNotIn("trying %s next" % self.dead, s.log())
        self.assertNotIn("ordering from %s" % self.dead, s.log())
        self.assertEqual(len([l for l in s.log().splitlines() if "not ordered" in l]), 1, s.log()[-3000:])

    def test_certificate_due_during_the_wait_does_not_ask(self):
        # The second certificate is added (SIGHUP) while the CA's wait runs:
        # it falls due then, and does not ask the CA before the wait ends,
        # though the reload made every ACME client anew (the wait is kept in
        # the account folder).
        directory, seen = self.account_429_front(retry_after=12)
        s = self.two_cert_server(directory, names=("one",), serve=("one",))
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=20), s.log()[-3000:])
        [refused_at] = [t for t, m, p in seen if m == "POST"]
        folder = account_dir(s.state_dir, directory)
        self.assertTrue(os.path.exists(os.path.join(folder, "not_before")), os.listdir(folder))
        s.certificates.append({"name": "two", "domains": ["two.wharf.test"], "challenge": "http-01"})
        s.write_config()
        self.assertTrue(s.reload(), s.log()[-3000:])
        self.assert_put_off(s, "two", directory, time.time() - (time.monotonic() - refused_at), retry_after=12)
        self.assertTrue(harness.wait_until(lambda: issued(s, "one") and issued(s, "two"), timeout=12 + 40),
                        s.log()[-4000:])
        self.assert_nothing_asked_during_the_wait(seen, refused_at, retry_after=12)
        self.assertEqual(status_json(s, "two")["failures"], 0)

    def test_batch_asks_once(self):
        # `wharf cert batch`: five certificates against one CA. The account
        # step is refused 429 once; the other four are put off ("deferred"
        # in the table, no failure in status.json), and one request reached
        # the CA's account step in all. A second run during the wait (cron)
        # asks the CA nothing at all.
        directory, seen = self.account_429_front(retry_after=300)
        p = self.pebble
        extra = p.acme_config().replace(p.directory, directory)
        s = self.server = Server(certificates=[], users=[], extra=extra,
                                 services=[{"type": "acme-http", "address": "127.0.0.1", "port": p.http_port,
                                            "https_port": 443}])
        s.write_config()
        s.give_homes()
        path = os.path.join(s.dir, "certs.csv")
        names = ["site%d" % i for i in range(5)]
        with open(path, "w") as f:
            f.write("".join("%s,%s.wharf.test\n" % (n, n) for n in names))

        def batch():
            return subprocess.run([harness.WHARF, "cert", "batch", path, "-c", s.config_path], capture_output=True,
                                  text=True, timeout=120)
        r = batch()
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr[-3000:])
        rows = {l.split()[0]: l.split()[1] for l in r.stdout.splitlines()[1:] if l.strip()}
        self.assertEqual(sorted(rows.values()), ["deferred"] * 4 + ["failed"], r.stdout)
        self.assertEqual([(m, p) for t, m, p in seen], [("GET", "/dir"), ("POST", "/sign-me-up")], seen)
        failed = [n for n in names if rows[n] == "failed"]
        for n in names:
            st = status_json(s, n)
            if n in failed:
                self.assertEqual(st["failures"], 1, st)
            else:
                self.assertEqual((st["failures"], st["ca_failures"]), (0, 0), st)
                self.assertGreater(st["ca_wait_until"], time.time() + 200, st)
        # Each waits in status.json for its next attempt, and the wait is kept
        # in the account folder for whatever falls due meanwhile.
        again = batch()
        self.assertEqual(len(seen), 2, (seen, again.stdout, again.stderr[-3000:]))
        self.assertNotIn("issued", again.stdout)

    def test_unfinished_order_kept_through_the_wait(self):
        # A restart finds an order left in flight (pending.order) and the
        # CA's wait kept from the run before. The order is not asked about
        # during the wait, and its files stay: being put off by our own wait
        # is no word of the CA's on the order. The first attempt after the
        # wait resumes it (Pebble no longer knows this one, so a new order
        # follows, and is issued).
        p = self.pebble
        s = self.make_server()
        cert_dir = os.path.join(s.state_dir, "certs", "main")
        os.makedirs(cert_dir)
        order_url = "https://127.0.0.1:%d/my-order/left-by-an-earlier-run" % p.port
        with open(os.path.join(cert_dir, "pending.order"), "w") as f:
            f.write("%s\n%s\nwharf.test\n" % (order_url, p.directory))
        folder = account_dir(s.state_dir, p.directory)
        os.makedirs(folder, mode=0o700)
        until = int(time.time()) + RETRY_AFTER
        with open(os.path.join(folder, "not_before"), "w") as f:
            f.write("%d\n" % until)
        s.start()
        self.assertTrue(s.wait_log("certificate main: not ordered: %s asked to wait until" % p.directory,
                                   timeout=20), s.log()[-3000:])
        self.assertTrue(os.path.exists(os.path.join(cert_dir, "pending.order")), s.log()[-3000:])
        self.assertNotIn("resuming", s.log())
        wait_issued(s, "wharf.test", timeout=RETRY_AFTER + 30)
        [line] = [l for l in s.log().splitlines() if "resuming the unfinished order %s" % order_url in l]
        resumed_at = calendar.timegm(time.strptime(line.split(".")[0], "%Y-%m-%dT%H:%M:%S"))
        self.assertGreaterEqual(resumed_at, until, line)
        self.assertIn("the unfinished order cannot be resumed", s.log())
        self.assertEqual(status_json(s)["failures"], 0)


class ExpiringDuringTheWait(AccountStepCase):
    LIFE = 30  # seconds: renewal due with 15 s left, far inside a 120 s wait

    def setUp(self):
        from pebble import Pebble
        self.pebble = Pebble(validity=self.LIFE)
        self.pebble.start()
        self.fronts = []

    def test_goes_to_the_next_ca_rather_than_lapse(self):
        # Two certificates issued through the first CA; after a restart that
        # CA is down for maintenance (503, Retry-After 120 s) when they fall
        # due with 15 s left. Waiting would let them expire: with a second CA
        # configured (not waiting), each goes there at once and is renewed,
        # and no failure is counted.
        p = self.pebble
        real = self.pebble_directory()
        mode = {"down": False}

        def answer(method, path, n):
            if mode["down"]:
                return 503, [("Retry-After", "120"), ("Content-Type", "text/plain")], b"maintenance\n"
            return 200, [("Content-Type", "application/json")], real

        directory, seen = self.front(answer)
        extra = p.acme_config().replace(p.directory, directory)
        extra = extra.replace("} ); };", '}, { url = "%s"; ca_bundle = "%s"; } ); };' % (p.directory, p.ca_file))
        services = [{"type": "https", "address": "127.0.0.1", "port": p.tls_port, "certificates": ["one", "two"]},
                    {"type": "acme-http", "address": "127.0.0.1", "port": p.http_port, "https_port": p.tls_port}]
        s = self.server = Server(certificates=[{"name": n, "domains": ["%s.wharf.test" % n], "challenge": "http-01"}
                                               for n in ("one", "two")], services=services, extra=extra)
        s.start()
        self.assertTrue(harness.wait_until(lambda: issued(s, "one") and issued(s, "two"), timeout=30),
                        s.log()[-3000:])
        # status.json is written just after issued.pem.
        self.assertTrue(harness.wait_until(lambda: all(status_json(s, n).get("issued_ca") == directory
                                                       for n in ("one", "two")), timeout=5),
                        [status_json(s, n) for n in ("one", "two")])
        s.stop()
        mode["down"] = True
        before = len(s.log())
        s.start()
        for n in ("one", "two"):
            self.assertTrue(s.wait_log("certificate %s: %s asks to wait until" % (n, directory), timeout=25),
                            s.log()[-3000:])
        lines = [l for l in s.log().splitlines() if "asks to wait until" in l and "certificate " in l]
        for l in lines:
            self.assertIn("after the certificate expires; trying %s next" % p.directory, l)
        ok = harness.wait_until(lambda: all(status_json(s, n).get("issued_ca") == p.directory
                                            for n in ("one", "two")), timeout=self.LIFE)
        self.assertTrue(ok, s.log()[-4000:])
        for n in ("one", "two"):
            st = status_json(s, n)
            self.assertEqual((st["ca"], st["failures"], st["ca_failures"]), (1, 0, 0), st)
        self.assertNotIn("order failed", s.log()[before:])
        self.assertEqual([m for t, m, p_ in seen if m != "GET"], [], seen)


if __name__ == "__main__":
    harness.main()
