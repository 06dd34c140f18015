"""Accounts and CAs, against Pebble: an account the CA forgot, or that was
deactivated, is replaced at the next renewal (and nothing changes while no
replacement can be registered); External Account Binding; RSA account keys;
the next CA after repeated failures, but not after local ones; revocation at
the CA that issued the certificate, signed with its account's key or with
the certificate's own."""

import glob
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import cert_text  # noqa: E402
from pebble import AcmeCase, Pebble, account_dir, issued_by_pebble, wait_issued, wait_renewed  # noqa: E402


class AccountGoneAtRenewal(AcmeCase):
    """The account is gone at the CA when a renewal comes due (the CA forgot
    it, or its holder deactivated it): a later attempt registers one again."""

    def setUp(self):
        # Certificates that live 40 s: renewal is due when half is left (shorter than 10 days).
        self.pebble = Pebble(validity=40)

    def test_forgotten_account_is_registered_again(self):
        # Pebble restarted between two issuances forgets the account (a CA
        # may purge one too): the renewal's first order is refused, the
        # account registered again, and the order sent again under it.
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
        # In the same attempt: the order refused for the account is sent
        # again under the new one, not failed into a backoff step.
        self.assertNotIn("order failed", s.log())
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
        # (here: an EAB key id no request can carry, as a single-use key
        # already spent would be refused; a malformed eab_hmac is refused at
        # load): the old key stays account.key, nothing is moved aside and no
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
        s.extra = self.pebble.acme_config('eab_kid = "kid\\"1"; eab_hmac = "c2VjcmV0LWtleS0xMjM";')
        s.write_config()
        self.assertTrue(s.reload())
        self.assertTrue(s.wait_log("no new account in place of the deactivated one: eab_kid cannot go in a request",
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
        other_dir = account_dir(s.state_dir, self.other.directory)
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


class OneFolderPerDirectory(AcmeCase):
    """Two directory URLs on one host and port are two CAs (step-ca serves
    one per provisioner): two account folders, two accounts, two waits.
    Pebble answers its directory at /dir whatever the query (and nothing
    else: /dir/ is 404), so /dir?ca=one and /dir?ca=two are two CA entries
    on one Pebble, which tells accounts apart by their key. An earlier
    version's folder for the host (STATE/acme/127.0.0.1_PORT) is the first
    entry's: its account is used again, nothing registered for it."""

    def setUp(self):
        super().setUp()
        self.pebble.start()
        self.one = self.pebble.directory + "?ca=one"
        self.two = self.pebble.directory + "?ca=two"
        self.legacy = None

    def config(self, s, urls, names):
        p = self.pebble
        cas = ", ".join('{ url = "%s"; ca_bundle = "%s"; }' % (u, p.ca_file) for u in urls)
        s.extra = re.sub(r"cas = \(.*\);", "cas = ( %s );" % cas, p.acme_config())
        s.certificates = [{"name": n, "domains": ["%s.wharf.test" % n], "challenge": "http-01"} for n in names]
        s.services[0]["certificates"] = list(names)
        s.write_config()

    def at_second_ca(self, s, name):
        """NAME is ordered from acme.cas[1] (as after failures at the first)."""
        d = os.path.join(s.state_dir, "certs", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "status.json"), "w") as f:
            json.dump({"ca": 1}, f)

    def issued_ca(self, s, name, want):
        """NAME's issuing CA in status.json, once it says want (written just
        after the certificate is installed), or what it says after 5 s."""
        def read():
            try:
                with open(os.path.join(s.state_dir, "certs", name, "status.json")) as f:
                    return json.load(f).get("issued_ca")
            except FileNotFoundError:
                return None
        harness.wait_until(lambda: read() == want, timeout=5)
        return read()

    def server_with_legacy_folder(self):
        """A server whose account at the first CA lives where an earlier
        version kept it: STATE/acme/HOST_PORT. Returns it, the key and the kid."""
        s = self.make_server(domains=("a.wharf.test",))
        self.config(s, [self.one], ["a"])
        s.start()
        wait_issued(s, "a.wharf.test")
        [kid] = re.findall(r"account (\S+) created", s.log())
        s.stop()
        new = account_dir(s.state_dir, self.one)
        self.assertEqual(glob.glob(os.path.join(s.state_dir, "acme", "*", "account.key")),
                         [os.path.join(new, "account.key")])
        self.legacy = os.path.join(s.state_dir, "acme", "127.0.0.1_%d" % self.pebble.port)
        os.rename(new, self.legacy)
        with open(os.path.join(self.legacy, "account.key"), "rb") as f:
            key = f.read()
        return s, key, kid

    def assert_taken_over(self, s, key):
        new = account_dir(s.state_dir, self.one)
        self.assertFalse(os.path.exists(self.legacy))
        with open(os.path.join(new, "account.key"), "rb") as f:
            self.assertEqual(f.read(), key)
        self.assertEqual(os.stat(os.path.join(new, "account.key")).st_mode & 0o777, 0o600)

    def test_two_directories_two_accounts_and_the_earlier_folder_kept(self):
        s, key, kid = self.server_with_legacy_folder()
        # Upgraded, with a second directory on the same host: "b" is ordered
        # from it, "c" from the first.
        self.config(s, [self.one, self.two], ["a", "b", "c"])
        self.at_second_ca(s, "b")
        s.start()
        wait_issued(s, "b.wharf.test")
        wait_issued(s, "c.wharf.test")
        log = s.log()
        new_one, new_two = account_dir(s.state_dir, self.one), account_dir(s.state_dir, self.two)
        self.assertNotEqual(new_one, new_two)
        # The earlier folder is the first CA's, under its new name, said once;
        # its account is found again, not registered anew.
        self.assertEqual(log.count("the account folder %s is now %s" % (self.legacy, new_one)), 1, log[-3000:])
        self.assert_taken_over(s, key)
        self.assertIn("acme %s: account %s found" % (self.one, kid), log)
        # The second has an account of its own: its own key, its own kid.
        created = re.findall(r"acme (\S+): account (\S+) created", log)
        self.assertEqual(len(created), 2, log[-3000:])
        self.assertEqual(created[0], (self.one, kid))
        self.assertEqual(created[1][0], self.two)
        self.assertNotEqual(created[1][1], kid)
        keys = sorted(glob.glob(os.path.join(s.state_dir, "acme", "*", "account.key")))
        self.assertEqual(keys, sorted([os.path.join(new_one, "account.key"), os.path.join(new_two, "account.key")]))
        with open(os.path.join(new_two, "account.key"), "rb") as f:
            self.assertNotEqual(f.read(), key)
        self.assertEqual((self.issued_ca(s, "b", self.two), self.issued_ca(s, "c", self.one)), (self.two, self.one))
        s.stop()
        # Each CA has its own wait: the second's Retry-After (kept in its
        # folder) puts off "d", and "e" is ordered from the first meanwhile.
        with open(os.path.join(new_two, "not_before"), "w") as f:
            f.write("%d\n" % (time.time() + 300))
        self.config(s, [self.one, self.two], ["a", "b", "c", "d", "e"])
        self.at_second_ca(s, "d")
        s.start()
        wait_issued(s, "e.wharf.test")
        self.assertTrue(s.wait_log("certificate d: not ordered: %s asked to wait until" % self.two, timeout=20),
                        s.log()[-3000:])
        self.assertFalse(os.path.exists(os.path.join(new_one, "not_before")))
        self.assertFalse(os.path.exists(os.path.join(s.state_dir, "certs", "d", "issued.pem")))
        self.assertEqual(len(re.findall(r"account \S+ created", s.log())), 2, s.log()[-3000:])

    def test_revoke_finds_the_earlier_folder(self):
        # `wharf cert revoke` run first after the upgrade: it takes the
        # earlier folder over as the server would, and signs with its key.
        s, key, kid = self.server_with_legacy_folder()
        self.config(s, [self.one, self.two], ["a"])
        out = subprocess.run([harness.WHARF, "cert", "revoke", "a", "-c", s.config_path], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("revoking at %s (the CA that issued it), signed with the account key" % self.one, out.stdout)
        self.assertIn("the account folder %s is now %s" % (self.legacy, account_dir(s.state_dir, self.one)),
                      out.stdout + out.stderr)
        self.assert_taken_over(s, key)
        self.assertFalse(os.path.exists(account_dir(s.state_dir, self.two)))


class RsaKeys(AcmeCase):
    def test_rsa_account_and_certificate(self):
        self.pebble.start()
        s = self.make_server(certs=[{"name": "main", "domains": ["wharf.test"], "key_type": "rsa2048"}])
        s.extra = s.extra.replace("retry_interval = 1;", 'retry_interval = 1; account_key_type = "rsa2048";')
        s.write_config()
        s.start()
        info = cert_text(wait_issued(s, "wharf.test"))
        self.assertIn("RSA", info)
        with open(os.path.join(account_dir(s.state_dir, self.pebble.directory), "account.key")) as f:
            key = f.read()
        out = subprocess.run(["certtool", "-k"], input=key.encode(), capture_output=True, timeout=10)
        self.assertIn(b"RSA", out.stdout)


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


if __name__ == "__main__":
    harness.main()
