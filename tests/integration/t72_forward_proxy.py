"""t72: the forward proxy is no open proxy: only forward_proxy.clients may use it, only
toward what forward_proxy.allow lets through; loopback, private and link-local addresses
and sfproxy's own listeners are refused unless listed (checked by name, then again by the
address connected to), and credentials in a target URL are refused."""
import json

from harness import Origin, Proxy, eq, request


def run(config, fn):
    """fn(origin, proxy) against a proxy with config (or config(origin), a function)."""
    o = Origin()
    try:
        p = Proxy(None, config(o) if callable(config) else config)
        try:
            fn(o, p)
        finally:
            eq(p.stop(), 0, "exit code")
    finally:
        o.stop()


def refused(p, o, url, status, what):
    before = o.stats()["total"]
    eq(request(p.port, "GET", url).status, status, what)
    eq(o.stats()["total"], before, "%s: requests that reached the origin" % what)


def test_internal_destinations_refused_by_default():
    def check(o, p):
        refused(p, o, "%s/x" % o.url, 403, "loopback literal, not listed")
        # A name is checked again by the address it resolves to (DNS rebinding).
        refused(p, o, "http://localhost:%d/x" % o.port, 403, "a name resolving to loopback")
        refused(p, o, "http://169.254.169.254/latest/meta-data/", 403, "link-local metadata")
        refused(p, o, "http://10.1.2.3/", 403, "private range")
        eq(p.stats()["forward_refused"], 4, "forward_refused")
    run({"forward_proxy": True}, check)


def test_listed_destinations_and_never_itself():
    def check(o, p):
        r = request(p.port, "GET", "%s/ok?size=5" % o.url)
        eq(r.status, 200, "a listed destination")
        refused(p, o, "http://127.0.0.1:%d/x" % p.port, 403, "sfproxy's own listener")
        refused(p, o, "http://127.0.0.1:%d/_sfproxy/stats" % p.admin_port, 403,
                "sfproxy's admin listener")
        refused(p, o, "http://user:pw@127.0.0.1:%d/x" % o.port, 400, "credentials in the URL")
        refused(p, o, "http://127.0.0.1:%d@127.0.0.1:%d/x" % (o.port, o.port), 400,
                "userinfo that looks like a host")
    run({"forward_proxy": {"allow": ["127.0.0.1"]}}, check)


def test_allow_by_name_does_not_allow_the_address():
    def check(o, p):
        eq(request(p.port, "GET", "http://localhost:%d/n?size=5" % o.port).status, 200,
           "a listed name, even on loopback")
        refused(p, o, "%s/n" % o.url, 403, "the same address, not listed")
        refused(p, o, "http://localhost:%d/n" % (o.port + 1 if o.port < 65535 else 1), 403,
                "the listed name on another port")
    run(lambda o: {"forward_proxy": {"allow": ["localhost:%d" % o.port]}}, check)


def test_only_listed_clients():
    def check(o, p):
        refused(p, o, "%s/c" % o.url, 403, "a client outside forward_proxy.clients")
        eq(request(p.port, "GET", "/c").status, 400, "origin-form without an upstream")
    run({"forward_proxy": {"allow": ["127.0.0.1"], "clients": ["10.0.0.0/8"]}}, check)


def test_off_means_off():
    def check(o, p):
        refused(p, o, "%s/off" % o.url, 400, "forward_proxy off")
    run({"forward_proxy": {"enabled": False, "allow": ["127.0.0.1"]}, "upstream": "http://127.0.0.1:9"}, check)


def test_a_request_that_comes_back_is_a_loop():
    # RFC 8586: sfproxy appends its own CDN-Loop token; a request that already carries it
    # has come back through it (a forward proxy fetching itself by another address).
    def check(o, p):
        r = request(p.port, "GET", "%s/loop?echo=1" % o.url, {"CDN-Loop": "other-cdn"})
        eq(r.status, 200, "status")
        loops = [v for k, v in json.loads(r.body)["headers"] if k.lower() == "cdn-loop"]
        eq(len(loops), 2, "CDN-Loop lines the origin received: %r" % loops)
        eq(loops[0], "other-cdn", "the client's CDN-Loop, kept")
        token = loops[1]
        before = o.stats()["total"]
        eq(request(p.port, "GET", "%s/loop2" % o.url, {"CDN-Loop": "x, " + token}).status, 508,
           "a request carrying this sfproxy's token")
        eq(o.stats()["total"], before, "requests that reached the origin")
    run({"forward_proxy": {"allow": ["127.0.0.1"]}}, check)
