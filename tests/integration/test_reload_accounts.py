"""A reload that removes or changes an account reaches connections opened
before it. Connections keep the config they were accepted under (a reload
never changes the rules under a request in flight), but not the accounts:
an HTTPS connection of that config finishes what is in flight and closes, so
the next request logs in against the new accounts; an FTPS session logged in
as a removed or changed account gets 421 and closes, while one logged in as
an account the reload kept goes on."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402


def get(conn, path, user, password):
    conn.send("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
              % (path, harness.basic_auth(user, password)))
    return conn.read_response()[0]


def get_or_closed(conn, path, user, password):
    """The status of a request on conn, or None when the server closed it."""
    try:
        return get(conn, path, user, password)
    except (AssertionError, OSError):
        return None


class ReloadAccounts(unittest.TestCase):

    def setUp(self):
        users = [{"name": "alice", "password": "alice-pw", "perms": ["read", "write"]},
                 {"name": "bob", "password": "bob-pw", "perms": ["read"]}]
        services = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]}]
        services += ftps_util.ftps_services(implicit=False)
        self.s = harness.Server(users=users, services=services)
        self.addCleanup(self.s.cleanup)
        self.addCleanup(harness.log_on_failure, self, self.s)
        self.s.start()
        self.ftp_port = services[1]["port"]
        self.assertTrue(harness.wait_port(self.ftp_port))

    def reload_with(self, change):
        change(self.s.users)
        self.s.write_config()
        self.assertTrue(self.s.reload(), self.s.log()[-2000:])

    def ftp(self, user):
        c = ftps_util.Control(self.ftp_port)
        self.addCleanup(c.close)
        c.login(user, password=user + "-pw")
        return c

    def test_removed_account_loses_its_open_connections(self):
        conn = harness.RawTLS(self.s)
        self.addCleanup(conn.close)
        self.assertEqual(get(conn, "/", "alice", "alice-pw"), 200)
        alice_ftp, bob_ftp = self.ftp("alice"), self.ftp("bob")
        self.reload_with(lambda users: users.pop(0))
        # The HTTPS connection alice logged in on does not serve her again.
        self.assertIn(get_or_closed(conn, "/", "alice", "alice-pw"), (None, 401))
        st, _, _ = harness.curl(self.s, "/", user="alice", password="alice-pw")
        self.assertEqual(st, 401)
        # Her FTPS session is told and closed; bob's goes on.
        r = alice_ftp.read_reply(timeout=10)
        self.assertEqual(r.code, 421, r)
        self.assertIn("account was changed or removed", r.text)
        self.assertTrue(alice_ftp.closed_by_peer())
        self.assertEqual(bob_ftp.cmd("NOOP").code, 200)
        self.assertEqual(bob_ftp.cmd("PWD").code, 257)
        self.assertIn("user alice: account removed or changed by a reload", self.s.log())

    def test_changed_password_needs_the_new_one(self):
        conn = harness.RawTLS(self.s)
        self.addCleanup(conn.close)
        self.assertEqual(get(conn, "/", "alice", "alice-pw"), 200)

        def change(users):
            users[0]["password"] = "new-pw"
        self.reload_with(change)
        self.assertIn(get_or_closed(conn, "/", "alice", "alice-pw"), (None, 401))
        self.assertEqual(harness.curl(self.s, "/", user="alice", password="alice-pw")[0], 401)
        self.assertEqual(harness.curl(self.s, "/", user="alice", password="new-pw")[0], 200)
        c = ftps_util.Control(self.ftp_port)
        self.addCleanup(c.close)
        c.auth_tls()
        c.expect("USER alice", 331)
        self.assertEqual(c.cmd("PASS alice-pw").code, 530)

    def test_reload_that_keeps_the_accounts_keeps_the_connections(self):
        conn = harness.RawTLS(self.s)
        self.addCleanup(conn.close)
        self.assertEqual(get(conn, "/", "bob", "bob-pw"), 200)
        bob_ftp = self.ftp("bob")
        os.makedirs(self.s.home("carol"), exist_ok=True)
        self.s.give_homes()
        self.reload_with(lambda users: users.append({"name": "carol", "password": "carol-pw", "perms": ["read"]}))
        self.assertEqual(get(conn, "/", "bob", "bob-pw"), 200)
        # NOOP's reply is the next one: no 421 came first.
        self.assertEqual(bob_ftp.cmd("NOOP").code, 200)
        self.assertEqual(harness.curl(self.s, "/", user="carol", password="carol-pw")[0], 200)


if __name__ == "__main__":
    harness.main()
