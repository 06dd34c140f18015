"""The built-in ACME client against a real ACME server (Debian's pebble):
provisional -> CA-issued without a restart, over HTTP-01 and TLS-ALPN-01;
a connection opened before the swap keeps working; a restart reuses the
issued certificate without a new order; a CA that is down, or says no,
leaves the server serving, with one clear log line per failure, and the
client recovers by itself when the CA comes back."""

import glob
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import cert_text, tls_peer_cert  # noqa: E402
from pebble import (AcmeCase, Pebble, block_issued_pem, dns_hook_script, hook_script, issued_by_pebble,  # noqa: E402
                    public_key_id, served_chain, verify_chain, wait_file_text, wait_issued, wait_renewed)
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
        acct = os.path.join(s.state_dir, "acme", "127.0.0.1_%d" % self.pebble.port, "account.key")
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


class Renewal(AcmeCase):
    def setUp(self):
        # Certificates that live 40 s: renewal is due when half is left (shorter than 10 days).
        self.pebble = Pebble(validity=40)

    def test_short_lived_certificate_renewed(self):
        self.pebble.start()
        s = self.make_server()
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        deadline = time.monotonic() + 60
        second = first
        while time.monotonic() < deadline and second == first:
            time.sleep(0.5)
            second = tls_peer_cert(s.port, "wharf.test")
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertTrue(issued_by_pebble(second))
        self.assertGreaterEqual(s.log().count("; installed"), 2)
        # Without reuse_key every renewal brings a new key.
        self.assertNotEqual(public_key_id(first), public_key_id(second))

    def test_forgotten_account_is_registered_again(self):
        # Pebble restarted between two issuances forgets the account (a CA
        # may purge one too): the renewal's first order is refused, and the
        # next attempt registers again instead of failing until a restart.
        self.pebble.start()
        s = self.make_server()
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        self.pebble.stop_pebble()
        self.pebble.start_pebble()
        second = wait_renewed(s, "wharf.test", first)
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertTrue(issued_by_pebble(second))
        self.assertIn("the CA no longer knows account", s.log())
        self.assertGreaterEqual(s.log().count("account https://127.0.0.1:%d/my-account/" % self.pebble.port), 2)

    def test_deactivated_account_is_replaced(self):
        # The account is deactivated at the CA (by its holder, say after a
        # key leak): the renewal's order is refused, and the next attempt
        # moves the old key aside, registers a new account and renews.
        self.pebble.start()
        s = self.make_server()
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        [key_path] = glob.glob(os.path.join(s.state_dir, "acme", "*", "account.key"))
        with open(key_path, "rb") as f:
            old_key = f.read()
        old_kid = self.pebble.deactivate_account(key_path)
        second = wait_renewed(s, "wharf.test", first)
        log = s.log()
        self.assertNotEqual(second, first, log[-3000:])
        self.assertTrue(issued_by_pebble(second))
        self.assertIn("the account is deactivated at the CA", log)
        self.assertEqual(log.count("account %s created" % old_kid), 1, log[-3000:])
        self.assertEqual(len(re.findall(r"account \S+ created", log)), 2, log[-3000:])
        [aside] = glob.glob(key_path + ".deactivated-*")
        with open(aside, "rb") as f:
            self.assertEqual(f.read(), old_key)
        self.assertEqual(os.stat(aside).st_mode & 0o777, 0o600)
        with open(key_path, "rb") as f:
            self.assertNotEqual(f.read(), old_key)
        self.assertEqual(os.stat(key_path).st_mode & 0o777, 0o600)

    def test_replacement_that_cannot_register_changes_nothing(self):
        # The account is deactivated, and the new one cannot be registered
        # (here: a broken EAB key, as a single-use one already spent would
        # be): the old key stays account.key, nothing is moved aside and no
        # account.key.next is left. Once registration works, it goes ahead.
        self.pebble.start()
        s = self.make_server()
        s.start()
        wait_issued(s, "wharf.test", timeout=40)
        [key_path] = glob.glob(os.path.join(s.state_dir, "acme", "*", "account.key"))
        with open(key_path, "rb") as f:
            old_key = f.read()
        self.pebble.deactivate_account(key_path)
        good = s.config_text()
        s.extra = self.pebble.acme_config('eab_kid = "kid-1"; eab_hmac = "not base64url!";')
        s.write_config()
        self.assertTrue(s.reload())
        self.assertTrue(s.wait_log("no new account in place of the deactivated one: eab_hmac is not valid base64url",
                                   timeout=40), s.log()[-3000:])
        with open(key_path, "rb") as f:
            self.assertEqual(f.read(), old_key)
        self.assertEqual(glob.glob(key_path + ".*"), [])
        s.write_config(good)
        self.assertTrue(s.reload())
        self.assertTrue(s.wait_log("registered in place of the deactivated one", timeout=40), s.log()[-3000:])
        with open(key_path, "rb") as f:
            self.assertNotEqual(f.read(), old_key)
        self.assertEqual(len(glob.glob(key_path + ".deactivated-*")), 1)
        self.assertEqual(glob.glob(key_path + ".next"), [])

    def test_renewal_while_issued_pem_cannot_be_written(self):
        # The state folder takes no issued.pem (a folder holds the name): each
        # certificate is served from memory and its order kept for a restart.
        # At renewal that kept order hands back the certificate served; that
        # is no renewal: a fresh order follows, not a loop of re-downloads.
        self.pebble.start()
        s = self.make_server()
        blocker = block_issued_pem(s)
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        second = wait_renewed(s, "wharf.test", first)
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertIn("the CA handed back the certificate already served", s.log())
        self.assertLessEqual(s.log().count("; installed"), 4, s.log()[-3000:])

    def test_reuse_key_keeps_the_key(self):
        self.pebble.start()
        s = self.make_server(certs=[{"name": "main", "domains": ["wharf.test"], "reuse_key": True}])
        s.start()
        first = wait_issued(s, "wharf.test", timeout=40)
        deadline = time.monotonic() + 60
        second = first
        while time.monotonic() < deadline and second == first:
            time.sleep(0.5)
            second = tls_peer_cert(s.port, "wharf.test")
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertEqual(public_key_id(first), public_key_id(second))


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
        s = self.make_server(challenge="dns-01", certs=[{"name": "main", "domains": ["wild.test", "*.wild.test"],
                                                        "challenge": "dns-01",
                                                        "dns_hook": ["/nonexistent/dns-hook"]}])
        s.start()
        self.assertTrue(s.wait_log("dns_hook could not publish the TXT record _acme-challenge.wild.test",
                                   timeout=30), s.log()[-3000:])
        time.sleep(1)  # room for any remove that would follow
        text = s.log()
        # Each attempt: one line says why, and the order's line points at it;
        # no remove is tried for records the hook never added.
        cannot = re.findall(r"cannot run /nonexistent/dns-hook: No such file", text)
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


class RevokeAtIssuer(AcmeCase):
    """Two CAs, two Pebbles (whose validators both reach our challenge ports)."""

    def setUp(self):
        self.pebble = Pebble()
        self.other = Pebble()
        self.other.http_port, self.other.tls_port = self.pebble.http_port, self.pebble.tls_port

    def tearDown(self):
        super().tearDown()
        self.other.cleanup()

    def cert_status(self, pebble, serial):
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=pebble.ca_file)
        return urllib.request.urlopen("https://127.0.0.1:%d/cert-status-by-serial/%s" % (pebble.mgmt_port, serial),
                                      context=ctx, timeout=10).read()

    def serial(self, s):
        import json
        out = subprocess.run([harness.WHARF, "cert", "list", "-c", s.config_path, "--json"], capture_output=True,
                             text=True, timeout=20)
        return json.loads(out.stdout)["certificates"][0]["serial"]

    def revoke(self, s):
        out = subprocess.run([harness.WHARF, "cert", "revoke", "main", "-c", s.config_path], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out.stdout

    def test_revoked_where_issued_and_without_an_account(self):
        import json
        import shutil
        self.pebble.start()
        self.other.start()
        s = self.make_server(domains=("wharf.test",))
        s.extra = s.extra.replace("} ); };", '}, { url = "%s"; ca_bundle = "%s"; } ); };'
                                  % (self.other.directory, self.other.ca_file))
        s.write_config()
        s.start()
        wait_issued(s, "wharf.test")
        s.stop()
        serial = self.serial(s)
        status_path = os.path.join(s.state_dir, "certs", "main", "status.json")
        with open(status_path) as f:
            status = json.load(f)
        self.assertEqual(status["issued_ca"], self.pebble.directory)
        # As after failures with the first CA: the second is in use now. The
        # certificate is still the first's, and is revoked there, with the
        # account that ordered it; the second CA hears nothing (no account made).
        status.update({"ca": 1, "failures": 3})
        with open(status_path, "w") as f:
            json.dump(status, f)
        out = self.revoke(s)
        self.assertIn("revoking at %s (the CA that issued it), signed with the account key" % self.pebble.directory,
                      out)
        self.assertIn(b"Revoked", self.cert_status(self.pebble, serial))
        other_dir = os.path.join(s.state_dir, "acme", "127.0.0.1_%d" % self.other.port)
        self.assertFalse(os.path.exists(other_dir))
        # The replacement comes from the CA in use, the second; its account is
        # then lost: the certificate's own key signs the revocation, and no
        # account is made for it.
        s.start()
        wait_issued(s, "wharf.test")
        s.stop()
        serial = self.serial(s)
        with open(status_path) as f:
            self.assertEqual(json.load(f)["issued_ca"], self.other.directory)
        shutil.rmtree(other_dir)
        out = self.revoke(s)
        self.assertIn("revoking at %s (the CA that issued it), signed with the certificate's own key"
                      % self.other.directory, out)
        self.assertIn(b"Revoked", self.cert_status(self.other, serial))
        self.assertFalse(os.path.exists(os.path.join(other_dir, "account.key")))


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


def ari_cert_id(pem):
    """RFC 9773 4.1, computed independently: AKI key id "." serial, base64url."""
    import base64
    import re
    text = cert_text(pem)
    aki = re.search(r"Authority Key Identifier.*?\n\s*([0-9a-f]+)\n", text, re.S).group(1)
    serial = re.search(r"Serial Number \(hex\): ([0-9a-f]+)", text).group(1)
    b = lambda h: base64.urlsafe_b64encode(bytes.fromhex(h)).decode().rstrip("=")
    return b(aki) + "." + b(serial)


class RenewalInfo(AcmeCase):
    """Pebble 2.4.0 has no ARI: a small HTTPS front serves its directory with a
    renewalInfo URL added, and answers renewalInfo itself; every other request
    goes to Pebble directly (the directory's other URLs are Pebble's)."""

    def start_front(self):
        import http.server
        import json
        import ssl
        import urllib.request
        pebble = self.pebble
        seen = self.seen = []
        port = self.front_port = harness.free_port()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/dir":
                    ctx = ssl.create_default_context(cafile=pebble.ca_file)
                    d = json.loads(urllib.request.urlopen(pebble.directory, context=ctx, timeout=10).read())
                    d["renewalInfo"] = "https://127.0.0.1:%d/ari/" % port
                    body = json.dumps(d).encode()
                    self.send_response(200)
                elif self.path.startswith("/ari/"):
                    cert_id = self.path[len("/ari/"):]
                    seen.append(cert_id)
                    if len(seen) == 1:
                        # Time for the test to see the first certificate before it is replaced.
                        time.sleep(1.5)
                    now = time.time()
                    # The first certificate asked about is to be renewed now (as after a
                    # mass-revocation notice); any later one not for a long while.
                    start, end = (now - 120, now - 60) if cert_id == seen[0] else (now + 86400, now + 90000)
                    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                    body = json.dumps({"suggestedWindow": {"start": fmt(start), "end": fmt(end)}}).encode()
                    self.send_response(200)
                    self.send_header("Retry-After", "3600")
                else:
                    body = b"{}"
                    self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = pebble.https_front(Handler, port)

    def tearDown(self):
        if hasattr(self, "httpd"):
            self.httpd.shutdown()
        super().tearDown()

    def test_renews_when_the_ca_says_so(self):
        self.pebble.start()
        self.start_front()
        s = self.make_server()
        s.extra = s.extra.replace(self.pebble.directory, "https://127.0.0.1:%d/dir" % self.front_port)
        s.write_config()
        s.start()
        first = wait_issued(s, "wharf.test")
        # Asked about the first certificate by its RFC 9773 id, told "now", renewed it
        # naming what it replaces; then asked about the new one, which is left alone.
        deadline = time.monotonic() + 40
        second = first
        while time.monotonic() < deadline and (second == first or len(self.seen) < 2):
            time.sleep(0.3)
            second = tls_peer_cert(s.port, "wharf.test")
        self.assertNotEqual(second, first, s.log()[-3000:])
        self.assertEqual(self.seen[0], ari_cert_id(first))
        self.assertIn("the new order replaces %s" % ari_cert_id(first), s.log())
        self.assertEqual(self.seen[1], ari_cert_id(second))
        time.sleep(2)
        self.assertEqual(s.log().count("; installed"), 2)


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


class RsaKeys(AcmeCase):
    def test_rsa_account_and_certificate(self):
        self.pebble.start()
        s = self.make_server(certs=[{"name": "main", "domains": ["wharf.test"], "key_type": "rsa2048"}])
        s.extra = s.extra.replace("retry_interval = 1;", 'retry_interval = 1; account_key_type = "rsa2048";')
        s.write_config()
        s.start()
        info = cert_text(wait_issued(s, "wharf.test"))
        self.assertIn("RSA", info)
        with open(os.path.join(s.state_dir, "acme", "127.0.0.1_%d" % self.pebble.port, "account.key")) as f:
            key = f.read()
        out = subprocess.run(["certtool", "-k"], input=key.encode(), capture_output=True, timeout=10)
        self.assertIn(b"RSA", out.stdout)


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


class NamesChange(AcmeCase):
    def test_added_name_orders_a_new_certificate(self):
        self.pebble.start()
        s = self.make_server(domains=("wharf.test",))
        s.start()
        first = wait_issued(s, "wharf.test")
        self.assertNotIn("extra.wharf.test", cert_text(first))
        # The issued certificate no longer covers the names: provisional until the new one arrives.
        s.certificates[0]["domains"].append("extra.wharf.test")
        s.write_config()
        self.assertTrue(s.reload())
        pem = wait_issued(s, "extra.wharf.test")
        self.assertIn("extra.wharf.test", cert_text(pem))
        self.assertIn("wharf.test", cert_text(pem))


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


class ExternalAccountBinding(AcmeCase):
    def setUp(self):
        self.pebble = Pebble(eab_required=True)

    def test_account_needs_and_gets_eab(self):
        self.pebble.start()
        s = self.make_server()
        # Without EAB the CA refuses the account: one clear line, and the server serves on.
        s.start()
        self.assertTrue(s.wait_log("externalAccountRequired", timeout=20), s.log()[-3000:])
        self.assertEqual(harness.curl(s, "/", host="wharf.test")[0], 200)
        s.stop()
        s.extra = s.extra.replace('ca_bundle =', 'eab_kid = "%s"; eab_hmac = "%s"; ca_bundle ='
                                  % (self.pebble.eab_kid, self.pebble.eab_hmac))
        s.write_config()
        s.start()
        wait_issued(s, "wharf.test", timeout=40)


class Fallback(AcmeCase):
    def test_next_ca_after_repeated_failures(self):
        self.pebble.start()
        s = self.make_server()
        dead = "https://127.0.0.1:%d/dir" % harness.free_port()
        s.extra = s.extra.replace('cas = ( {', 'cas = ( { url = "%s"; }, {' % dead)
        s.write_config()
        s.start()
        wait_issued(s, "wharf.test", timeout=60)
        self.assertIn("failures in a row with %s; trying %s next" % (dead, self.pebble.directory), s.log())
        self.assertGreaterEqual(s.log().count("order failed"), 3)


    def test_local_failures_do_not_leave_the_ca(self):
        # The pre-flight self-check fails (nothing answers on its port), so
        # no order reaches the CA: three such failures say nothing about it,
        # and wharf stays with the first CA instead of moving to the next.
        import json
        self.pebble.preflight_port = harness.free_port()
        self.pebble.start()
        s = self.make_server()
        dead = "https://127.0.0.1:%d/dir" % harness.free_port()
        s.extra = s.extra.replace("} ); };", '}, { url = "%s"; } ); };' % dead)
        self.assertIn(dead, s.extra)
        s.write_config()
        s.start()
        self.assertTrue(s.wait_log("order failed", timeout=30, count=3), s.log()[-3000:])
        time.sleep(0.5)
        self.assertIn("pre-flight self-check failed", s.log())
        self.assertNotIn("trying %s next" % dead, s.log())
        status_path = os.path.join(s.state_dir, "certs", "main", "status.json")
        with open(status_path) as f:
            status = json.load(f)
        self.assertGreaterEqual(status["failures"], 3)
        self.assertEqual((status["ca"], status["ca_failures"]), (0, 0))
        # The admin mends the port forward (here: turns the check off) and
        # clears the wait: the next order goes to the first CA, and is issued.
        s.stop()
        s.write_config(s.config_text().replace("preflight_port = %d;" % self.pebble.preflight_port,
                                               "preflight_port = 0;"))
        status["next_attempt"] = 0
        with open(status_path, "w") as f:
            json.dump(status, f)
        s.start()
        wait_issued(s, "wharf.test", timeout=40)
        self.assertIn("ordering from %s" % self.pebble.directory, s.log())
        self.assertNotIn("ordering from %s" % dead, s.log())


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
