"""t17: the fields that say who the client is are sfproxy's to write. From a client that
is not in trusted_proxies, X-Forwarded-*, Forwarded, X-Original-URL, X-Rewrite-URL and
method overrides are dropped; sfproxy adds X-Forwarded-For and X-Forwarded-Proto (and,
with forwarded_header, RFC 7239 Forwarded). preserve_host sends the client's Host and keys
on it."""
import json

from harness import Env, eq, check

SPOOF = {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Host": "evil.example",
         "X-Forwarded-Proto": "https", "Forwarded": "for=1.2.3.4;host=evil.example",
         "X-Original-URL": "/admin", "X-Rewrite-URL": "/admin", "X-Real-IP": "1.2.3.4",
         "X-HTTP-Method-Override": "DELETE", "X-Kept": "yes"}


def received(r):
    """The request fields the origin received (echo=1), lower-cased names, values joined."""
    eq(r.status, 200, "status")
    out = {}
    for k, v in json.loads(r.body)["headers"]:
        out[k.lower()] = out[k.lower()] + ", " + v if k.lower() in out else v
    return out


def test_untrusted_client_cannot_speak_for_others():
    with Env() as env:
        for method, t in (("GET", "/id?echo=1"), ("POST", "/idp?echo=1")):
            h = received(env.get(t, SPOOF, method=method, body=b"" if method == "POST" else None))
            eq(h.get("x-forwarded-for"), "127.0.0.1", "%s X-Forwarded-For" % method)
            eq(h.get("x-forwarded-proto"), "http", "%s X-Forwarded-Proto" % method)
            for name in ("x-forwarded-host", "forwarded", "x-original-url", "x-rewrite-url",
                         "x-real-ip", "x-http-method-override"):
                check(name not in h, "%s: %s reached the origin: %r" % (method, name, h))
            eq(h.get("x-kept"), "yes", "an ordinary field")


def test_trusted_proxy_fields_are_extended():
    with Env({"trusted_proxies": ["127.0.0.0/8"], "forwarded_header": True}) as env:
        h = received(env.get("/tr?echo=1", SPOOF))
        eq(h.get("x-forwarded-for"), "1.2.3.4, 127.0.0.1", "X-Forwarded-For")
        eq(h.get("x-forwarded-host"), "evil.example", "X-Forwarded-Host of a trusted proxy")
        eq(h.get("x-forwarded-proto"), "https", "X-Forwarded-Proto of a trusted proxy")
        eq(h.get("forwarded"), "for=1.2.3.4;host=evil.example, for=127.0.0.1;proto=http",
           "Forwarded")


def test_forwarded_header_for_an_untrusted_client():
    with Env({"forwarded_header": True}) as env:
        h = received(env.get("/fw?echo=1", SPOOF))
        eq(h.get("forwarded"), "for=127.0.0.1;proto=http", "Forwarded")


def test_preserve_host_sends_and_keys_the_host():
    with Env({"preserve_host": True}) as env:
        a = env.get("/vh?echo=1&cc=max-age=60", {"Host": "a.example"})
        b = env.get("/vh?echo=1&cc=max-age=60", {"Host": "b.example"})
        eq((received(a).get("host"), received(b).get("host")), ("a.example", "b.example"),
           "Host the origin received")
        eq(b.header("X-Cache"), "MISS", "another Host is another key")
        eq(env.get("/vh?echo=1&cc=max-age=60", {"Host": "a.example"}).header("X-Cache"), "HIT",
           "the same Host again")
    with Env() as env:
        h = received(env.get("/vh2?echo=1", {"Host": "a.example"}))
        check(h.get("host", "").startswith("127.0.0.1:"), "Host without preserve_host: %r" % h)
