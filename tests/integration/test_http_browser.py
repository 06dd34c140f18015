"""Uploads from a browser: the HTML listing's form (transfer/listing_form.c).

First without a browser (curl): who gets the form, the CSP that allows its
one script by hash (checked against the page's own <script> bytes), exact
Content-Length, the JSON listing untouched, and no CORS field in any
OPTIONS answer.

Then a real browser: headless Chromium driven by Selenium (Debian's
chromium, chromium-driver, python3-selenium) against the real server over
HTTPS. It logs in as alice, chooses files with the form, uploads them (one
a few MiB of random bytes), is asked before a file is replaced, makes a
folder, sees a failure's reason on the page; reader sees no form; and a
page of another origin in the same browser, logged in to wharf, cannot PUT
there. Every wait is bounded; the browser, its driver and the other
origin's server are stopped at the end, whatever happens."""

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

WAIT = 30  # seconds any one browser step may take at most


def inline_script(body):
    """The bytes between <script> and </script> (the page has one)."""
    m = re.search(rb"<script>(.*?)</script>", body, re.S)
    return m.group(1) if m else None


class ListingFormTests(harness.SharedServerCase):
    """The page and its headers, as curl gets them, over both protocols."""

    def get(self, path="/", user="alice", http="--http1.1", accept=None):
        args = ["-H", "Accept: " + accept] if accept else []
        return harness.curl(self.server, path, user=user, http=http, args=args, binary=True)

    def test_form_by_permission(self):
        """alice (write, mkdir) gets the form and a CSP naming its script's
        hash; reader gets the page as before, no script; both pages exactly
        as long as said; the JSON listing is as before."""
        for http in ("--http1.1", "--http2"):
            with self.subTest(http=http):
                status, h, body = self.get(http=http)
                self.assertEqual(status, 200)
                self.assertEqual(int(h["content-length"]), len(body))
                self.assertIn(b'<input type="file" id="wf-files" multiple>', body)
                self.assertIn(b">Upload</button>", body)
                self.assertIn(b">New folder</button>", body)
                self.assertEqual(body.count(b"<script"), 1)
                script = inline_script(body)
                self.assertIsNotNone(script)
                want = "sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode()
                csp = h["content-security-policy"]
                self.assertEqual(csp, "default-src 'none'; style-src 'unsafe-inline'; "
                                      "script-src '%s'; connect-src 'self'" % want)
                self.assertNotIn("script-src 'unsafe-inline'", csp)
                # The form comes before the table, the page stays whole.
                self.assertLess(body.index(b"<script>"), body.index(b"<table>"))
                self.assertTrue(body.rstrip().endswith(b"</html>"))
                self.assertIn(b"hello.txt", body)

                status, rh, rbody = self.get(user="reader", http=http)
                self.assertEqual(status, 200)
                self.assertEqual(int(rh["content-length"]), len(rbody))
                self.assertNotIn(b"<script", rbody)
                self.assertNotIn(b"<input", rbody)
                self.assertEqual(rh["content-security-policy"], "default-src 'none'; style-src 'unsafe-inline'")

                status, jh, jbody = self.get(http=http, accept="application/json")
                self.assertEqual(status, 200)
                self.assertEqual(int(jh["content-length"]), len(jbody))
                self.assertNotIn("content-security-policy", jh)
                d = json.loads(jbody)
                self.assertEqual(set(d), {"path", "entries", "truncated"})
                self.assertEqual([e["name"] for e in d["entries"]], ["hello.txt"])

    def test_same_size_in_a_subfolder_and_for_head(self):
        os.makedirs(os.path.join(self.server.home(), "sub"), exist_ok=True)
        self.server.give_homes()
        status, h, body = self.get("/sub/")
        self.assertEqual(status, 200)
        self.assertEqual(int(h["content-length"]), len(body))
        self.assertIsNotNone(inline_script(body))
        status, hh, _ = harness.curl(self.server, "/sub/", args=["-I"])
        self.assertEqual(hh["content-length"], h["content-length"])
        self.assertEqual(hh["content-security-policy"], h["content-security-policy"])


def options_grant_no_cors(testcase, server):
    """A cross-site page can PUT or MKCOL only after a preflight the server
    grants with Access-Control-Allow-*: no OPTIONS answer has any."""
    pre = ["-X", "OPTIONS", "-H", "Origin: http://evil.example",
           "-H", "Access-Control-Request-Method: PUT",
           "-H", "Access-Control-Request-Headers: if-none-match"]
    for user in ("alice", None):  # a preflight carries no credentials
        for path in ("/", "/evil.txt", "/hello.txt", "*"):
            with testcase.subTest(user=user, path=path):
                args = pre + (["--request-target", "*"] if path == "*" else [])
                status, h, _ = harness.curl(server, "/" if path == "*" else path, user=user, args=args)
                testcase.assertIn(status, (204, 401))
                testcase.assertEqual([k for k in h if k.startswith("access-control-")], [])


class OtherOrigin(http.server.SimpleHTTPRequestHandler):
    """The attacker's site: one page, on another port of loopback."""
    target = None

    def do_GET(self):
        page = ("<!doctype html><title>evil</title><script>\n"
                "window.results = [];\n"
                "function note(what, p) { p.then(function (r) { results.push(what + ' ' + r.status); },\n"
                "  function (e) { results.push(what + ' failed: ' + e); }); }\n"
                "note('PUT', fetch('%(t)sevil.txt', {method: 'PUT', body: 'x', credentials: 'include'}));\n"
                "note('MKCOL', fetch('%(t)sevil-dir/', {method: 'MKCOL', credentials: 'include'}));\n"
                "note('POST', fetch('%(t)sevil-post.txt', {method: 'POST', body: 'x', mode: 'no-cors',\n"
                "  credentials: 'include'}));\n"
                "</script>\n" % {"t": self.target}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


class BrowserTests(unittest.TestCase):
    """One server and one headless Chromium for the class; alice's tests
    share its profile, logged in once."""

    @classmethod
    def setUpClass(cls):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        cls.webdriver, cls.Service = webdriver, Service
        cls.server = harness.Server(extra="limits = { max_login_failures = 1000; };")
        cls.addClassCleanup(cls.server.cleanup)
        home = cls.server.home()
        with open(os.path.join(home, "hello.txt"), "wb") as f:
            f.write(b"hello\n")
        os.makedirs(os.path.join(home, "taken"))
        cls.server.start()
        cls.local = tempfile.mkdtemp(prefix="wharf-browser-files-")
        cls.addClassCleanup(shutil.rmtree, cls.local, True)
        cls.drivers = []
        cls.driver = cls.start_browser()

    @classmethod
    def start_browser(cls, extra=()):
        opts = cls.webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        profile = tempfile.mkdtemp(prefix="wharf-chromium-")
        cls.addClassCleanup(shutil.rmtree, profile, True)
        for a in ("--headless=new", "--no-sandbox", "--ignore-certificate-errors", "--disable-gpu",
                  "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile) + tuple(extra):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations are logged there
        service = cls.Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        d = cls.webdriver.Chrome(service=service, options=opts)
        cls.addClassCleanup(cls.quit, d)  # the browser and its driver, even if a test fails
        d.set_page_load_timeout(WAIT)
        d.set_script_timeout(WAIT)
        return d

    @staticmethod
    def quit(d):
        """Stops the browser and its driver (again is harmless)."""
        try:
            d.quit()
        except Exception:  # already gone
            pass

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    # helpers
    def url(self, path="/", user="alice"):
        pw = {u["name"]: u["password"] for u in self.server.users}[user]
        return "https://%s:%s@127.0.0.1:%d%s" % (user, pw, self.server.port, path)

    def local_file(self, name, data):
        p = os.path.join(self.local, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def on_disk(self, name):
        try:
            with open(os.path.join(self.server.home(), name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def wait(self, predicate, what, timeout=WAIT):
        if not harness.wait_until(predicate, timeout=timeout, interval=0.1):
            raise AssertionError("not within %d s: %s" % (timeout, what))

    def open_listing(self, d, path="/", user="alice"):
        d.get(self.url(path, user))
        title = "Index of " + urllib.parse.unquote(path)
        self.wait(lambda: d.execute_script("return document.readyState") == "complete" and d.title == title,
                  "the listing of %s loads" % path)

    def mark(self, d):
        """Marks the page: a reload drops the mark."""
        d.execute_script("window.wfMark = 1;")

    def reloaded(self, d):
        return d.execute_script("return window.wfMark === undefined && document.readyState === 'complete'")

    def choose_and_upload(self, d, paths):
        from selenium.webdriver.common.by import By
        d.find_element(By.ID, "wf-files").send_keys("\n".join(paths))
        self.mark(d)
        d.find_element(By.ID, "wf-send").click()

    def answer_confirm(self, d, accept):
        from selenium.webdriver.support.ui import WebDriverWait
        from selenium.webdriver.support import expected_conditions as EC
        alert = WebDriverWait(d, WAIT).until(EC.alert_is_present())
        text = alert.text
        alert.accept() if accept else alert.dismiss()
        return text

    def log_lines(self, d):
        return d.execute_script(
            "return Array.prototype.map.call(document.querySelectorAll('#wf-log li'), "
            "function (li) { return li.textContent; });")

    # tests: each opens alice's listing afresh
    def test_1_upload_two_files(self):
        """alice uploads two files; reader gets no form."""
        d = self.driver
        self.open_listing(d)
        big = os.urandom(4 * 1024 * 1024 + 17)
        small = "h\u00e9llo w\u00f6rld & <friends> (it's 1)!.txt"  # all encodeURIComponent leaves is fine
        paths = [self.local_file("big.bin", big), self.local_file(small, b"small one\n")]
        self.choose_and_upload(d, paths)
        self.wait(lambda: self.on_disk("big.bin") == big and self.on_disk(small) == b"small one\n",
                  "both files stored with their bytes")
        self.wait(lambda: self.reloaded(d), "the listing reloads")
        self.assertIn("big.bin", d.page_source)
        self.assertIn("4.0 MiB", d.page_source)
        # The script ran under the page's CSP, which blocked nothing.
        blocked = [e["message"] for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
        self.assertEqual(blocked, [])
        # reader, who may not write, gets no form: the page as it always was.
        from selenium.webdriver.common.by import By
        r = self.start_browser()  # a fresh profile: alice's login is not reader's
        self.open_listing(r, user="reader")
        self.assertEqual(r.find_elements(By.TAG_NAME, "input"), [])
        self.assertEqual(r.find_elements(By.TAG_NAME, "script"), [])
        self.quit(r)

    def test_2_replace_asks_first(self):
        d = self.driver
        self.server.put_file("twice.txt", b"old bytes\n")
        self.open_listing(d)
        path = self.local_file("twice.txt", b"new bytes\n")
        # Dismissed: the file stays as it was; nothing failed, so the page reloads.
        self.choose_and_upload(d, [path])
        self.assertEqual(self.answer_confirm(d, False), "Replace twice.txt?")
        self.wait(lambda: self.reloaded(d), "the listing reloads")
        self.assertEqual(self.on_disk("twice.txt"), b"old bytes\n")
        # Accepted: sent again without If-None-Match, replacing it.
        self.choose_and_upload(d, [path])
        self.assertEqual(self.answer_confirm(d, True), "Replace twice.txt?")
        self.wait(lambda: self.on_disk("twice.txt") == b"new bytes\n", "the file replaced")
        self.wait(lambda: self.reloaded(d), "the listing reloads")
        # A big one too: the 412 comes before its body is read.
        big = os.urandom(3 * 1024 * 1024)
        self.server.put_file("big-twice.bin", b"old")
        self.open_listing(d)
        self.choose_and_upload(d, [self.local_file("big-twice.bin", big)])
        self.answer_confirm(d, True)
        self.wait(lambda: self.on_disk("big-twice.bin") == big, "the big file replaced")

    def test_2_replace_asks_first_http1(self):
        """Over HTTP/1.1 the 412 to a large body comes before the body is
        read and the server closes the connection after it: the browser
        still gets the 412, asks, and replaces."""
        d = self.start_browser(["--disable-http2"])
        try:
            big = os.urandom(3 * 1024 * 1024)
            self.server.put_file("h1-twice.bin", b"old")
            self.open_listing(d)
            self.choose_and_upload(d, [self.local_file("h1-twice.bin", big)])
            self.assertEqual(self.answer_confirm(d, True), "Replace h1-twice.bin?")
            self.wait(lambda: self.on_disk("h1-twice.bin") == big, "the big file replaced")
            self.wait(lambda: self.reloaded(d), "the listing reloads")
        finally:
            self.quit(d)
        self.assertIn("alice PUT /h1-twice.bin HTTP/1.1 412", self.server.log())
        self.assertIn("alice PUT /h1-twice.bin HTTP/1.1 204", self.server.log())

    def test_3_new_folder(self):
        from selenium.webdriver.common.by import By
        d = self.driver
        self.open_listing(d)
        d.find_element(By.ID, "wf-name").send_keys("made here")
        self.mark(d)
        d.find_element(By.ID, "wf-mkdir").click()
        self.wait(lambda: os.path.isdir(os.path.join(self.server.home(), "made here")), "the folder made")
        self.wait(lambda: self.reloaded(d), "the listing reloads")
        self.assertIn('href="made%20here/"', d.page_source)
        # And an upload into it, from its own listing.
        self.open_listing(d, "/made%20here/")
        self.choose_and_upload(d, [self.local_file("inner.txt", b"inside\n")])
        self.wait(lambda: self.on_disk("made here/inner.txt") == b"inside\n", "the file stored in the folder")
        self.wait(lambda: self.reloaded(d), "the listing reloads")
        self.assertIn("inner.txt", d.page_source)

    def test_4_failure_shows_its_reason(self):
        """A name a folder holds: 405, said on the page, which stays."""
        d = self.driver
        self.open_listing(d)
        self.choose_and_upload(d, [self.local_file("taken", b"x")])
        self.wait(lambda: any("405" in line for line in self.log_lines(d)), "the failure shown")
        lines = self.log_lines(d)
        self.assertTrue(any("taken: 405 Method Not Allowed: a folder has that name" in x for x in lines), lines)
        self.assertTrue(any("Reload the folder" in x for x in lines), lines)
        self.assertFalse(self.reloaded(d))
        self.assertTrue(os.path.isdir(os.path.join(self.server.home(), "taken")))

    def test_5_other_origin_cannot_write(self):
        """Logged in to wharf (its own page can PUT: test_1), a page of
        another origin in the same browser tries PUT, MKCOL and a simple
        POST with credentials: the preflight is never granted, the POST is
        refused; nothing is made. No OPTIONS answer has a CORS field."""
        d = self.driver
        self.open_listing(d)  # logged in, in this profile
        self.choose_and_upload(d, [self.local_file("own.txt", b"mine\n")])
        self.wait(lambda: self.on_disk("own.txt") == b"mine\n", "the same-origin upload works")
        self.wait(lambda: self.reloaded(d), "the listing reloads")
        OtherOrigin.target = "https://127.0.0.1:%d/" % self.server.port
        evil = http.server.ThreadingHTTPServer(("127.0.0.1", harness.free_port()), OtherOrigin)
        t = threading.Thread(target=evil.serve_forever, daemon=True)
        t.start()
        try:
            d.get("http://127.0.0.1:%d/" % evil.server_address[1])
            self.wait(lambda: len(d.execute_script("return window.results || []")) == 3, "the attempts end")
            results = d.execute_script("return window.results")
        finally:
            evil.shutdown()
            evil.server_close()
            t.join(10)
        sys.stderr.write("other origin's attempts: %s\n" % results)
        self.assertTrue(any(r.startswith("PUT failed") for r in results), results)
        self.assertTrue(any(r.startswith("MKCOL failed") for r in results), results)
        time.sleep(0.5)  # anything the server would store has had its time
        for name in ("evil.txt", "evil-dir", "evil-post.txt"):
            self.assertFalse(os.path.lexists(os.path.join(self.server.home(), name)), name)
        self.assertNotIn("PUT /evil.txt", self.server.log())
        self.assertNotIn("MKCOL /evil-dir", self.server.log())
        options_grant_no_cors(self, self.server)


if __name__ == "__main__":
    harness.main()
