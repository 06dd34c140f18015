"""The ACME client's steps before any order, against a real ACME server
(Debian's pebble): the directory and the account. A CA that answers 429 or
503 there with Retry-After gets its wait honoured, as at every order step;
a failure of wharf's own set-up (the account folder, the EAB key in the
config) is logged and recorded as local and never moves wharf on to the
next CA, however often it happens."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server, cert_text, tls_peer_cert  # noqa: E402
from pebble import Pebble, account_dir  # noqa: E402

RETRY_AFTER = 6  # seconds; retry_interval is 1 s, so the two cannot be confused


def wait_issued(server, sni, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Pebble Intermediate CA" in cert_text(tls_peer_cert(server.port, sni)):
            return
        time.sleep(0.3)
    raise AssertionError("no Pebble-issued certificate for %s within %d s; log:\n%s"
                         % (sni, timeout, server.log()[-4000:]))


def failure_lines(server):
    return [l for l in server.log().splitlines() if "order failed" in l]


def status_json(server, name="main"):
    """NAME's status.json, or {} while there is none (it is replaced by rename, never half-written)."""
    try:
        with open(os.path.join(server.state_dir, "certs", name, "status.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def damaged_rsa_key_pem():
    """An RSA key (PKCS#1 PEM) whose private exponent is damaged, as a bit
    flipped on disk would: it parses and its public half is whole, but it
    cannot make a signature (GnuTLS checks each one and refuses)."""
    import base64
    import re
    import subprocess
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    text = subprocess.run(["openssl", "rsa", "-text", "-noout"], input=pem, capture_output=True, text=True,
                          timeout=20, check=True).stdout

    def field(name):
        m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
        return int(re.sub(r"[\s:]", "", m.group(1)), 16)

    def der_len(n):
        if n < 128:
            return bytes([n])
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(b)]) + b

    def der_int(x):
        b = x.to_bytes(x.bit_length() // 8 + 1, "big")
        return b"\x02" + der_len(len(b)) + b

    n, p, q = field("modulus"), field("prime1"), field("prime2")
    d = field("privateExponent") ^ 2
    body = b"".join(der_int(x) for x in (0, n, 65537, d, p, q, d % (p - 1), d % (q - 1), field("coefficient")))
    der = b"\x30" + der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    return ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
            + "\n-----END RSA PRIVATE KEY-----\n")


class AccountStepCase(unittest.TestCase):
    def setUp(self):
        self.pebble = Pebble()
        self.pebble.start()
        self.fronts = []

    def tearDown(self):
        if hasattr(self, "server"):
            harness.log_on_failure(self, self.server)
            self.server.cleanup()
        for httpd in self.fronts:
            httpd.shutdown()
            httpd.server_close()
        self.pebble.cleanup()

    def make_server(self, ca_extra="", directory=None, more_cas="", challenge="http-01"):
        p = self.pebble
        services = [{"type": "https", "address": "127.0.0.1", "port": p.tls_port, "certificates": ["main"]},
                    {"type": "acme-http", "address": "127.0.0.1", "port": p.http_port, "https_port": p.tls_port}]
        extra = p.acme_config(ca_extra)
        if directory:
            extra = extra.replace(p.directory, directory)
        if more_cas:
            extra = extra.replace("} ); };", "}, %s ); };" % more_cas)
        self.server = Server(certificates=[{"name": "main", "domains": ["wharf.test"], "challenge": challenge}],
                             services=services, extra=extra)
        return self.server

    def pebble_directory(self):
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.pebble.ca_file)
        return urllib.request.urlopen(self.pebble.directory, context=ctx, timeout=10).read()

    def front(self, answer):
        """An HTTPS stand-in for the CA on loopback (Pebble sends no
        Retry-After at all): answer(method, path, n) gives (status, headers,
        body) for the n-th request (from 1). Returns the directory URL and
        the list of (monotonic time, method, path) of the requests seen."""
        import http.server
        seen = []
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    seen.append((time.monotonic(), self.command, self.path))
                    n = len(seen)
                status, headers, body = answer(self.command, self.path, n)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = handle_one

        port = harness.free_port()
        self.fronts.append(self.pebble.https_front(Handler, port))
        return "https://127.0.0.1:%d/dir" % port, seen

    def failed_status(self, s):
        """status.json once it records the first failure (written just after its log line)."""
        self.assertTrue(s.wait_log("order failed", timeout=20), s.log()[-3000:])
        st = {}
        self.assertTrue(harness.wait_until(lambda: st.update(status_json(s)) or st.get("failures") == 1,
                                           timeout=5), st)
        return st

    def assert_waited_for_retry_after(self, s, st, seen, failed_at, what):
        """The failure line names the wait the CA asked for, status.json
        held it, and the next directory request came no sooner."""
        line = failure_lines(s)[0]
        self.assertIn(what, line)
        self.assertIn("next attempt in %d s" % RETRY_AFTER, line)
        self.assertIn(what, st["last_error"])
        self.assertGreaterEqual(st["next_attempt"] - st["last_error_at"], RETRY_AFTER - 1, st)
        again = [t for t, m, p in seen if m == "GET" and p == "/dir" and t > failed_at]
        self.assertTrue(again, seen)
        self.assertGreaterEqual(again[0] - failed_at, RETRY_AFTER - 0.5, (again[0] - failed_at, seen))

    def account_429_front(self, retry_after=None):
        """A stand-in whose first directory sends newAccount to itself,
        answered 429 rateLimited with Retry-After (RETRY_AFTER s unless
        retry_after says); Pebble's own after that."""
        real = self.pebble_directory()
        front_dir = {}

        def answer(method, path, n):
            if method == "GET" and path == "/dir":
                if n == 1:  # newAccount at the front, the rest at Pebble
                    d = json.loads(real)
                    d["newAccount"] = front_dir["url"].replace("/dir", "/sign-me-up")
                    return 200, [("Content-Type", "application/json")], json.dumps(d).encode()
                return 200, [("Content-Type", "application/json")], real
            if method == "POST" and path == "/sign-me-up":
                problem = {"type": "urn:ietf:params:acme:error:rateLimited",
                           "detail": "too many new registrations from this address", "status": 429}
                return 429, [("Retry-After", str(retry_after or RETRY_AFTER)), ("Content-Type", "application/problem+json")], \
                    json.dumps(problem).encode()
            return 404, [], b""

        directory, seen = self.front(answer)
        front_dir["url"] = directory
        return directory, seen


class RetryAfter(AccountStepCase):
    def test_directory_503_with_retry_after(self):
        # Down for maintenance: the directory answers 503 with Retry-After,
        # then comes back. The next attempt waits as the CA asked (not the
        # 1 s retry_interval), then the certificate is issued.
        real = self.pebble_directory()

        def answer(method, path, n):
            if n == 1:
                return 503, [("Retry-After", str(RETRY_AFTER)), ("Content-Type", "text/plain")], b"maintenance\n"
            return 200, [("Content-Type", "application/json")], real

        directory, seen = self.front(answer)
        s = self.make_server(directory=directory)
        s.start()
        st = self.failed_status(s)
        wait_issued(s, "wharf.test", timeout=RETRY_AFTER + 30)
        self.assert_waited_for_retry_after(s, st, seen, seen[0][0], "directory answered HTTP 503")

    def test_account_429_with_retry_after(self):
        # The account step is rate-limited: newAccount answers 429 with a
        # problem document and Retry-After. The next attempt (directory,
        # then account) waits as the CA asked, then the certificate is issued.
        directory, seen = self.account_429_front()
        s = self.make_server(directory=directory)
        s.start()
        st = self.failed_status(s)
        wait_issued(s, "wharf.test", timeout=RETRY_AFTER + 30)
        [posted] = [t for t, m, p in seen if m == "POST"]
        self.assert_waited_for_retry_after(s, st, seen, posted, "urn:ietf:params:acme:error:rateLimited")

    def test_account_429_keeps_the_unfinished_order(self):
        # An order left in flight by an earlier run (pending.order, for this
        # CA and these names) is not forgotten when the account step is
        # refused: the CA said nothing about the order. The next attempt asks
        # the CA about it (here it no longer knows it, so a new one follows).
        directory, seen = self.account_429_front()
        s = self.make_server(directory=directory)
        order_url = "https://127.0.0.1:%d/my-order/left-by-an-earlier-run" % self.pebble.port
        cert_dir = os.path.join(s.state_dir, "certs", "main")
        os.makedirs(cert_dir)
        with open(os.path.join(cert_dir, "pending.order"), "w") as f:
            f.write("%s\n%s\nwharf.test\n" % (order_url, directory))
        s.start()
        self.failed_status(s)
        self.assertTrue(os.path.exists(os.path.join(cert_dir, "pending.order")), s.log()[-3000:])
        wait_issued(s, "wharf.test", timeout=RETRY_AFTER + 30)
        self.assertIn("resuming the unfinished order %s" % order_url, s.log())
        self.assertIn("the unfinished order cannot be resumed", s.log())


class LocalSetup(AccountStepCase):
    """Pebble is the first CA, a dead one the second: three failures the
    CA caused would move wharf on to the dead one. Failures of wharf's own
    set-up never do; they are said to be local, in the log and status.json."""

    def server_with_fallback(self, ca_extra="", challenge="http-01"):
        self.dead = "https://127.0.0.1:%d/dir" % harness.free_port()
        s = self.make_server(ca_extra=ca_extra, more_cas='{ url = "%s"; }' % self.dead, challenge=challenge)
        self.assertIn(self.dead, s.config_text())
        return s

    def assert_local_and_stays(self, s, what):
        self.assertTrue(s.wait_log("order failed", timeout=30, count=3), s.log()[-3000:])
        st = {}
        self.assertTrue(harness.wait_until(lambda: st.update(status_json(s)) or st.get("failures", 0) >= 3,
                                           timeout=5), st)
        time.sleep(0.5)  # a fallback would be logged right after the third failure
        self.assertNotIn("trying %s next" % self.dead, s.log())
        self.assertNotIn("ordering from %s" % self.dead, s.log())
        self.assertEqual((st["ca"], st["ca_failures"]), (0, 0), st)
        for line in failure_lines(s):
            self.assertIn(what, line)
            self.assertIn("(waiting for the account; a local failure, not the CA's: it does not count toward "
                          "trying the next CA); next attempt in", line)
        self.assertTrue(st["last_error_local"], st)
        self.assertIn(what, st["last_error"])
        self.assertIn("(a local failure, not the CA's", st["last_error"])
        # What `wharf cert list --json` (and the admin status endpoint) tell.
        import subprocess
        out = subprocess.run([harness.WHARF, "cert", "list", "--json", "-c", s.config_path], capture_output=True,
                             text=True, timeout=20)
        [cert] = json.loads(out.stdout)["certificates"]
        self.assertTrue(cert["last_error_local"], cert)

    def test_account_folder_that_cannot_be_made(self):
        s = self.server_with_fallback()
        # A file where the account folder for the first CA goes.
        blocker = account_dir(s.state_dir, self.pebble.directory)
        os.makedirs(os.path.dirname(blocker))
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        s.start()
        self.assert_local_and_stays(s, "the account folder %s" % blocker)
        # The admin mends it and clears the wait: the first CA issues.
        s.stop()
        os.unlink(blocker)
        path = os.path.join(s.state_dir, "certs", "main", "status.json")
        st = status_json(s)
        st["next_attempt"] = 0
        with open(path, "w") as f:
            json.dump(st, f)
        s.start()
        wait_issued(s, "wharf.test")
        self.assertNotIn("ordering from %s" % self.dead, s.log())

    def test_malformed_eab_hmac_is_refused_at_load(self):
        # Read as the client would read it, at load: wharf check names the
        # file and line (not the secret), and the server does not start.
        s = self.server_with_fallback('eab_kid = "kid-1"; eab_hmac = "not base64url!";')
        line = 1 + [i for i, l in enumerate(s.config_text().splitlines()) if "eab_hmac" in l][0]
        import subprocess
        out = subprocess.run([harness.WHARF, "check", "-c", s.config_path], capture_output=True, text=True,
                             timeout=20)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("%s:%d: 'acme.cas[0].eab_hmac' is not a base64url key" % (s.config_path, line), out.stderr)
        self.assertNotIn("not base64url!", out.stdout + out.stderr)
        s.start(wait=False)
        s.proc.wait(timeout=15)
        self.assertNotEqual(s.proc.returncode, 0)
        self.assertIn("'acme.cas[0].eab_hmac' is not a base64url key", s.log())
        self.assertNotIn("listening:", s.log())

    def test_eab_kid_that_cannot_go_in_a_request(self):
        s = self.server_with_fallback('eab_kid = "kid\\"1"; eab_hmac = "c2VjcmV0LWtleS0xMjM";')
        s.start()
        self.assert_local_and_stays(s, "eab_kid cannot go in a request")

    def test_account_key_that_cannot_sign(self):
        # account.key parses but cannot sign (damaged on disk): the request
        # never leaves, and that is no failure of the CA's.
        s = self.server_with_fallback()
        folder = account_dir(s.state_dir, self.pebble.directory)
        os.makedirs(folder, mode=0o700)
        key = os.path.join(folder, "account.key")
        with open(key, "w") as f:
            f.write(damaged_rsa_key_pem())
        os.chmod(key, 0o600)
        s.start()
        self.assert_local_and_stays(s, "account: cannot sign the request with the account key %s" % key)

    def test_acme_client_that_cannot_be_made(self):
        # libcurl cannot start (curl_multi_init fails, as when memory runs
        # out): no ACME client, no order sent. Before, the certificate was
        # looked at again only half a day later, with nothing recorded.
        s = self.server_with_fallback(challenge="tls-alpn-01")  # no pre-flight, which needs libcurl too
        shim_c = os.path.join(s.dir, "no_curl_multi.c")
        shim = os.path.join(s.dir, "no_curl_multi.so")
        with open(shim_c, "w") as f:
            f.write("#include <stddef.h>\nvoid *curl_multi_init(void) { return NULL; }\n")
        cc = shutil.which(os.environ.get("CC", "cc"))
        if not cc:
            self.skipTest("no C compiler for the libcurl shim")
        subprocess.run([cc, "-shared", "-fPIC", "-o", shim, shim_c], check=True, timeout=60)
        asan = os.environ.get("ASAN_OPTIONS", "")
        with mock.patch.dict(os.environ, {"LD_PRELOAD": shim,  # an ASan runtime need not come first here
                                          "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}):
            s.start()
        self.assert_local_and_stays(s, "cannot set up the ACME client for %s (out of memory, or libcurl could "
                                       "not start)" % self.pebble.directory)
        gaps = [int(l.rsplit("next attempt in ", 1)[1].split()[0]) for l in failure_lines(s)[:3]]
        self.assertEqual(len(gaps), 3, gaps)
        self.assertLess(gaps[0], 5, gaps)  # retry_interval (1 s), growing: the usual backoff
        self.assertGreater(gaps[2], gaps[1], gaps)


if __name__ == "__main__":
    harness.main()
