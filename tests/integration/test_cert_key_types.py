"""An ECDSA and an RSA certificate for the same names, both listed by a
service, as nginx and HAProxy serve them: each client gets the first, in the
service's order, whose key its signature algorithms can verify. Before, the
first was always served, and a client that verifies only RSA signatures
failed its handshake. The provisional certificate has the configured key
type, so this holds before the CA answers too."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

RSA_ONLY = "NORMAL:-SIGN-ALL:+SIGN-RSA-SHA256:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-SHA256"
ECDSA_ONLY = "NORMAL:-SIGN-ALL:+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SECP256R1-SHA256"
TLS12 = ":-VERS-ALL:+VERS-TLS1.2"


def served_key(port, priority="NORMAL", sni="localhost"):
    """The public key algorithm of the certificate a gnutls-cli handshake
    with this priority gets ("RSA" or "EC/ECDSA"), or None when it fails."""
    cmd = ["gnutls-cli", "--insecure", "--print-cert", "-p", str(port), "127.0.0.1", "--priority", priority]
    cmd += ["--sni-hostname", sni] if sni else ["--disable-sni"]
    out = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    text = out.stdout.decode("latin-1")
    start = text.find("-----BEGIN CERTIFICATE-----")
    if out.returncode != 0 or start < 0:
        return None
    pem = text[start:text.find("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
    for line in harness.cert_text(pem).splitlines():
        if "Subject Public Key Algorithm:" in line:
            return line.split(":", 1)[1].strip()
    raise AssertionError("no key algorithm in the certificate")


class CertKeyTypes(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        certs = [{"name": "ec", "domains": ["localhost"], "key_type": "ec256"},
                 {"name": "rsa", "domains": ["localhost"], "key_type": "rsa2048"}]
        services = [{"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["ec", "rsa"]},
                    {"type": "ftps-implicit", "address": "127.0.0.1", "port": None,
                     "certificates": ["rsa", "ec"]}]
        cls.s = harness.Server(certificates=certs, services=services)
        cls.s.start()
        cls.https, cls.ftps = services[0]["port"], services[1]["port"]

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def setUp(self):
        self.addCleanup(harness.log_on_failure, self, self.s)

    def test_each_client_gets_a_key_it_can_verify(self):
        for tls in ("", TLS12):
            with self.subTest(tls=tls or "1.3"):
                # Both kinds verifiable: the service's first.
                self.assertEqual(served_key(self.https, "NORMAL" + tls), "EC/ECDSA")
                self.assertEqual(served_key(self.ftps, "NORMAL" + tls), "RSA")
                # Only one kind: that one, whatever the order.
                self.assertEqual(served_key(self.https, RSA_ONLY + tls), "RSA")
                self.assertEqual(served_key(self.ftps, ECDSA_ONLY + tls), "EC/ECDSA")
        # TLS 1.2 with only ECDHE_RSA suites, though its signature
        # algorithms include ECDSA ones (a common client): RSA.
        self.assertEqual(served_key(self.https, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA"), "RSA")
        self.assertEqual(served_key(self.ftps, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA"), "EC/ECDSA")
        # Without SNI the same choice among the service's defaults.
        self.assertEqual(served_key(self.https, RSA_ONLY, sni=None), "RSA")


class CurveOfTheKey(unittest.TestCase):
    """A TLS 1.3 signature scheme names its curve: a client that verifies
    ECDSA on P-256 alone cannot use a P-384 certificate. Before, any ECDSA
    scheme counted for every curve, and that client got the P-384 one and
    failed its handshake although an RSA one was there for it."""

    def test_a_p256_only_client_gets_rsa_beside_a_p384_certificate(self):
        certs = [{"name": "ec", "domains": ["localhost"], "key_type": "ec384"},
                 {"name": "rsa", "domains": ["localhost"], "key_type": "rsa2048"}]
        s = harness.Server(certificates=certs,
                           services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                      "certificates": ["ec", "rsa"]}])
        self.addCleanup(s.cleanup)
        self.addCleanup(harness.log_on_failure, self, s)
        s.start()
        port = s.services[0]["port"]
        p256 = "NORMAL:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-RSA-PSS-RSAE-SHA256"
        p384 = "NORMAL:-SIGN-ALL:+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-RSA-PSS-RSAE-SHA256"
        self.assertEqual(served_key(port, p256), "RSA")
        self.assertEqual(served_key(port, p384), "EC/ECDSA")
        self.assertEqual(served_key(port), "EC/ECDSA")
        # PKCS#1 v1.5 signs no TLS 1.3 handshake: a client that offers it
        # and ECDSA on P-384 gets the P-384 one, though RSA comes first.
        # Before, the RSA one was chosen and its handshake failed.
        rsa_first = harness.Server(certificates=certs,
                                   services=[{"type": "https", "address": "127.0.0.1", "port": None,
                                              "certificates": ["rsa", "ec"]}])
        self.addCleanup(rsa_first.cleanup)
        rsa_first.start()
        pkcs1 = "NORMAL:-SIGN-ALL:+SIGN-ECDSA-SECP384R1-SHA384:+SIGN-RSA-SHA256"
        self.assertEqual(served_key(rsa_first.services[0]["port"], pkcs1), "EC/ECDSA")
        self.assertEqual(served_key(rsa_first.services[0]["port"], pkcs1 + ":-VERS-ALL:+VERS-TLS1.2"), "RSA")
        # TLS 1.2's ECDSA-SHA256 is a hash over any curve: the P-384 one.
        self.assertEqual(served_key(port, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-SIGN-ALL:+SIGN-ECDSA-SHA256"
                                          ":+SIGN-RSA-SHA256"), "EC/ECDSA")


class ProvisionalKeyType(unittest.TestCase):

    def test_a_changed_key_type_remakes_the_provisional_certificate(self):
        certs = [{"name": "main", "domains": ["localhost"], "key_type": "rsa2048"}]
        s = harness.Server(certificates=certs)
        self.addCleanup(s.cleanup)
        self.addCleanup(harness.log_on_failure, self, s)
        s.start()
        self.assertEqual(served_key(s.port, RSA_ONLY), "RSA")
        s.certificates[0]["key_type"] = "ec384"
        s.write_config()
        self.assertTrue(s.reload(), s.log()[-2000:])
        self.assertIn("certificate main: stored selfsigned.pem has a rsa2048 key, the config asks for ec384",
                      s.log())
        self.assertEqual(served_key(s.port), "EC/ECDSA")
        # An RSA-only client now has nothing it can verify: it is refused.
        self.assertIsNone(served_key(s.port, RSA_ONLY))


if __name__ == "__main__":
    unittest.main()
