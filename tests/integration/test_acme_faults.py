"""A CA that fails or misbehaves, against Pebble: with the CA gone, renewal
attempts close in before expiry and an alarm goes out in time (after a
restart past expiry too, with the expired certificate served); a challenge
the CA cannot validate, a hostile directory, a directory whose URLs drop to
plain http: one clear line each, and the server serves all along."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import cert_text, tls_peer_cert  # noqa: E402
from pebble import (AcmeCase, Pebble, hook_script, issued_by_pebble, wait_file_text, wait_issued,  # noqa: E402
                    wait_renewed)


class Faults(AcmeCase):
    def test_challenge_that_cannot_validate(self):
        self.pebble.start()
        s = self.make_server()
        # The acme-http service listens somewhere the CA does not look.
        for svc in s.services:
            if svc["type"] == "acme-http":
                svc["port"] = harness.free_port()
        s.write_config()
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=30), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "order failed" in l][0]
        self.assertIn("certificate main", line)
        self.assertRegex(line, r"urn:ietf:params:acme:error:(connection|unauthorized)")
        self.assertIn("next attempt in", line)
        self.assertEqual(harness.curl(s, "/", host="wharf.test")[0], 200)

    def pebble_directory(self):
        """The running Pebble's directory document, as it serves it."""
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.pebble.ca_file)
        return urllib.request.urlopen(self.pebble.directory, context=ctx, timeout=10).read()

    def server_behind_directory(self, body):
        """A server whose CA directory is an HTTPS front answering the n-th
        GET (from 1) with body(n). Returns the server (not started) and the
        front, which the caller shuts down."""
        import http.server
        state = {"calls": 0}

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                state["calls"] += 1
                data = body(state["calls"])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        port = harness.free_port()
        httpd = self.pebble.https_front(Handler, port)
        s = self.make_server()
        s.extra = s.extra.replace(self.pebble.directory, "https://127.0.0.1:%d/dir" % port)
        s.write_config()
        return s, httpd

    def test_hostile_directory_then_recovery(self):
        import json
        self.pebble.start()

        def body(n):
            if n == 1:  # deeply nested
                return b"[" * 100000
            if n == 2:  # a token and URL that must never be trusted
                return json.dumps({"newNonce": "javascript:alert(1)", "newAccount": "x", "newOrder": 5}).encode()
            return self.pebble_directory()

        s, httpd = self.server_behind_directory(body)
        try:
            s.start()
            # Two bad answers, two clear lines, the server serving all along; then it recovers.
            pem = wait_issued(s, "wharf.test", timeout=40)
            self.assertTrue(issued_by_pebble(pem))
            bad = [l for l in s.log().splitlines() if "directory malformed" in l and "[error]" in l]
            self.assertEqual(len(bad), 2, s.log()[-3000:])
            self.assertTrue(all("[error] certificate main: order failed for wharf.test" in l for l in bad), bad)
            self.assertEqual(harness.curl(s, "/", host="wharf.test")[0], 200)
        finally:
            httpd.shutdown()

    def test_directory_down_to_plain_http_is_not_followed(self):
        # A well-formed directory whose URLs drop to plain http (a network
        # could then swap the answers): not followed, one clear line.
        self.pebble.start()
        s, httpd = self.server_behind_directory(lambda n: self.pebble_directory().replace(b"https://", b"http://"))
        try:
            s.start()
            self.assertTrue(s.wait_log("the CA gave a URL not followed (plain http, or a local address): http://",
                                       timeout=20), s.log()[-3000:])
            self.assertRegex(s.log(), r"\[error\] certificate main: order failed for wharf.test: .*not followed")
            self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "wharf.test")))
            self.assertNotIn("account https://", s.log())
        finally:
            httpd.shutdown()


class ExpiryAlarm(AcmeCase):
    def setUp(self):
        # 12-second certificates: due after 6 s; with the CA gone, renewal fails
        # until the certificate is past the last sixth of its life.
        self.pebble = Pebble(validity=12)

    def test_alarm_when_renewal_keeps_failing(self):
        self.pebble.start()
        s = self.make_server()
        event, event_log = hook_script(s, "event")
        s.write_config(s.config_text().replace("retry_interval = 1;",
                                               'retry_interval = 1; event_hook = ["%s"];' % event))
        s.start()
        wait_issued(s, "wharf.test")
        self.pebble.stop_pebble()
        self.assertTrue(s.wait_log("ALARM certificate main", timeout=40), s.log()[-3000:])
        wait_file_text(event_log, "WHARF_EVENT=expiring")
        self.assertEqual(harness.curl(s, "/", host="wharf.test", args=["-k"])[0], 200)

    def test_expired_certificate_across_a_restart(self):
        # The server was down (and the CA too) while its certificate expired.
        # At start it serves that certificate as it did before stopping, not
        # a self-signed one, so the manager knows its lifetime: the failed
        # attempt raises the alarm, and a CA back up renews it.
        self.pebble.start()
        s = self.make_server()
        s.start()
        first = wait_issued(s, "wharf.test")
        end = not_after(first)
        s.stop()
        self.pebble.stop_pebble()
        while time.time() < end + 1:
            time.sleep(0.3)
        before = len(s.log())
        s.start()
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), first)
        self.assertIn("stored issued.pem expired at", s.log()[before:])
        # cert list tells what is served: the issued certificate, expired.
        out = subprocess.run([harness.WHARF, "cert", "list", "--json", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        listed = {c["name"]: c for c in json.loads(out.stdout)["certificates"]}["main"]
        self.assertFalse(listed["provisional"], listed)
        self.assertIn("Pebble", listed["issuer"], listed)
        text = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path], capture_output=True,
                              text=True, timeout=20).stdout
        self.assertIn("not after:    %s (EXPIRED)" % listed["not_after"], text)
        self.assertTrue(s.wait_log("ALARM certificate main: expired", timeout=20), s.log()[before:])
        self.pebble.start_pebble()
        second = wait_renewed(s, "wharf.test", first)
        self.assertNotEqual(second, first, s.log()[before:])
        self.assertGreater(not_after(second), time.time())


def not_after(pem):
    """The certificate's notAfter as a Unix time."""
    import calendar
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(pem.encode())
    # not_valid_after_utc since cryptography 42; the older name is naive UTC.
    when = cert.not_valid_after_utc if hasattr(cert, "not_valid_after_utc") else cert.not_valid_after
    return calendar.timegm(when.timetuple())


def log_time(line):
    """The Unix time (with milliseconds) of a server log line."""
    import calendar
    stamp = line.split()[0]  # 2025-01-02T03:04:05.678Z
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float(stamp[19:-1])


class BackoffBeforeExpiry(AcmeCase):
    def setUp(self):
        # 36-second certificates: due when 18 s are left, in the last sixth at 6 s.
        # As a 160-hour one is, scaled down: the CA fails from the first
        # renewal attempt on; the waits must not run past expiry.
        self.pebble = Pebble(validity=36)

    def test_attempts_close_in_and_alarm_before_expiry(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        event, event_log = hook_script(s, "event")
        s.write_config(s.config_text().replace("retry_interval = 1;",
                                               'retry_interval = 1; event_hook = ["%s"];' % event))
        s.start()
        end = not_after(wait_issued(s, "wharf.test"))
        self.pebble.stop_pebble()
        while time.time() < end + 1.5:
            time.sleep(0.5)
        log = s.log()
        fails = [(log_time(l), int(re.search(r"next attempt in (\d+) s", l).group(1)))
                 for l in log.splitlines() if "order failed for wharf.test" in l]
        before = [(t, d) for t, d in fails if t < end]
        # Several attempts, each next one planned before expiry; the waits
        # shrink as expiry nears (10 s and more would be the steps' own).
        self.assertGreaterEqual(len(before), 6, log[-4000:])
        for t, d in before:
            if end - t > 2:
                self.assertLess(t + d, end, (end - t, d, log[-4000:]))
        self.assertTrue(all(d < 10 for t, d in before), before)
        early = [d for t, d in before if end - t > 10]
        late = [d for t, d in before if end - t < 6]
        self.assertTrue(late and early, before)
        self.assertLessEqual(max(late), 1, before)
        self.assertGreaterEqual(max(early), 2, before)
        # The alarm went out before expiry, in the last sixth: line and event.
        alarms = [log_time(l) for l in log.splitlines() if "ALARM certificate main: expires in" in l]
        self.assertTrue(alarms, log[-4000:])
        self.assertLess(alarms[0], end - 1, log[-4000:])
        self.assertGreater(alarms[0], end - 7, log[-4000:])
        wait_file_text(event_log, "WHARF_EVENT=expiring")


if __name__ == "__main__":
    harness.main()
