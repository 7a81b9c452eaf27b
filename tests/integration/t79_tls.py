"""t79: the HTTPS listener (tls.listen): TLS 1.2 and 1.3 only, the same cache and flights as
plain HTTP, X-Forwarded-Proto https, and its plaintext checked as strictly as a plain
connection's. Certificates are made here with openssl."""
import http.client
import json
import os
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
