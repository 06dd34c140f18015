"""A reload that renames or drops a certificate does not break connections
opened before it. A connection runs on the config it was accepted under, and
that config names its certificates; the names the new config no longer has
are found in the store as it was at the reload. Before, an FTPS session
opened before such a reload failed every later data connection (and a late
AUTH TLS) with "no certificate loaded for this service", and HTTPS
handshakes accepted in the moment between the new store and the workers'
new config failed the same way."""

import os
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import ftps_util  # noqa: E402


def rename_main(server, name):
    server.certificates = [(name, ["localhost", "*.wharf.test"])]
    for svc in server.services:
        svc["certificates"] = [name]
    server.write_config()


class ReloadCertNames(unittest.TestCase):

    def start(self, services=None, workers=2):
        self.s = harness.Server(services=services, workers=workers)
        self.addCleanup(self.s.cleanup)
        self.addCleanup(harness.log_on_failure, self, self.s)
        self.s.put_file("f.txt", b"hello\n")
        self.s.start()

    def test_ftps_session_keeps_working_through_a_rename(self):
        services = ftps_util.ftps_services(implicit=False)
        self.start(services)
        port = services[0]["port"]
        logged_in = ftps_util.Control(port)
        self.addCleanup(logged_in.close)
        logged_in.login()
        data, r, _ = logged_in.retr("f.txt")
        self.assertEqual((data, r.code), (b"hello\n", 226))
        not_yet_tls = ftps_util.Control(port)
        self.addCleanup(not_yet_tls.close)
        self.assertEqual(not_yet_tls.cmd("NOOP").code, 200)

        rename_main(self.s, "site")
        self.assertTrue(self.s.reload(), self.s.log()[-2000:])

        # The session's data connections still handshake...
        data, r, info = logged_in.retr("f.txt")
        self.assertEqual((data, r.code), (b"hello\n", 226), (r, info))
        # ...and so does the AUTH TLS of a connection accepted before the reload.
        not_yet_tls.login()
        data, r, _ = not_yet_tls.retr("f.txt")
        self.assertEqual((data, r.code), (b"hello\n", 226), r)
        # A new session gets the new name's certificate.
        fresh = ftps_util.Control(port)
        self.addCleanup(fresh.close)
        fresh.login()
        self.assertEqual(fresh.retr("f.txt")[1].code, 226)
        self.assertNotIn("no certificate loaded", self.s.log())

    def test_dropped_name_still_serves_a_connection_of_the_old_config(self):
        # The old config's service lists "main" and "extra"; the reload keeps
        # "main" and drops "extra". A connection accepted before the reload
        # that asks for extra's domain at its AUTH TLS still gets extra's
        # certificate, as its config says, not the service's default.
        services = ftps_util.ftps_services(implicit=False)
        services[0]["certificates"] = ["main", "extra"]
        self.s = harness.Server(services=services,
                                certificates=[("main", ["localhost"]), ("extra", ["extra.wharf.test"])])
        self.addCleanup(self.s.cleanup)
        self.addCleanup(harness.log_on_failure, self, self.s)
        self.s.start()
        port = services[0]["port"]

        def auth_tls(conn, sni):
            tls = ftps_util.client_context().wrap_socket(conn, server_hostname=sni)
            self.addCleanup(tls.close)
            return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))

        def accepted():
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            self.addCleanup(conn.close)
            self.assertEqual(conn.recv(4096)[:3], b"220")
            return conn

        def ask_auth(conn):
            conn.sendall(b"AUTH TLS\r\n")
            self.assertEqual(conn.recv(4096)[:3], b"234")

        first, before = accepted(), accepted()
        ask_auth(first)
        extra_pem = auth_tls(first, "extra.wharf.test")

        self.s.certificates = [("main", ["localhost"])]
        services[0]["certificates"] = ["main"]
        self.s.write_config()
        self.assertTrue(self.s.reload(), self.s.log()[-2000:])

        ask_auth(before)
        self.assertEqual(auth_tls(before, "extra.wharf.test"), extra_pem)
        # A connection of the new config gets the service's one certificate.
        after = accepted()
        ask_auth(after)
        self.assertNotEqual(auth_tls(after, "extra.wharf.test"), extra_pem)

    def test_https_handshakes_never_fail_during_renaming_reloads(self):
        self.start(workers=2)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        stop = threading.Event()
        counts = {"ok": 0, "failed": 0, "why": []}

        def hammer():
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    sock = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
                    with ctx.wrap_socket(sock, server_hostname="localhost"):
                        counts["ok"] += 1
                except (OSError, ssl.SSLError) as e:
                    counts["failed"] += 1
                    counts["why"].append(str(e))

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for i in range(30):
                rename_main(self.s, "main" if i % 2 else "other")
                self.assertTrue(self.s.reload(), self.s.log()[-2000:])
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        self.assertGreater(counts["ok"], 30, counts)
        self.assertEqual(counts["failed"], 0, counts["why"][:3])
        self.assertNotIn("no certificate loaded", self.s.log())


if __name__ == "__main__":
    unittest.main()
