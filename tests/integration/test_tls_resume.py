"""HTTPS session resumption: a client resumes with the ticket it was given,
over TLS 1.3 (for any name its certificate covers) and TLS 1.2; a ticket
does not resume where another certificate would be chosen (RFC 8446 4.6.1
leaves the client to check that; the server now refuses it too, so a
client that does not check still sees the right certificate); and
tls.session_tickets = false turns resumption off."""

import os
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CERTS = [("main", ["localhost", "*.wharf.test"]), ("other", ["other.test"])]


def services():
    return [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main", "other"]}]


def context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def visit(server, ctx, sni, session=None):
    """One request; (resumed?, session, peer certificate DER)."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname=sni, session=session) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while c.recv(65536):
            pass  # TLS 1.3 tickets come after the handshake: read to the end
        return c.session_reused, c.session, c.getpeercert(binary_form=True)


class Resume(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.s = harness.Server(certificates=CERTS, services=services())
        cls.addClassCleanup(cls.s.cleanup)
        cls.s.start()

    def tearDown(self):
        harness.log_on_failure(self, self.s)

    def test_resumes_for_any_name_of_its_certificate(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            with self.subTest(version=version.name):
                ctx = context(version)
                first, session, cert = visit(self.s, ctx, "a.wharf.test")
                self.assertFalse(first)
                again, _, cert_again = visit(self.s, ctx, "a.wharf.test", session)
                self.assertTrue(again)
                self.assertEqual(cert_again, cert)
        # Under TLS 1.3 for another name of the same certificate too (GnuTLS
        # holds a TLS 1.2 session to the name it was made for).
        ctx = context(ssl.TLSVersion.TLSv1_3)
        _, session, _ = visit(self.s, ctx, "a.wharf.test")
        self.assertTrue(visit(self.s, ctx, "b.wharf.test", session)[0])

    def test_no_resumption_where_another_certificate_serves(self):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            with self.subTest(version=version.name):
                ctx = context(version)
                _, session, main_cert = visit(self.s, ctx, "a.wharf.test")
                resumed, _, cert = visit(self.s, ctx, "other.test", session)
                self.assertFalse(resumed)
                self.assertNotEqual(cert, main_cert)
                # A full handshake, and other.test's own ticket resumes.
                _, session, other_cert = visit(self.s, ctx, "other.test")
                self.assertEqual(other_cert, cert)
                self.assertTrue(visit(self.s, ctx, "other.test", session)[0])


class TicketsOff(unittest.TestCase):

    def test_session_tickets_false_turns_resumption_off(self):
        s = harness.Server(certificates=CERTS, services=services(), extra="tls = { session_tickets = false; };")
        self.addCleanup(s.cleanup)
        self.addCleanup(harness.log_on_failure, self, s)
        s.start()
        ctx = context(ssl.TLSVersion.TLSv1_3)
        _, session, _ = visit(s, ctx, "localhost")
        self.assertFalse(visit(s, ctx, "localhost", session)[0])


if __name__ == "__main__":
    unittest.main()
