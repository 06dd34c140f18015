"""The built-in ACME client against a real ACME server (Debian's pebble):
a first certificate, provisional -> CA-issued without a restart, over
HTTP-01, TLS-ALPN-01 and dns-01 (through a hook, with wildcards), for names
and IP addresses; a connection opened before the swap keeps working; a
restart reuses the issued certificate without a new order, and resumes an
unfinished one; a CA that is down, or says no, leaves the server serving,
with one clear log line per failure, and the client recovers by itself
when the CA comes back. Then what an operator does with a certificate:
hooks, events, cert list, the status endpoint, revocation."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import cert_text, tls_peer_cert  # noqa: E402
from pebble import (AcmeCase, Pebble, account_dir, block_issued_pem, dns_hook_script, hook_script,  # noqa: E402
                    issued_by_pebble, served_chain, verify_chain, wait_file_text, wait_issued, wait_renewed)
from test_lifecycle import http_get, tls_connect  # noqa: E402


class HttpChallenge(AcmeCase):
    def test_down_then_issued_live_and_reused(self):
        s = self.make_server()
        # The CA is down at first: the provisional certificate serves, failures are logged.
        s.start()
        self.assertTrue(s.wait_log("order failed for wharf.test", timeout=20), s.log()[-3000:])
        self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "wharf.test")))
        line = [l for l in s.log().splitlines() if "order failed" in l][0]
        self.assertIn("certificate main", line)
        self.assertIn("next attempt in", line)
        with open(os.path.join(s.home(), "f.txt"), "w") as f:
            f.write("still here")
        os.chmod(os.path.join(s.home(), "f.txt"), 0o644)
        old = tls_connect(s.port, sni="wharf.test")
        self.assertEqual(http_get(old, "/f.txt"), (200, b"still here"))
        old_der = old.getpeercert(binary_form=True)

        # The CA comes up: wharf recovers by itself, without a restart.
        self.pebble.start()
        pem = wait_issued(s, "wharf.test", timeout=40)
        self.assertIn("www.wharf.test", cert_text(pem))
        ok, why = verify_chain(self.pebble, served_chain(s.port, "www.wharf.test"), "www.wharf.test")
        self.assertTrue(ok, why)
        self.assertIn("installed", s.log())
        self.assertIn("answered the challenge", s.log())
        # The connection opened before the swap goes on with its certificate.
        self.assertEqual(http_get(old, "/f.txt"), (200, b"still here"))
        self.assertEqual(old.getpeercert(binary_form=True), old_der)
        old.close()
        # Persisted: key and chain in one 0600 file.
        issued = os.path.join(s.state_dir, "certs", "main", "issued.pem")
        self.assertEqual(os.stat(issued).st_mode & 0o777, 0o600)
        acct = os.path.join(account_dir(s.state_dir, self.pebble.directory), "account.key")
        self.assertEqual(os.stat(acct).st_mode & 0o777, 0o600)

        # A restart serves the same certificate, finds the same account, and orders nothing.
        orders = s.log().count("ordering from")
        account = [l for l in s.log().splitlines() if "created" in l and "account" in l][0].split("account ")[1]
        account = account.split()[0]
        s.stop()
        s.start()
        self.assertTrue(s.wait_log("account %s found" % account, timeout=20), s.log()[-2000:])
        time.sleep(1)
        self.assertEqual(tls_peer_cert(s.port, "wharf.test"), pem)
        self.assertEqual(s.log().count("ordering from"), orders, s.log()[-2000:])

    def test_http01_responder(self):
        s = self.make_server()
        s.start()
        import urllib.request
        base = "http://127.0.0.1:%d" % self.pebble.http_port
        body = urllib.request.urlopen(base + "/.well-known/acme-challenge/test.txt", timeout=10).read()
        self.assertEqual(body, b"wharf acme-http ready\n")
        for token in ("unknown-token", "..%2f..%2fetc", "a.b"):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(base + "/.well-known/acme-challenge/" + token, timeout=10)
            self.assertEqual(cm.exception.code, 404)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        req = urllib.request.Request(base + "/some/page?x=1", headers={"Host": "wharf.test"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            opener.open(req, timeout=10)
        self.assertEqual(cm.exception.code, 301)
        self.assertEqual(cm.exception.headers["Location"],
                         "https://wharf.test:%d/some/page?x=1" % self.pebble.tls_port)

    def test_refused_name_logged_and_provisional_kept(self):
        self.pebble.start()
        s = self.make_server(domains=("blocked.example",))
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=30), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "order failed" in l][0]
        self.assertIn("certificate main", line)
        self.assertIn("blocked.example", line)
        self.assertIn("rejectedIdentifier", line)
        # A problem caused by the request itself waits the longest before trying again.
        self.assertRegex(line, r"next attempt in (7[0-9]{4}|8[0-9]{4}|9[0-9]{4}) s")
        self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "blocked.example")))
        self.assertEqual(harness.curl(s, "/", host="blocked.example")[0], 200)

    def test_bad_directory_url(self):
        s = self.make_server()
        s.extra = s.extra.replace(self.pebble.directory,
                                  "https://127.0.0.1:%d/dir" % harness.free_port())
        s.write_config()
        s.start()
        self.assertTrue(s.wait_log("directory unreachable", timeout=20), s.log()[-3000:])
        self.assertEqual(harness.curl(s, "/", host="wharf.test")[0], 200)


class UnreliableNonces(AcmeCase):
    def setUp(self):
        # Half the nonces are refused on purpose: badNonce must be retried.
        self.pebble = Pebble(nonce_reject=50)

    def test_issued_despite_bad_nonces(self):
        self.pebble.start()
        s = self.make_server()
        s.start()
        wait_issued(s, "wharf.test", timeout=60)
        self.assertIn("badNonce", self.pebble.log() + s.log())


class DnsChallenge(AcmeCase):
    """dns-01 through the certificate's dns_hook, and with it wildcards."""

    def wildcard_server(self, mode="ok", in_acme_block=False):
        s = self.make_server(challenge="dns-01", certs=[{"name": "main", "domains": ["wild.test", "*.wild.test"],
                                                        "challenge": "dns-01"}])
        hook, log = dns_hook_script(s, self.pebble, mode)
        if in_acme_block:  # acme.dns_hook serves every dns-01 certificate without one of its own
            s.write_config(s.config_text().replace("retry_interval = 1;",
                                                   'retry_interval = 1; dns_hook = ["%s"];' % hook))
        else:
            s.certificates[0]["dns_hook"] = [hook]
            s.write_config()
        return s, log

    def test_wildcard_issued_and_records_removed(self):
        self.pebble.start()
        s, log = self.wildcard_server()
        s.start()
        pem = wait_issued(s, "files.wild.test", timeout=60)
        text = cert_text(pem)
        self.assertIn("*.wild.test", text)
        ok, why = verify_chain(self.pebble, served_chain(s.port, "files.wild.test"), "files.wild.test")
        self.assertTrue(ok, why)
        self.assertEqual(tls_peer_cert(s.port, "wild.test"), pem)
        # One record per authorization, both at the same name, added before
        # the CA looked and removed after; the hook knew which domain it served.
        calls = wait_file_text(log, "remove").splitlines()
        deadline = time.monotonic() + 10
        while sum(c.startswith("remove ") for c in calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            calls = wait_file_text(log, "remove").splitlines()
        adds = sorted(c for c in calls if c.startswith("add "))
        removes = sorted(c for c in calls if c.startswith("remove "))
        self.assertEqual(len(adds), 2, calls)
        self.assertEqual([a.split()[1] for a in adds], ["_acme-challenge.wild.test"] * 2)
        self.assertEqual(sorted(a.split()[4] for a in adds), ["*.wild.test", "wild.test"])
        self.assertTrue(all(a.split()[3] == "main" for a in adds), adds)
        self.assertEqual(sorted(r.replace("remove", "add", 1) for r in removes), adds)
        self.assertNotEqual(adds[0].split()[2], adds[1].split()[2])  # a value per authorization
        # The calls ran one at a time (a hook rewriting the TXT set must not race itself).
        deadline = time.monotonic() + 10
        while True:
            with open(log + ".seq") as f:
                seq = f.read().split()
            if len(seq) >= 8 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(seq, ["begin", "end"] * 4)
        self.assertIn("TXT record _acme-challenge.wild.test published", s.log())

    def test_failing_hook_is_one_clear_line_and_the_server_serves(self):
        self.pebble.start()
        s, log = self.wildcard_server("fail", in_acme_block=True)
        s.start()
        self.assertTrue(s.wait_log("dns_hook could not publish the TXT record _acme-challenge.wild.test",
                                   timeout=30), s.log()[-3000:])
        self.assertRegex(s.log(), r"dns_hook add _acme-challenge\.wild\.test \(.*dns\.sh, pid \d+\): exited 3")
        self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "a.wild.test")))
        wait_file_text(log, "remove _acme-challenge.wild.test")  # cleaned up all the same

    def test_fixed_settings_are_tried_at_once(self):
        # A failure the settings caused (a hook that cannot publish) waits
        # out its backoff while they stay as they were; once the admin has
        # changed them, the next start orders at once.
        self.pebble.start()
        s, _ = self.wildcard_server("fail")
        slow = s.config_text().replace("retry_interval = 1;", "retry_interval = 3600;")
        s.write_config(slow)
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=30), s.log()[-3000:])
        s.stop()
        with open(os.path.join(s.state_dir, "certs", "main", "status.json")) as f:
            status = json.load(f)
        self.assertEqual(len(status.get("failed_for", "")), 64, status)
        self.assertGreater(status["next_attempt"], time.time() + 600)
        s.start()  # the same settings: the backoff stands
        time.sleep(2)
        self.assertEqual(s.log().count("order failed"), 1, s.log()[-3000:])
        self.assertNotIn("have changed", s.log())
        s.stop()
        hook, _ = dns_hook_script(s, self.pebble, "ok")
        fixed = os.path.join(os.path.dirname(hook), "dns-fixed.sh")
        os.rename(hook, fixed)
        s.write_config(slow.replace(hook, fixed))
        s.start()
        self.assertIn("wild.test", cert_text(wait_issued(s, "a.wild.test", timeout=60)))
        self.assertIn("certificate main: the settings its last order failed for", s.log())

    def test_wrong_record_is_refused_by_the_ca(self):
        # The CA really reads the record: a wrong value fails validation.
        self.pebble.start()
        s, log = self.wildcard_server("wrong")
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=30), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "order failed" in l][0]
        self.assertIn("wild.test", line)
        self.assertRegex(line, r"(?i)unauthorized|txt")
        self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "a.wild.test")))

    def test_shutdown_mid_order_removes_the_records_first(self):
        self.pebble.start()
        s, log = self.wildcard_server("slow")
        s.start()
        wait_file_text(log, "add _acme-challenge.wild.test")
        time.sleep(0.5)  # the second authorization is in too: its add waits in the queue
        self.assertEqual(s.stop(timeout=30), 0)
        text = s.log()
        self.assertRegex(text, r"dns_hook remove _acme-challenge\.wild\.test \(.*\): exited 0")
        self.assertLess(text.rindex("dns_hook remove"), text.rindex("stopped"))
        with open(log) as f:
            calls = f.read().splitlines()
        # The add under way finished and its record was removed; the other,
        # not started, was dropped, and nothing was asked to undo it.
        adds = [c for c in calls if c.startswith("add ")]
        removes = [c for c in calls if c.startswith("remove ")]
        self.assertEqual(len(adds), 1, calls)
        self.assertEqual([r.replace("remove", "add", 1) for r in removes], adds)
        self.assertNotIn("remove that TXT record by hand", text)

    def test_hook_that_cannot_start_is_one_line(self):
        self.pebble.start()
        # A hook load finds in place (a missing one is refused there) whose
        # interpreter is missing: exec fails at each call. Relative to the
        # config's folder.
        s = self.make_server(challenge="dns-01", certs=[{"name": "main", "domains": ["wild.test", "*.wild.test"],
                                                        "challenge": "dns-01",
                                                        "dns_hook": ["hooks/dns-hook"]}])
        hook = os.path.join(s.dir, "hooks", "dns-hook")
        os.makedirs(os.path.dirname(hook))
        with open(hook, "w") as f:
            f.write("#!/nonexistent/interpreter\n")
        os.chmod(hook, 0o755)
        s.start()
        self.assertTrue(s.wait_log("dns_hook could not publish the TXT record _acme-challenge.wild.test",
                                   timeout=30), s.log()[-3000:])
        time.sleep(1)  # room for any remove that would follow
        text = s.log()
        # Each attempt: one line says why, and the order's line points at it;
        # no remove is tried for records the hook never added.
        cannot = re.findall(r"cannot run %s: No such file" % re.escape(hook), text)
        self.assertGreaterEqual(len(cannot), 1)
        self.assertEqual(len(cannot), text.count("dns_hook could not publish"), text[-3000:])
        self.assertNotIn("dns_hook remove", text)
        self.assertIn("wharf provisional", cert_text(tls_peer_cert(s.port, "a.wild.test")))

    def test_orders_started_together_wait_for_each_others_hooks(self):
        # Four dns-01 certificates start at once; their adds run one at a
        # time, 3 s each, so the last order waits about 10 s for the others'
        # hooks. That wait is not its own: with order_timeout at 6 s (more
        # than one order with its own hook takes, less than all the hooks
        # together) every order completes.
        self.pebble.start()
        certs = [{"name": "d%d" % i, "domains": ["d%d.wild.test" % i], "challenge": "dns-01"} for i in range(4)]
        s = self.make_server(challenge="dns-01", certs=certs)
        hook, log = dns_hook_script(s, self.pebble, "slow")
        for c in s.certificates:
            c["dns_hook"] = [hook]
        s.extra = s.extra.replace("retry_interval = 1;", "retry_interval = 1; order_timeout = 6;")
        s.write_config()
        t0 = time.time()
        s.start()
        self.assertTrue(s.wait_log("; installed", timeout=50, count=4), s.log()[-4000:])
        took = time.time() - t0
        self.assertNotIn("did not complete within", s.log())
        self.assertNotIn("order failed", s.log())
        self.assertGreater(took, 6 + 3, s.log()[-4000:])  # the last one ran past 6 s of wall time
        for i in range(4):
            self.assertTrue(issued_by_pebble(tls_peer_cert(s.port, "d%d.wild.test" % i)))

    def test_config_names_what_is_missing(self):
        for cert, expect in (
                ({"name": "w", "domains": ["*.wild.test"], "challenge": "http-01"},
                 'wildcard "*.wild.test" needs challenge = "dns-01"'),
                ({"name": "w", "domains": ["wild.test"], "challenge": "dns-01"},
                 'uses dns-01 but has no dns_hook')):
            s = self.make_server(certs=[cert])
            out = subprocess.run([harness.WHARF, "check", "-c", s.config_path], capture_output=True, text=True,
                                 timeout=20)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(expect, out.stdout + out.stderr)
            s.cleanup()
            del self.server


class IpIdentifiers(AcmeCase):
    """RFC 8738: a certificate for an IP address, validated by http-01 or by
    tls-alpn-01 (whose validator asks for the reverse name as SNI), served to
    clients that reach the service by address and send no SNI."""

    def check_ip(self, challenge):
        self.pebble.start()
        s = self.make_server(challenge=challenge,
                             certs=[{"name": "main", "domains": ["127.0.0.1"], "challenge": challenge}])
        s.start()
        pem = wait_issued(s, None, timeout=60)
        self.assertRegex(cert_text(pem), r"IPAddress: 127\.0\.0\.1")
        # curl checks the address against the certificate, through Pebble's root.
        with tempfile.TemporaryDirectory() as d:
            with open(d + "/root.pem", "w") as f:
                f.write(self.pebble.root_pem())
            out = subprocess.run(["curl", "-sS", "--cacert", d + "/root.pem", "-o", "/dev/null", "-w",
                                  "%{http_code}", "https://127.0.0.1:%d/" % s.port],
                                 capture_output=True, text=True, timeout=20)
        self.assertEqual((out.returncode, out.stdout), (0, "401"), out.stderr)

    def test_ip_over_http01(self):
        self.check_ip("http-01")

    def test_ip_over_tls_alpn01(self):
        self.check_ip("tls-alpn-01")


class Operations(AcmeCase):
    def test_hooks_list_status_and_revoke(self):
        self.pebble.start()
        s = self.make_server()
        deploy, deploy_log = hook_script(s, "deploy")
        event, event_log = hook_script(s, "event")
        s.certificates[0]["deploy_hook"] = "@DEPLOY@"
        s.users.append({"name": "boss", "password": "boss-pw", "perms": ["read", "admin"]})
        os.makedirs(s.home("boss"))
        text = s.config_text().replace('deploy_hook = "@DEPLOY@";', 'deploy_hook = ["%s", "arg1"];' % deploy)
        text = text.replace("retry_interval = 1;", 'retry_interval = 1; event_hook = ["%s"];' % event)
        s.write_config(text)
        s.start()
        first = wait_issued(s, "wharf.test")
        # The deploy hook ran once with the certificate's facts, and so did the event hook.
        d = wait_file_text(deploy_log, "WHARF_EVENT=issued")
        self.assertIn("WHARF_CERT_NAME=main", d)
        self.assertIn("WHARF_DOMAINS=wharf.test www.wharf.test", d)
        self.assertIn("WHARF_CERT_FILE=%s" % os.path.join(s.state_dir, "certs", "main", "issued.pem"), d)
        wait_file_text(event_log, "WHARF_EVENT=issued")
        self.assertTrue(s.wait_log("deploy hook (%s" % deploy, timeout=10))
        self.assertTrue(s.wait_log("exited 0", timeout=10))

        # wharf cert list, as text and JSON.
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Pebble Intermediate CA", out.stdout)
        self.assertIn("next renewal:", out.stdout)
        self.assertIn("last error:   none", out.stdout)
        import json
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path, "--json"], capture_output=True,
                             text=True, timeout=20)
        listing = json.loads(out.stdout)["certificates"][0]
        self.assertEqual(listing["name"], "main")
        self.assertFalse(listing["provisional"])
        self.assertIn("Pebble", listing["issuer"])

        # The status endpoint is for admins only; for others it is an ordinary (missing) path.
        status, headers, body = harness.curl(s, "/.wharf/status", user="boss", host="wharf.test")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body)["certificates"][0]["serial"], listing["serial"])
        self.assertEqual(harness.curl(s, "/.wharf/status", user="alice", host="wharf.test")[0], 404)

        # Revocation: the CA records it, the certificate is set aside, a reload orders a new one.
        out = subprocess.run([harness.WHARF, "cert", "revoke", "main", "-c", s.config_path], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("revoked", out.stdout)
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.pebble.ca_file)
        st = urllib.request.urlopen("https://127.0.0.1:%d/cert-status-by-serial/%s"
                                    % (self.pebble.mgmt_port, listing["serial"]), context=ctx, timeout=10).read()
        self.assertIn(b"Revoked", st)
        self.assertTrue(os.path.exists(os.path.join(s.state_dir, "certs", "main", "issued.pem.revoked")))
        self.assertTrue(s.reload())
        second = wait_renewed(s, "wharf.test", first, timeout=40)
        self.assertNotEqual(second, first)
        self.assertTrue(issued_by_pebble(second))

    def test_failure_event_and_last_error(self):
        self.pebble.start()
        s = self.make_server(domains=("blocked.example",))
        event, event_log = hook_script(s, "event")
        s.write_config(s.config_text().replace("retry_interval = 1;",
                                               'retry_interval = 1; event_hook = ["%s"];' % event))
        s.start()
        line = wait_file_text(event_log, "WHARF_EVENT=failed")
        self.assertIn("WHARF_PROBLEM=urn:ietf:params:acme:error:rejectedIdentifier", line)
        self.assertIn("WHARF_DOMAIN=blocked.example", line)
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        self.assertIn("rejectedIdentifier", out.stdout)
        self.assertIn("provisional", out.stdout)

    def test_webhook_gets_events(self):
        import http.server
        import json
        import threading
        self.pebble.start()
        got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(204)
                self.end_headers()

        port = harness.free_port()
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            s = self.make_server()
            s.extra = s.extra.replace("retry_interval = 1;",
                                      'retry_interval = 1; webhook = "http://127.0.0.1:%d/hook";' % port)
            s.write_config()
            s.start()
            wait_issued(s, "wharf.test")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not got:
                time.sleep(0.1)
            self.assertEqual(got[0][0], "application/json")
            self.assertEqual(got[0][1]["event"], "issued")
            self.assertEqual(got[0][1]["certificate"], "main")
        finally:
            httpd.shutdown()


class Preflight(AcmeCase):
    def test_unreachable_name_is_not_ordered(self):
        self.pebble.preflight_port = self.pebble.http_port
        self.pebble.start()
        # A name this machine cannot resolve: the self-check fails, the CA hears nothing.
        s = self.make_server(domains=("nowhere.invalid",))
        s.start()
        self.assertTrue(s.wait_log("pre-flight self-check failed", timeout=20), s.log()[-3000:])
        line = [l for l in s.log().splitlines() if "order failed" in l][0]
        self.assertIn("nowhere.invalid", line)
        self.assertIn("not sent", line)
        self.assertNotIn("POST /order-plz", self.pebble.log())
        self.assertNotIn("ordering from", s.log())

    def test_reachable_name_passes(self):
        self.pebble.preflight_port = self.pebble.http_port
        self.pebble.start()
        # localhost reaches this machine's own acme-http service, like a forwarded port 80.
        s = self.make_server(domains=("localhost",))
        s.start()
        self.assertTrue(s.wait_log("ordering from", timeout=20), s.log()[-3000:])
        self.assertNotIn("pre-flight self-check failed", s.log())


class Profiles(AcmeCase):
    def test_profile_the_ca_does_not_offer(self):
        self.pebble.start()
        s = self.make_server(certs=[{"name": "main", "domains": ["wharf.test"], "profile": "shortlived"}])
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=20), s.log()[-3000:])
        self.assertIn('the CA does not offer the profile "shortlived"', s.log())
        self.assertNotIn("POST /order-plz", self.pebble.log())


class Resume(AcmeCase):
    def setUp(self):
        # Pebble's random 0-4 s validation sleep keeps the order open long enough to kill us in it.
        self.pebble = Pebble(nosleep=False)

    def test_restart_resumes_the_unfinished_order(self):
        import signal
        self.pebble.start()
        s = self.make_server()
        s.start()
        pending = os.path.join(s.state_dir, "certs", "main", "pending.order")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not os.path.exists(pending):
            time.sleep(0.01)
        self.assertTrue(os.path.exists(pending), s.log()[-3000:])
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(timeout=10)
        with open(pending) as f:
            order_url, ca, names = f.read().splitlines()
        self.assertEqual((ca, names), (self.pebble.directory, "wharf.test www.wharf.test"))
        s.start()
        pem = wait_issued(s, "wharf.test", timeout=60)
        self.assertIn("resuming the unfinished order %s" % order_url, s.log())
        # Pebble says "Added order" once per order it creates (a badNonce retry is not one).
        # One exception is the real world's too: if Pebble's validation landed in the
        # instant wharf was down, the resumed order is invalid and a fresh one follows.
        orders = self.pebble.log().count("Added order")
        if orders == 2:
            self.assertRegex(s.log(), r"(order failed for \S+: \S*(connection|unauthorized).*validation of"
                                      r"|the unfinished order is invalid; ordering anew)")
        else:
            self.assertEqual(orders, 1, s.log()[-3000:])
        self.assertFalse(os.path.exists(pending))
        self.assertTrue(issued_by_pebble(pem))


    def test_issued_but_not_stored_is_fetched_again_after_a_restart(self):
        # issued.pem cannot be written (a folder holds its name): the server
        # serves the certificate from memory and keeps the order and its key,
        # so after a restart it fetches the same certificate, ordering nothing.
        self.pebble.start()
        s = self.make_server()
        blocker = block_issued_pem(s)
        s.start()
        first = wait_issued(s, "wharf.test", timeout=60)
        self.assertTrue(s.wait_log("issued, but not stored", timeout=10), s.log()[-3000:])
        certs = os.path.join(s.state_dir, "certs", "main")
        self.assertTrue(os.path.exists(os.path.join(certs, "pending.order")))
        self.assertEqual(os.stat(os.path.join(certs, "pending.key")).st_mode & 0o777, 0o600)
        self.assertEqual(s.stop(timeout=30), 0)
        os.rmdir(os.path.join(blocker, "x"))
        os.rmdir(blocker)
        s.start()
        again = wait_issued(s, "wharf.test", timeout=60)
        self.assertEqual(again, first)
        self.assertEqual(self.pebble.log().count("Added order"), 1, s.log()[-3000:])
        self.assertTrue(os.path.exists(os.path.join(certs, "issued.pem")))
        self.assertFalse(os.path.exists(os.path.join(certs, "pending.order")))
        self.assertFalse(os.path.exists(os.path.join(certs, "pending.key")))


class TlsAlpnChallenge(AcmeCase):
    challenge = "tls-alpn-01"

    def test_issued_over_tls_alpn(self):
        self.pebble.start()
        s = self.make_server()
        s.start()
        pem = wait_issued(s, "www.wharf.test", timeout=40)
        self.assertIn("wharf.test", cert_text(pem))
        self.assertIn("tls-alpn-01: answered the challenge", s.log())
        self.assertNotIn("acme-http", s.log())
        self.assertEqual(harness.curl(s, "/", host="wharf.test")[0], 200)


class ManyNames(AcmeCase):
    def test_hundred_names_and_twenty_certificates(self):
        self.pebble.start()
        certs = [{"name": "big", "domains": ["n%d.wharf.test" % i for i in range(100)]}]
        certs += [{"name": "c%d" % i, "domains": ["c%d.wharf.test" % i]} for i in range(20)]
        s = self.make_server(certs=certs)
        t0 = time.monotonic()
        s.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and s.log().count("; installed") < 21:
            time.sleep(0.3)
        self.assertEqual(s.log().count("; installed"), 21, s.log()[-4000:])
        took = time.monotonic() - t0
        big = cert_text(wait_issued(s, "n57.wharf.test"))
        for i in (0, 42, 99):
            self.assertIn("n%d.wharf.test" % i, big)
        for i in (0, 19):
            self.assertIn("c%d.wharf.test" % i, cert_text(wait_issued(s, "c%d.wharf.test" % i)))
        sys.stderr.write("21 certificates (one of 100 names) issued in %.1f s\n" % took)


if __name__ == "__main__":
    harness.main()
