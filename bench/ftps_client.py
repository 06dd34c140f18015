#!/usr/bin/env python3
"""FTPS (explicit, AUTH TLS) client modes for bench/ftps.sh (stdlib only).

  small HOST PORT USER PASSWORD --dir DIR --count N [--tls 1.3|1.2]
      One control connection: AUTH TLS, PBSZ 0, PROT P, USER, PASS, TYPE I,
      NLST DIR, then RETR of the first N names one after another, each over a
      passive data connection whose TLS handshake resumes the control
      connection's session (ftplib does not do that by itself; servers with
      require_ssl_reuse refuse it otherwise). Prints one line:
        OK files=N bytes=B ms_per_file=X loop_ms=Y login_ms=Z resumed=R tls=VERSION cipher=NAME
      The clock for ms_per_file runs from NLST to the last 226 (the login is
      not in it); resumed counts the data connections whose handshake resumed.

  idle HOST PORT USER PASSWORD --count N [--hold S] [--parallel P]
      Opens N control connections, each logged in (AUTH TLS, PBSZ 0, PROT P,
      USER, PASS) and then left idle. Prints "READY ok=N failed=M" once every
      attempt is done, holds them until SIGTERM/SIGINT or --hold seconds, then
      sends QUIT on each and exits.

Every socket operation has a timeout (--timeout, default 30 s).
"""

import argparse
import concurrent.futures
import ftplib
import signal
import ssl
import sys
import threading
import time


def make_ctx(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session."""

    resumed = 0
    data_conns = 0

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
            self.data_conns += 1
            if conn.session_reused:
                self.resumed += 1
        return conn, size


def login(host, port, user, password, ctx, timeout):
    ftp = ReuseFTP_TLS(context=ctx, timeout=timeout)
    ftp.connect(host, port, timeout=timeout)
    ftp.auth()      # AUTH TLS
    ftp.prot_p()    # PBSZ 0, PROT P
    ftp.login(user, password)
    return ftp


def cmd_small(a):
    ctx = make_ctx(a.tls)
    t0 = time.monotonic()
    ftp = login(a.host, a.port, a.user, a.password, ctx, a.timeout)
    ftp.voidcmd("TYPE I")
    # A TLS 1.3 server sends its session tickets after the handshake; they are
    # read with the replies above, so the control session is resumable by now.
    t1 = time.monotonic()
    names = sorted(n for n in ftp.nlst(a.dir) if not n.rsplit("/", 1)[-1].startswith("."))
    names = names[: a.count]
    if len(names) < a.count:
        raise SystemExit("FAIL NLST %s gave %d names, want %d" % (a.dir, len(names), a.count))
    total = 0
    for name in names:
        path = name if "/" in name else a.dir + "/" + name
        chunks = []
        ftp.retrbinary("RETR " + path, chunks.append, blocksize=65536)
        total += sum(len(c) for c in chunks)
    t2 = time.monotonic()
    version = ftp.sock.version()
    cipher = ftp.sock.cipher()[0]
    try:
        ftp.quit()
    except (OSError, EOFError, ftplib.Error):
        ftp.close()
    if a.expect_bytes and total != a.expect_bytes:
        raise SystemExit("FAIL got %d bytes, want %d" % (total, a.expect_bytes))
    print("OK files=%d bytes=%d ms_per_file=%.2f loop_ms=%.1f login_ms=%.1f resumed=%d/%d tls=%s cipher=%s"
          % (len(names), total, (t2 - t1) * 1000 / len(names), (t2 - t1) * 1000, (t1 - t0) * 1000,
             ftp.resumed, ftp.data_conns, version, cipher))


def cmd_idle(a):
    ctx = make_ctx(a.tls)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    conns, errors = [], []

    def one(_):
        return login(a.host, a.port, a.user, a.password, ctx, a.timeout)

    deadline = time.monotonic() + a.open_timeout
    with concurrent.futures.ThreadPoolExecutor(a.parallel) as ex:
        futs = [ex.submit(one, i) for i in range(a.count)]
        for f in futs:
            try:
                conns.append(f.result(timeout=max(0.1, deadline - time.monotonic())))
            except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                errors.append("%s: %s" % (type(e).__name__, e))
    for e in errors:
        print(e, file=sys.stderr)
    print("READY ok=%d failed=%d" % (len(conns), len(errors)), flush=True)
    stop.wait(a.hold)
    for c in conns:
        try:
            c.sock.settimeout(2)
            c.quit()
        except (OSError, EOFError, ftplib.Error, ValueError):
            c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["small", "idle"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--tls", choices=["1.3", "1.2"], default="1.3")
    ap.add_argument("--dir", default="small")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--expect-bytes", type=int, default=0)
    ap.add_argument("--hold", type=float, default=120.0)
    ap.add_argument("--open-timeout", type=float, default=120.0)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    try:
        if a.mode == "small":
            cmd_small(a)
        else:
            cmd_idle(a)
    except ftplib.all_errors as e:
        raise SystemExit("FAIL %s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()
