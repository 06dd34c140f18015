#!/usr/bin/env python3
"""Holds many idle TLS connections open against an HTTPS server (stdlib only).

Each connection completes a TLS handshake (ALPN http/1.1), sends one keep-alive
GET and reads the whole response, then sits idle. Once every connection is
done the script prints "READY ok=N failed=M" on stdout and holds them until
SIGTERM/SIGINT or --hold seconds pass, then closes them all and exits.

usage: idle_conns.py HOST PORT COUNT PATH [--auth BASE64] [--parallel 64]
                     [--hold 120] [--open-timeout 120]
"""

import argparse
import asyncio
import signal
import ssl
import sys
import time


async def one(host, port, path, auth, ctx, sem, timeout):
    async with sem:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost"), timeout)
        try:
            req = "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wharf-bench\r\n" % path
            if auth:
                req += "Authorization: Basic %s\r\n" % auth
            writer.write((req + "\r\n").encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await asyncio.wait_for(reader.readexactly(length), timeout)
            if status != 200:
                raise RuntimeError("status %d" % status)
        except BaseException:
            writer.close()
            raise
        return writer


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("path")
    ap.add_argument("--auth", default="")
    ap.add_argument("--parallel", type=int, default=64)
    ap.add_argument("--hold", type=float, default=120.0)
    ap.add_argument("--open-timeout", type=float, default=120.0)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])

    sem = asyncio.Semaphore(a.parallel)
    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one(a.host, a.port, a.path, a.auth, ctx, sem, 30.0))
             for _ in range(a.count)]
    done, pending = await asyncio.wait(tasks, timeout=a.open_timeout)
    for t in pending:
        t.cancel()
    writers, errors = [], {}
    for t in done:
        if t.exception() is not None:
            e = t.exception()
            key = "%s: %s" % (type(e).__name__, e)
            errors[key] = errors.get(key, 0) + 1
        else:
            writers.append(t.result())
    failed = a.count - len(writers)
    for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        print("error x%d: %s" % (v, k), file=sys.stderr)
    print("READY ok=%d failed=%d seconds=%.1f" % (len(writers), failed, time.monotonic() - t0),
          flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), a.hold)
    except asyncio.TimeoutError:
        pass
    for w in writers:
        w.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
