"""t79: the HTTPS listener (tls.listen): TLS 1.2 and 1.3 only, the same cache and flights as
plain HTTP, X-Forwarded-Proto https, and its plaintext checked as strictly as a plain
connection's. Certificates are made here with openssl."""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading

from harness import BIN, Certs, Env, eq, check


def tls_env(certs, extra=None):
    config = {"tls": {"listen": "127.0.0.1:0", "cert": certs.both[0], "key": certs.both[1]}}
    config.update(extra or {})
    return Env(config)


def context(certs, version=None):
    ctx = ssl.create_default_context(cafile=certs.ca)
    if version is not None:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")  # let this client offer an old version at all
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def https_get(env, certs, target, headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", env.proxy.tls_port, timeout=30,
                                       context=context(certs))
    try:
        conn.request("GET", target, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_https_serves_from_the_same_cache_and_flights():
    with Certs() as certs, tls_env(certs) as env:
        check(env.proxy.tls_port, "the HTTPS port in the first log line")
        t = "/both?delay_ms=400&size=500&cc=max-age%3D60"
        results = {}
        threads = [threading.Thread(target=lambda: results.update(tls=https_get(env, certs, t))),
                   threading.Thread(target=lambda: results.update(plain=env.get(t)))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        status, headers, body = results["tls"]
        eq((status, len(body)), (200, 500), "over HTTPS")
        eq(results["plain"].body, body, "the same response over HTTP")
        eq(env.origin.count(t), 1, "one origin fetch for both")
        env.wait_stored()
        status, headers, _ = https_get(env, certs, t)
        eq((status, headers.get("X-Cache")), (200, "HIT"), "a hit over HTTPS")
        check(headers.get("X-Request-Id"), "with its request id")


def test_the_origin_is_told_the_client_used_https():
    with Certs() as certs, tls_env(certs) as env:
        _, _, body = https_get(env, certs, "/p1?echo=1")
        sent = dict((k.lower(), v) for k, v in json.loads(body)["headers"])
        eq(sent.get("x-forwarded-proto"), "https", "X-Forwarded-Proto over HTTPS")
        sent = dict((k.lower(), v) for k, v in json.loads(env.get("/p2?echo=1").body)["headers"])
        eq(sent.get("x-forwarded-proto"), "http", "and over plain HTTP")


def test_a_bad_head_over_tls_is_refused_like_a_plain_one():
    with Certs() as certs, tls_env(certs) as env:
        raw = context(certs).wrap_socket(
            socket.create_connection(("127.0.0.1", env.proxy.tls_port), timeout=30),
            server_hostname="127.0.0.1")
        raw.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        answer = b""
        while True:
            try:
                chunk = raw.recv(4096)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            answer += chunk
        raw.close()
        check(answer.startswith(b"HTTP/1.1 400 "), "refused over TLS: %r" % answer[:60])
        check(b"X-Request-Id: " in answer, "with a request id")
        eq(env.origin.stats()["total"], 0, "nothing forwarded")
        eq(env.proxy.stats()["bad_requests"], 1, "counted")


def test_only_tls_1_2_and_1_3():
    with Certs() as certs, tls_env(certs) as env:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            s = context(certs, version).wrap_socket(
                socket.create_connection(("127.0.0.1", env.proxy.tls_port)),
                server_hostname="127.0.0.1")
            eq(s.version(), version.name.replace("v1_", "v1."), "negotiated")
            s.close()
        try:
            s = context(certs, ssl.TLSVersion.TLSv1_1).wrap_socket(
                socket.create_connection(("127.0.0.1", env.proxy.tls_port)),
                server_hostname="127.0.0.1")
            got = s.version()
            s.close()
        except (ssl.SSLError, OSError):
            got = None
        eq(got, None, "TLS 1.1 refused")


def test_a_key_that_is_not_the_certificates_stops_startup():
    with Certs() as certs:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"listen": "127.0.0.1:0", "admin": {"listen": None},
                       "upstream": "http://127.0.0.1:1",
                       "tls": {"listen": "127.0.0.1:0", "cert": certs.both[0],
                               "key": certs.named[1]}}, f)
        try:
            p = subprocess.run([BIN, "-c", f.name], capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)
        eq(p.returncode, 1, "exit code")
        check("cannot listen for HTTPS" in p.stderr and "tls.key" in p.stderr,
              "says what to check: %r" % p.stderr[-300:])


def test_https_only():
    with Certs() as certs, tls_env(certs, {"listen": None}) as env:
        eq(env.proxy.port, None, "no plain listener in the first log line")
        status, headers, body = https_get(env, certs, "/only?size=20")
        eq((status, len(body), headers.get("X-Cache")), (200, 20, "MISS"), "over HTTPS")


def whole_answers(sock):
    """The statuses of the responses read whole from sock until it ends; a response cut
    short ends the list with "cut"."""
    data, out = b"", []
    while True:
        while b"\r\n\r\n" not in data:
            try:
                chunk = sock.recv(65536)
            except (ConnectionError, ssl.SSLError, socket.timeout):
                chunk = b""
            if not chunk:
                return out + (["cut"] if data else [])
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"\r\ncontent-length: *(\d+)", head, re.I).group(1))
        while len(rest) < length:
            try:
                chunk = sock.recv(65536)
            except (ConnectionError, ssl.SSLError, socket.timeout):
                chunk = b""
            if not chunk:
                return out + ["cut"]
            rest += chunk
        out.append(int(head.split(b" ")[1]))
        data = rest[length:]


def test_pipelined_past_the_read_ahead_is_answered_whole_or_sent_again():
    # A TLS record is read whole, so what a client pipelines behind a request cannot be
    # left unread as on plain HTTP, where reads stop 4 KiB past a message (conn.c).
    # Beyond that it is dropped, and the connection ends once what was kept is answered
    # (a pipelining client sends the rest again, RFC 9112 §9.3.2). Before, libmicrohttpd's
    # pool filled with it and the first request, 150 fields, got no answer at all.
    with Certs() as certs, tls_env(certs) as env:
        big = b"/big?cc=max-age=600&pad_head=15000"
        eq(env.get(big.decode()).status, 200, "the big-head response, stored")
        env.wait_stored()
        first = b"GET " + big + b" HTTP/1.1\r\nHost: a\r\n" + \
            b"".join(b"X-F%d: vvvvvvvv\r\n" % i for i in range(150)) + b"\r\n"
        rest = b"".join(b"GET /tp%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(400))
        before = env.origin.stats()["total"]
        raw = socket.create_connection(("127.0.0.1", env.proxy.tls_port), timeout=10)
        s = context(certs).wrap_socket(raw, server_hostname="127.0.0.1")
        try:
            s.sendall(first + rest)
        except (ConnectionError, ssl.SSLError):
            pass  # the connection ended before all of it was taken
        got = whole_answers(s)
        s.close()
        check(got[:1] == [200], "the first request answered whole: %r" % got[:3])
        check(set(got) == {200}, "every answer whole: %r" % got[-3:])
        check(1 < len(got) < 401, "some pipelined requests answered, the rest left: %d"
              % len(got))
        eq(env.origin.stats()["total"] - before, len(got) - 1,
           "requests that reached the origin, each answered")
