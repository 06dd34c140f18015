"""Helpers for the FTPS tests: a strict control-connection client over raw
sockets and Python's ssl (it reads replies exactly as RFC 959 frames them and
records any framing fault), data connections with or without TLS session
reuse, an ftplib.FTP_TLS that reuses the control session (as curl and lftp
do), and runners for curl and lftp.

Every socket has a timeout; every loop is bounded by a deadline."""

import ftplib
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TIMEOUT = 10.0
PARTIAL_PREFIX = ".wharf-upload."
REUSE_425 = "require_tls_reuse"

PASSWORDS = {"alice": "alice-pw", "reader": "reader-pw", "writer": "writer-pw"}


def client_context(version=None, tickets=True):
    """An OpenSSL client context that does not check the certificate.
    version: None, "1.2" or "1.3" (forced both ways). tickets=False: TLS 1.2
    resumption by session ID only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


class Reply:
    """One reply: code, its text lines (CR LF stripped), and framing faults."""

    def __init__(self, code, lines, faults):
        self.code = code
        self.lines = lines
        self.faults = faults

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def multi(self):
        return len(self.lines) > 1

    def __repr__(self):
        return "<Reply %d %r%s>" % (self.code, self.text[:400], " faults=%r" % self.faults if self.faults else "")


class Closed(AssertionError):
    pass


class Control:
    """One control connection. implicit: TLS from the first byte. The banner
    is read at once (self.banner). Use as a context manager, or close()."""

    def __init__(self, port, implicit=False, ctx=None, timeout=TIMEOUT, source=None, rcvbuf=None):
        self.port = port
        self.timeout = timeout
        self.source = source  # data connections come from it too, as a client's do
        self.ctx = ctx or client_context()
        if rcvbuf:  # set before connecting, so the window offered is small from the start
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            raw.settimeout(timeout)
            if source:
                raw.bind((source, 0))
            raw.connect(("127.0.0.1", port))
        else:
            raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                           source_address=(source, 0) if source else None)
        self.sock = raw
        self.tls = False
        if implicit:
            self.sock = self.ctx.wrap_socket(raw, server_hostname="localhost")
            self.tls = True
        self.buf = b""
        self.eof = False
        self.banner = self.read_reply()

    # -- bytes
    def send(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        if not line.endswith(b"\n"):
            line += b"\r\n"
        self.sock.sendall(line)

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no reply in time; have %r" % self.buf[:300])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise AssertionError("no reply in time; have %r" % self.buf[:300])
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _line(self, deadline):
        while b"\n" not in self.buf:
            if not self._fill(deadline):
                raise Closed("connection closed by the server; unread %r" % self.buf[:300])
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def read_reply(self, timeout=None):
        """One whole reply. Faults recorded: a line not ended by CR LF, a
        continuation line not indented (a risk of being read as the end)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        faults = []
        raw = self._line(deadline)
        if not raw.endswith(b"\r"):
            faults.append("bare LF after %r" % raw)
        first = raw.rstrip(b"\r").decode("utf-8", "replace")
        m = re.match(r"^([1-5]\d\d)([ -])(.*)$", first)
        if not m:
            raise AssertionError("malformed reply line %r" % first)
        code, sep = int(m.group(1)), m.group(2)
        lines = [m.group(3)]
        n = 0
        while sep == "-":
            n += 1
            if n > 200000:
                raise AssertionError("multi-line reply without an end")
            raw = self._line(deadline)
            if not raw.endswith(b"\r"):
                faults.append("bare LF after %r" % raw)
            text = raw.rstrip(b"\r").decode("utf-8", "replace")
            if text.startswith("%d " % code):
                lines.append(text[4:])
                break
            if re.match(r"^\d\d\d[ -]", text):
                faults.append("continuation line looks like a reply: %r" % text)
            lines.append(text)
        return Reply(code, lines, faults)

    def cmd(self, line, timeout=None):
        self.send(line)
        return self.read_reply(timeout)

    def expect(self, line, *codes):
        r = self.cmd(line)
        if r.code not in codes:
            raise AssertionError("%s -> %r, expected %s" % (line.split(" ")[0] if not line.startswith("PASS")
                                                           else "PASS", r, codes))
        return r

    # -- session
    def auth_tls(self):
        self.expect("AUTH TLS", 234)
        if self.buf:
            raise AssertionError("bytes after 234: %r" % self.buf)
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.tls = True

    def login(self, user="alice", password=None, prot=True):
        if not self.tls:
            self.auth_tls()
        self.expect("USER " + user, 331)
        self.expect("PASS " + (password or PASSWORDS[user]), 230)
        if prot:
            self.expect("PBSZ 0", 200)
            self.expect("PROT P", 200)
            self.protected = True
            # Binary, as every real client asks (RFC 959's default is ASCII).
            self.expect("TYPE I", 200)
        return self

    protected = False

    @property
    def session(self):
        return self.sock.session if self.tls else None

    def pasv(self):
        """(host, port) from 227."""
        r = self.expect("PASV", 227)
        m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", r.text)
        if not m:
            raise AssertionError("no address in %r" % r)
        n = [int(x) for x in m.groups()]
        return "%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5]

    def epsv(self):
        r = self.expect("EPSV", 229)
        m = re.search(r"\((.)\1\1(\d+)\1\)", r.text)
        if not m:
            raise AssertionError("229 reply not in the (|||port|) form: %r" % r)
        return int(m.group(2))

    def data_port(self, passive="EPSV"):
        return self.epsv() if passive == "EPSV" else self.pasv()[1]

    def wrap_data(self, raw, reuse=True, ctx=None, session=None):
        """TLS client on a data socket; reuse: offer the control session."""
        ctx = ctx or self.ctx
        if session is None and reuse:
            session = self.session
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session,
                            suppress_ragged_eofs=False)
        return s

    # -- transfers; each returns the final reply (and data)
    def _open(self, passive, source=None):
        port = self.data_port(passive)
        source = source or self.source
        return socket.create_connection(("127.0.0.1", port), timeout=self.timeout,
                                        source_address=(source, 0) if source else None)

    def retr(self, name, cmd="RETR", passive="EPSV", reuse=True, rest=None, prelude=(), between=()):
        """Download: (data or None, final reply, info dict). info: close_notify
        (did the data connection end with one), resumed (session reused).
        between: (line, code) pairs sent after REST, before the command."""
        for p in prelude:
            self.expect(p, 200, 350)
        raw = self._open(passive)
        conn = raw
        info = {"close_notify": None, "resumed": None, "prelim": None}
        try:
            if rest is not None:
                self.expect("REST %d" % rest, 350)
            for line, code in between:
                self.expect(line, code)
            r = self.cmd("%s %s" % (cmd, name) if name is not None else cmd)
            if r.code >= 200:
                return None, r, info
            info["prelim"] = r
            data = b""
            conn = raw
            if self.protected:
                try:
                    conn = self.wrap_data(raw, reuse=reuse)
                    info["resumed"] = conn.session_reused
                except (ssl.SSLError, OSError) as e:
                    info["handshake_error"] = str(e)
                    return None, self.read_reply(), info
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    chunk = conn.recv(1 << 16)
                except ssl.SSLZeroReturnError:
                    info["close_notify"] = True
                    break
                except (ssl.SSLEOFError, ConnectionResetError) as e:
                    info["close_notify"] = False
                    info["error"] = str(e)
                    break
                if not chunk:  # with suppress_ragged_eofs=False: only after a close_notify
                    info["close_notify"] = True if self.protected else None
                    break
                data += chunk
            else:
                raise AssertionError("download did not end within 60 s")
            conn.close()
            return data, self.read_reply(timeout=30), info
        finally:
            conn.close()
            raw.close()

    def stor(self, name, data, cmd="STOR", passive="EPSV", reuse=True, rest=None, close_notify=True,
             cut_after=None, rst=False):
        """Upload: (final reply, info). cut_after=n: send n bytes then cut the
        data connection without close_notify (FIN, or RST if rst) and return
        the reply to that."""
        raw = self._open(passive)
        conn = raw
        info = {"prelim": None}
        try:
            if rest is not None:
                self.expect("REST %d" % rest, 350)
            r = self.cmd("%s %s" % (cmd, name) if name is not None else cmd)
            if r.code >= 200:
                return r, info
            info["prelim"] = r
            conn = raw
            if self.protected:
                try:
                    conn = self.wrap_data(raw, reuse=reuse)
                    info["resumed"] = conn.session_reused
                except (ssl.SSLError, OSError) as e:
                    info["handshake_error"] = str(e)
                    return self.read_reply(), info
            body = data if cut_after is None else data[:cut_after]
            try:
                conn.sendall(body)
            except (ssl.SSLError, OSError) as e:
                info["send_error"] = str(e)
            if cut_after is not None:
                if rst:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                # No unwrap: no close_notify (Python's ssl never sends one on
                # close); the TCP connection just ends. (wrap_socket detached
                # raw: conn owns the descriptor.)
                conn.close()
                return self.read_reply(timeout=30), info
            if self.protected and close_notify:
                try:
                    conn.settimeout(5)
                    conn.unwrap()
                except (ssl.SSLError, OSError) as e:
                    info["unwrap_error"] = str(e)
            conn.close()
            return self.read_reply(timeout=30), info
        finally:
            conn.close()
            raw.close()

    def listing(self, cmd="MLSD", arg=None):
        data, r, _ = self.retr(arg, cmd=cmd)
        if data is None:
            raise AssertionError("%s %s -> %r" % (cmd, arg, r))
        if r.code != 226:
            raise AssertionError("%s %s ended with %r" % (cmd, arg, r))
        return data.decode("utf-8")

    def closed_by_peer(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not self.eof:
            if time.monotonic() >= deadline:
                return False
            try:
                self._fill(deadline)
            except AssertionError:
                return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """ftplib as it should be for FTPS: data connections resume the control
    connection's TLS session (plain FTP_TLS does not)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


class ImplicitFTP_TLS(ReusingFTP_TLS):
    """ftplib on an implicit FTPS port (TLS from the first byte)."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        self.sock = socket.create_connection((self.host, self.port), self.timeout)
        self.af = self.sock.family
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def ftplib_login(port, user="alice", cls=ReusingFTP_TLS, ctx=None, implicit=False):
    ctx = ctx or client_context()
    if implicit:
        f = ImplicitFTP_TLS(context=ctx, timeout=TIMEOUT)
        f.connect("127.0.0.1", port)
        f.login(user, PASSWORDS[user], secure=False)
    else:
        f = cls(context=ctx, timeout=TIMEOUT)
        f.connect("127.0.0.1", port)
        f.login(user, PASSWORDS[user])
    f.prot_p()
    return f


# -- real clients

def curl(port, path, args=(), user="alice", implicit=False, timeout=30, input=None):
    """curl over FTPS (explicit: --ssl-reqd ftp://; implicit: ftps://).
    Returns the CompletedProcess (stdout bytes, stderr text)."""
    scheme = "ftps" if implicit else "ftp"
    cmd = ["curl", "-sS", "-k", "--max-time", str(timeout), "-u", "%s:%s" % (user, PASSWORDS[user])]
    if not implicit:
        cmd.append("--ssl-reqd")
    cmd += list(args)
    cmd.append("%s://127.0.0.1:%d%s" % (scheme, port, path))
    out = subprocess.run(cmd, capture_output=True, timeout=timeout + 10, input=input)
    out.stderr = out.stderr.decode("utf-8", "replace")
    return out


LFTP_SETTINGS = ("set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; "
                 "set ftp:ssl-protect-list true; set net:max-retries 1; set net:timeout 15; "
                 "set net:reconnect-interval-base 1; set cmd:fail-exit true; set xfer:clobber on; "
                 "set ftp:passive-mode true; ")


def lftp(port, commands, user="alice", implicit=False, settings="", timeout=90, cwd=None, debug=False):
    """lftp -c with the FTPS settings; returns the CompletedProcess (text)."""
    scheme = "ftps" if implicit else "ftp"
    script = (LFTP_SETTINGS + settings + "open -u %s,%s %s://127.0.0.1:%d; " %
              (user, PASSWORDS[user], scheme, port) + commands)
    cmd = ["lftp"] + (["-d"] if debug else []) + ["-c", script]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=cwd,
                          text=True, errors="replace")


# -- the shared server

def ftps_services(explicit_keys=None, implicit=True, implicit_keys=None):
    svcs = [dict({"type": "ftps", "address": "127.0.0.1", "port": None, "certificates": ["main"]},
                 **(explicit_keys or {}))]
    if implicit:
        svcs.append(dict({"type": "ftps-implicit", "address": "127.0.0.1", "port": None,
                          "certificates": ["main"]}, **(implicit_keys or {})))
    return svcs


class FTPSCase(unittest.TestCase):
    """One wharf with an explicit (self.port) and an implicit (self.iport)
    FTPS service for the whole class. Subclasses set SERVICE_KEYS (extra keys
    for both services), EXTRA (raw top-level config), USERS, WORKERS, HTTPS
    (an HTTPS service too, first: server.port, as harness.curl asks), and
    fill homes in prepare(server) before it starts."""

    SERVICE_KEYS = {}
    EXTRA = ""
    USERS = None
    WORKERS = 2
    HTTPS = False

    @classmethod
    def prepare(cls, server):
        pass

    @classmethod
    def setUpClass(cls):
        services = ftps_services(cls.SERVICE_KEYS, True, cls.SERVICE_KEYS)
        if cls.HTTPS:
            services.insert(0, {"type": "https", "address": "127.0.0.1", "port": None, "certificates": ["main"]})
        cls.server = harness.Server(users=cls.USERS, extra=cls.EXTRA, workers=cls.WORKERS, services=services)
        cls.addClassCleanup(cls.server.cleanup)
        cls.port = services[-2]["port"]
        cls.iport = services[-1]["port"]
        cls.prepare(cls.server)
        cls.server.start()
        if not all(harness.wait_port(s["port"]) for s in services):
            raise RuntimeError("ports not listening:\n" + cls.server.log()[-3000:])

    def tearDown(self):
        harness.log_on_failure(self, self.server)

    def control(self, implicit=False, **kw):
        c = Control(self.iport if implicit else self.port, implicit=implicit, **kw)
        self.addCleanup(c.close)
        return c

    def logged_in(self, user="alice", implicit=False, prot=True, **kw):
        c = self.control(implicit=implicit, **kw)
        self.assertEqual(c.banner.code, 220, c.banner)
        return c.login(user, prot=prot)

    def home(self, *parts, user="alice"):
        return os.path.join(self.server.home(user), *parts)

    def write_home(self, rel, data, user="alice"):
        """A file the test puts in a home (owned by the server's user)."""
        path = self.home(rel, user=user)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.server.give(path)
        self.server.give(os.path.dirname(path))
        return path

    def read_home(self, rel, user="alice"):
        with open(self.home(rel, user=user), "rb") as f:
            return f.read()

    def partials(self, folder=""):
        d = self.home(folder) if folder else self.home()
        return sorted(n for n in os.listdir(d) if n.startswith(PARTIAL_PREFIX))

    def parked(self, c, name, data, cut):
        """c's upload of NAME cut after CUT bytes of DATA: its partial is parked."""
        r, _ = c.stor(name, data, cut_after=cut)
        self.assertEqual(r.code // 100, 4, r)

    def scratch(self, name, data=None):
        """A path outside every home (for clients' local files)."""
        d = os.path.join(self.server.dir, "client")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        if data is not None:
            with open(path, "wb") as f:
                f.write(data)
        return path


def in_thread(fn, *args):
    """Runs fn(*args) in a daemon thread; returns a joiner giving (result, error)."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args)
        except BaseException as e:  # reported to the caller
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=TIMEOUT + 5):
        t.join(timeout)
        if t.is_alive():
            raise AssertionError("thread still running after %.0f s" % timeout)
        return box.get("result"), box.get("error")
    return join
