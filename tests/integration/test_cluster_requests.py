"""Cluster requests where no bundle is served, and long polls at shutdown
(docs/cluster.md). A request in the Wharf-Cluster scheme is a node's, never
a user's login: on a node that is no controller (a follower pointed at a
plain server, another follower, the balancer's name) it gets 421 with words
the follower looks for, on the controller a target it does not serve gets
403 with the reason, and on neither does it count toward a login ban. A
controller that drains answers its open long polls at once with their
proved 304, so a shutdown does not wait out the followers' waits."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Server  # noqa: E402
from test_cluster import DOMAINS, answer_proof, cluster_auth, cluster_block  # noqa: E402

TARGET = "/.wharf/cluster/bundle/main"
MISDIRECTED = b"421 Misdirected Request: this node is not a cluster controller\n"


def ask(port, method, target, auth, extra="", body=""):
    """One request on a connection of its own: (status, headers, body)."""
    with harness.RawTLS(None, port=port) as c:
        c.send("%s %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n%sConnection: close\r\n\r\n%s"
               % (method, target, auth, extra, body))
        return c.read_final_response(head=method == "HEAD", timeout=10)


def not_banned(testcase, server):
    """A user's right password from 127.0.0.1 still gets in."""
    status, _, _ = harness.curl(server, "/")
    testcase.assertEqual(status, 200, server.log()[-2000:])
    testcase.assertNotIn("banned", server.log())


class NotAController(unittest.TestCase):
    """A plain server, no cluster role: max_login_failures is 5 (the
    default), so six counted requests would ban 127.0.0.1."""

    def setUp(self):
        self.s = Server()
        self.s.start()

    def tearDown(self):
        harness.log_on_failure(self, self.s)
        self.s.cleanup()

    def test_cluster_request_is_misdirected_and_no_failed_login(self):
        auths = [cluster_auth(TARGET, t=1700000000 + i)[0] for i in range(5)]
        auths.append("wharf-cluster t=1, n=x")  # malformed, another case: a node's all the same
        for auth in auths:
            status, _, body = ask(self.s.port, "GET", TARGET + "?wait=25", auth)
            self.assertEqual(status, 421, body)
            self.assertTrue(body.startswith(MISDIRECTED), body)
        # Over HTTP/2 too, and for any path or method.
        out = subprocess.run(["curl", "-sk", "--http2", "-o", "-", "-w", "\n%{http_code}", "-X", "PUT",
                              "-H", "Authorization: " + cluster_auth("/x")[0], "--data-binary", "body",
                              "https://127.0.0.1:%d/x" % self.s.port], capture_output=True, timeout=30)
        body, _, code = out.stdout.rpartition(b"\n")
        self.assertEqual(code, b"421", out)
        self.assertTrue(body.startswith(MISDIRECTED), body)
        self.assertFalse(os.path.exists(os.path.join(self.s.home(), "x")))
        not_banned(self, self.s)
        # Logged as refused cluster requests, once at once (the rest counted).
        lines = [l for l in self.s.log().splitlines() if "not a cluster controller" in l]
        first = [l for l in lines if "cluster: bundle request from 127.0.0.1:" in l]
        self.assertEqual(len(first), 1, "\n".join(lines))
        # A user's own request for that path is an ordinary one.
        status, _, _ = harness.curl(self.s, TARGET)
        self.assertEqual(status, 404)
        os.makedirs(os.path.join(self.s.home(), ".wharf", "cluster", "bundle"))
        with open(os.path.join(self.s.home(), ".wharf", "cluster", "bundle", "main"), "w") as f:
            f.write("mine\n")
        status, _, body = harness.curl(self.s, TARGET)
        self.assertEqual((status, body), (200, b"mine\n"))


class ControllerRequests(unittest.TestCase):
    """A controller with an issued bundle for "main" (a self-signed pair:
    the bundle is only read and sealed here)."""

    def setUp(self):
        self.ctl = Server(certificates=[{"name": "main", "domains": DOMAINS, "acme": False}],
                          extra=cluster_block("controller"), workers=2)
        self.ctl.start()

    def tearDown(self):
        harness.log_on_failure(self, self.ctl)
        self.ctl.cleanup()

    def put_issued(self):
        d = os.path.join(self.ctl.state_dir, "certs", "main")
        key, crt = os.path.join(self.ctl.dir, "k.pem"), os.path.join(self.ctl.dir, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-keyout", key, "-out", crt, "-days", "2", "-subj",
                        "/CN=" + DOMAINS[0], "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in DOMAINS)],
                       capture_output=True, check=True, timeout=30)
        p = os.path.join(d, "issued.pem")
        with open(p + ".tmp", "w") as f, open(key) as k, open(crt) as c:
            f.write(k.read() + c.read())
        os.chmod(p + ".tmp", 0o600)
        if os.geteuid() == 0:  # the server runs as nobody
            import pwd
            pw = pwd.getpwnam("nobody")
            os.chown(p + ".tmp", pw.pw_uid, pw.pw_gid)
        os.replace(p + ".tmp", p)

    def test_target_not_served_is_refused_not_a_failed_login(self):
        # "//.wharf/..." (what an older follower made of a controller URL
        # ending in "/"): signed right, but no bundle request served here.
        for target in ["/" + TARGET] * 5 + ["/"]:
            auth, _ = cluster_auth(target)
            status, headers, body = ask(self.ctl.port, "GET", target, auth)
            self.assertEqual(status, 403, body)
            self.assertIn(b"403 Forbidden: cluster request refused: its path is not /.wharf/cluster/bundle/NAME",
                          body)
            self.assertNotIn("wharf-cluster-answer", headers)
        auth, _ = cluster_auth(TARGET, method="POST")
        status, _, body = ask(self.ctl.port, "POST", TARGET, auth, "Content-Length: 2\r\n", "hi")
        self.assertEqual(status, 403, body)
        self.assertIn(b"its method is not GET or HEAD", body)
        not_banned(self, self.ctl)
        # And the controller still serves the right target.
        self.assertEqual(ask(self.ctl.port, "GET", TARGET, cluster_auth(TARGET)[0])[0], 404)

    def test_drain_answers_long_polls_at_once(self):
        self.put_issued()
        auth, nonce = cluster_auth(TARGET)
        status, headers, _ = ask(self.ctl.port, "GET", TARGET, auth)
        self.assertEqual(status, 200, self.ctl.log()[-1500:])
        etag = headers["etag"]
        wait_target = TARGET + "?wait=25"
        # One long poll over HTTP/1.1, one over HTTP/2, both waiting.
        h1 = harness.RawTLS(None, port=self.ctl.port)
        self.addCleanup(h1.close)
        h1_auth, h1_nonce = cluster_auth(wait_target)
        h1.send("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nIf-None-Match: %s\r\n\r\n"
                % (wait_target, h1_auth, etag))
        h2_auth, h2_nonce = cluster_auth(wait_target)
        h2 = subprocess.Popen(["curl", "-sk", "--http2", "-o", "/dev/null", "-D", "-", "--max-time", "40",
                               "-H", "Authorization: " + h2_auth, "-H", "If-None-Match: " + etag,
                               "https://127.0.0.1:%d%s" % (self.ctl.port, wait_target)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: h2.poll() is None and h2.kill())
        time.sleep(1.5)
        self.assertIsNone(h2.poll())
        self.assertEqual(h1.buf, b"")
        started = time.monotonic()
        self.ctl.signal(signal.SIGTERM)
        status, headers, _ = h1.read_final_response(timeout=10)
        self.assertEqual(status, 304)
        self.assertEqual(headers["wharf-cluster-answer"], answer_proof(304, h1_nonce, etag))
        out, err = h2.communicate(timeout=15)
        head = out.decode("latin-1").lower()
        self.assertTrue(head.startswith("http/2 304"), (out, err))
        self.assertIn("wharf-cluster-answer: " + answer_proof(304, h2_nonce, etag), head)
        self.ctl.proc.wait(timeout=15)
        took = time.monotonic() - started
        self.assertLess(took, 5, self.ctl.log()[-1500:])
        self.assertEqual(self.ctl.proc.returncode, 0, self.ctl.log()[-1500:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
