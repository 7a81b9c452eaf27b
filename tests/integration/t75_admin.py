"""t75: the admin listener. With admin.token (or admin.token_file) a purge needs
"Authorization: Bearer TOKEN"; stats stay open on loopback. It has its own small
connection limit and the client idle timeout, and refuses malformed heads too."""
import http.client
import os
import socket
import tempfile

from harness import Env, Proxy, eq, check, request, wait_for, read_until, MULT

TOKEN = "s3cret-token-0123456789"


def purge(env, headers=None):
    return request(env.proxy.admin_port, "POST", "/_sfproxy/purge?url=/p", headers)


def test_purge_needs_the_token():
    with Env({"admin": {"token": TOKEN}}) as env:
        eq(purge(env).status, 401, "purge without a token")
        eq(purge(env, {"Authorization": "Bearer wrong-token-0123456789"}).status, 401,
           "purge with a wrong token")
        eq(purge(env, {"Authorization": "Bearer " + TOKEN[:-1]}).status, 401,
           "purge with a prefix of the token")
        eq(purge(env, {"Authorization": "Bearer " + TOKEN}).status, 200, "purge with the token")
        eq(request(env.proxy.admin_port, "GET", "/_sfproxy/stats").status, 200,
           "stats on loopback without a token")


def test_the_test_clock_is_only_there_when_asked_for_and_needs_the_token():
    clock = "/_sfproxy/clock?advance=5"
    with Env({"admin": {"token": TOKEN}}) as env:
        eq(request(env.proxy.admin_port, "POST", clock).status, 401, "without the token")
        eq(request(env.proxy.admin_port, "POST", "/_sfproxy/clock?advance=x",
                   {"Authorization": "Bearer " + TOKEN}).status, 400, "not a number")
        eq(request(env.proxy.admin_port, "POST", clock,
                   {"Authorization": "Bearer " + TOKEN}).status, 200, "with the token")
    p = Proxy("http://127.0.0.1:9", test_clock=False)
    try:
        eq(request(p.admin_port, "POST", clock).status, 404, "without --test-clock")
    finally:
        eq(p.stop(), 0, "exit code")


def test_token_file():
    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as f:
        f.write(TOKEN + "\n")
    try:
        with Env({"admin": {"token_file": f.name}}) as env:
            eq(purge(env).status, 401, "purge without a token")
            eq(purge(env, {"Authorization": "Bearer " + TOKEN}).status, 200, "with the file's")
    finally:
        os.unlink(f.name)


def test_without_a_token_purge_is_open():
    with Env() as env:
        eq(purge(env).status, 200, "purge without admin.token configured")


def test_admin_connection_limit_and_idle_timeout():
    with Env({"admin": {"connection_limit": 2}, "timeouts": {"client_idle": "1s"}}) as env:
        # Two connections held: one that sends nothing, and one that asks once and then
        # idles. The kernel hands connections to the listener in the order they came,
        # and libmicrohttpd counts each as it accepts it, before reading from it: once
        # the second is answered, both are counted against the limit.
        held = [socket.create_connection(("127.0.0.1", env.proxy.admin_port))]
        asked = http.client.HTTPConnection("127.0.0.1", env.proxy.admin_port, timeout=10 * MULT)
        asked.request("GET", "/_sfproxy/health")
        r = asked.getresponse()
        r.read()
        eq((r.status, r.will_close), (200, False), "the second admin connection's answer")
        held.append(asked.sock)
        extra = socket.create_connection(("127.0.0.1", env.proxy.admin_port))
        extra.settimeout(5 * MULT)
        extra.sendall(b"GET /_sfproxy/stats HTTP/1.1\r\nHost: a\r\n\r\n")
        eq(read_until(extra), b"", "a third admin connection is closed at once")
        extra.close()
        for s in held:  # idle: closed by the timeout, not kept forever
            s.settimeout(10 * MULT)
            eq(read_until(s), b"", "an idle admin connection is closed")
            s.close()
        # The client sees the idle close (libmicrohttpd's shutdown) a moment before the
        # daemon's cleanup gives the place back: a connect in between is refused.
        def stats_answer():
            try:
                return request(env.proxy.admin_port, "GET", "/_sfproxy/stats").status == 200
            except ConnectionError:
                return False
        wait_for(stats_answer, "stats answered once the idle connections were gone")


def test_admin_refuses_malformed_heads():
    with Env() as env:
        s = socket.create_connection(("127.0.0.1", env.proxy.admin_port), timeout=5 * MULT)
        s.sendall(b"POST /_sfproxy/purge?url=/ HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n")
        got = read_until(s)
        s.close()
        check(got.startswith(b"HTTP/1.1 400"), "malformed admin head: %r" % got[:60])
