"""t17: the fields that say who the client is are sfproxy's to write. From a client that
is not in trusted_proxies, X-Forwarded-*, Forwarded, X-Original-URL, X-Rewrite-URL and
method overrides are dropped; sfproxy adds X-Forwarded-For and X-Forwarded-Proto (and,
with forwarded_header, RFC 7239 Forwarded). preserve_host sends the client's Host and keys
on it. A field whose name has "_" is not forwarded at all (nginx's underscores_in_headers
off) unless forward_underscore_fields, and then never one that spells an identity field."""
import json

from harness import Env, Origin, Proxy, eq, check, request

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


# Underscore spellings: Rack, PHP and other CGI-style stacks read X_Forwarded_Host as
# HTTP_X_FORWARDED_HOST, the same variable as X-Forwarded-Host (issue 18).
UNDERSCORED = {"X_Forwarded_Host": "evil.example", "X_Original_URL": "/admin",
               "X_HTTP_Method_Override": "DELETE", "X_Forwarded_Ssl": "on",
               "X-Forwarded_Proto": "https", "X_Host": "evil.example", "My_Field": "mine",
               "X-Kept": "yes"}
ALWAYS_DROPPED = ("x_forwarded_host", "x_original_url", "x_http_method_override",
                  "x_forwarded_ssl", "x-forwarded_proto", "x_host")


def test_underscore_fields_are_not_forwarded_by_default():
    for config in ({}, {"trusted_proxies": ["127.0.0.0/8"]}):
        with Env(config) as env:
            for method, t in (("GET", "/us?echo=1"), ("POST", "/usp?echo=1"),
                              ("OPTIONS", "/uso?echo=1")):
                h = received(env.get(t, UNDERSCORED, method=method,
                                     body=b"" if method == "POST" else None))
                for name in ALWAYS_DROPPED + ("my_field",):
                    check(name not in h, "%s %s: %s reached the origin: %r"
                          % (config, method, name, h))
                eq(h.get("x-kept"), "yes", "an ordinary field")
                eq(h.get("x-forwarded-proto"), "http", "X-Forwarded-Proto (sfproxy's)")


def test_underscore_switch_forwards_only_ordinary_fields():
    for config in ({"forward_underscore_fields": True},
                   {"forward_underscore_fields": True, "trusted_proxies": ["127.0.0.0/8"]}):
        with Env(config) as env:
            for method, t in (("GET", "/uss?echo=1"), ("POST", "/ussp?echo=1")):
                h = received(env.get(t, UNDERSCORED, method=method,
                                     body=b"" if method == "POST" else None))
                for name in ALWAYS_DROPPED:
                    check(name not in h, "%s %s: %s reached the origin: %r"
                          % (config, method, name, h))
                eq(h.get("my_field"), "mine", "%s %s: an ordinary underscore field"
                   % (config, method))


def test_new_identity_fields_are_dropped():
    fields = {"X-Forwarded-Ssl": "on", "Front-End-Https": "on", "X-Original-URI": "/admin",
              "X-Forwarded-Uri": "/admin", "X-Forwarded-Path": "/admin",
              "X-Envoy-Original-Path": "/admin", "X-Middleware-Subrequest": "middleware",
              "X-Url-Scheme": "https", "X-Forwarded-Protocol": "https", "Client-IP": "1.2.3.4",
              "X-Cluster-Client-IP": "1.2.3.4", "X-Kept": "yes"}
    with Env() as env:
        h = received(env.get("/nid?echo=1", fields))
        for name in fields:
            if name != "X-Kept":
                check(name.lower() not in h, "%s reached the origin: %r" % (name, h))
        eq(h.get("x-kept"), "yes", "an ordinary field")
    with Env({"trusted_proxies": ["127.0.0.0/8"]}) as env:
        h = received(env.get("/nid?echo=1", fields))
        eq(h.get("x-middleware-subrequest"), "middleware", "from a trusted proxy")


def test_a_client_field_that_is_not_sent_selects_no_variant():
    # The response varies on X-Forwarded-Proto: what the origin got is sfproxy's value, so
    # a client's own X-Forwarded-Proto must not pick the variant either.
    with Env() as env:
        t = "/vp?echo=1&cc=max-age=60&vary=X-Forwarded-Proto"
        eq(env.get(t).header("X-Cache"), "MISS", "first")
        env.wait_stored()
        r = env.get(t, {"X-Forwarded-Proto": "https"})
        eq(r.header("X-Cache"), "HIT", "a spoofed X-Forwarded-Proto: the http variant")
        eq(received(r).get("x-forwarded-proto"), "http", "what the stored variant was sent")
        eq(env.get(t).header("X-Cache"), "HIT", "again without it")
        eq(env.origin.count(t), 1, "origin requests")


def test_the_forward_proxy_drops_them_too():
    o = Origin()
    try:
        p = Proxy(None, {"forward_proxy": {"allow": ["127.0.0.1"]}})
        try:
            h = received(request(p.port, "GET", "%s/fp?echo=1" % o.url, UNDERSCORED))
            for name in ALWAYS_DROPPED + ("my_field",):
                check(name not in h, "forward proxy: %s reached the origin: %r" % (name, h))
            eq(h.get("x-kept"), "yes", "an ordinary field")
            r = request(p.port, "OPTIONS", "%s/fp?echo=1" % o.url, {"Max-Forwards": "0"})
            eq(r.status, 200, "forward proxy: OPTIONS with Max-Forwards: 0")
            eq(o.stats()["total"], 1, "origin requests")
        finally:
            eq(p.stop(), 0, "exit code")
    finally:
        o.stop()
