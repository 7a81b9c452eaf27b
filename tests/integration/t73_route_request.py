"""t73: routes applied to requests (issue 20), the request's side: a pass route, a route's
upstream and strip_prefix, the route's cache key (query dropped, kept, sorted; header
fields; cookies, narrowed upstream too; the host of a host-matched route), the route's
normalize_accept_encoding, client_cache_control and response_headers on what clients
receive (HIT, streamed MISS, COLLAPSED, 304, HEAD), route= in the access log, and requests
counted by route in /stats and /metrics (promtool), across a reload. Against the real
origin (two of them for a route's own upstream)."""
import email.utils
import json
import os
import subprocess
import tempfile

from harness import Env, Origin, Proxy, check, eq, parallel, request, wait_for

CC60 = "cc=max-age%3D60"


def echoed(resp):
    """The request the origin received (echo=1): its path and fields by lower-case name."""
    e = json.loads(resp.body)
    fields = {}
    for k, v in e["headers"]:
        fields.setdefault(k.lower(), []).append(v)
    return e["path"], fields


def routes_env(routes, **config):
    return Env(dict(config, routes=routes))


def test_a_pass_route_never_stores_nor_collapses():
    routes = [{"name": "account", "match": {"path_prefix": "/account/"}, "pass": True}]
    with routes_env(routes) as env:
        t = "/account/orders?delay_ms=400&" + CC60
        res = parallel(2, lambda i: env.get(t))
        eq([r.status for r in res], [200, 200], "statuses")
        eq([r.header("X-Cache") for r in res], ["PASS", "PASS"], "X-Cache")
        eq(env.origin.count(t), 2, "each request went upstream on its own")
        again = env.get(t)
        eq((again.status, again.header("X-Cache")), (200, "PASS"), "a third, later")
        eq(env.origin.count(t), 3, "nothing was stored: the third went upstream too")
        head = env.get(t, method="HEAD")
        eq((head.status, head.header("X-Cache")), (200, "PASS"), "a HEAD")
        eq(env.origin.count(t), 4, "the HEAD too")
        st = env.proxy.stats()
        eq((st["cache"]["objects"], st["passes"]), (0, 4), "nothing stored, four passes")
        oic = env.get(t, {"Cache-Control": "only-if-cached"})
        eq((oic.status, env.origin.count(t)), (504, 4),
           "only-if-cached: nothing stored can answer it, and it does not go upstream")
        # A path no route takes is cached as ever.
        env.get("/public?" + CC60)
        env.wait_stored()
        eq(env.get("/public?" + CC60).header("X-Cache"), "HIT", "an unrouted path is cached")


def test_a_route_upstream_and_strip_prefix():
    other = Origin()
    try:
        with routes_env([{"name": "api", "match": {"path_prefix": "/v1/"},
                          "upstream": other.url, "strip_prefix": True}],
                        forward_proxy={"allow": ["127.0.0.1"]}) as env:
            r = env.get("/v1/users?echo=1&id=3&" + CC60)
            eq(r.status, 200, "status")
            path, _ = echoed(r)
            eq(path, "/users?echo=1&id=3&" + CC60, "the route's origin saw the stripped path")
            eq((other.stats()["total"], env.origin.stats()["total"]), (1, 0),
               "fetched from the route's upstream, not the top level's")
            env.wait_stored()
            hit = env.get("/v1/users?echo=1&id=3&" + CC60)
            eq((hit.header("X-Cache"), hit.body), ("HIT", r.body), "stored under the URL fetched")
            # The same stripped path on the top level's upstream is another URL: another key.
            plain = env.get("/users?echo=1&id=3&" + CC60)
            eq(plain.header("X-Cache"), "MISS", "the top-level upstream's /users is not the route's")
            eq(env.origin.count("/users?echo=1&id=3&" + CC60), 1, "fetched from the top level's")
            # A forward proxy's absolute-form request goes where its URL says, unstripped,
            # even when the route's match fits it.
            fwd = request(env.proxy.port, "GET",
                          "%s/v1/fwd?echo=1" % env.origin.url)
            eq(fwd.status, 200, "the forward request's status")
            eq(echoed(fwd)[0], "/v1/fwd?echo=1", "a forward request is neither redirected nor "
                                                "stripped")
            eq(other.count("/fwd?echo=1"), 0, "the route's upstream was not asked")
    finally:
        other.stop()


def test_key_query_drop_keep_sort():
    routes = [
        {"name": "drop", "match": {"path_prefix": "/d/"},
         "key": {"query": {"drop": ["utm_*", "fbclid"]}}},
        {"name": "keep", "match": {"path_prefix": "/k/"},
         "key": {"query": {"keep": ["id", "cc"]}}},
        {"name": "sort", "match": {"path_prefix": "/s/"}, "key": {"sort_query": True}},
        {"name": "none", "match": {"path_prefix": "/n/"}, "key": {"query": "none"}},
    ]
    with routes_env(routes) as env:
        def run(first, same, other):
            a = env.get(first)
            eq(a.header("X-Cache"), "MISS", "first %s" % first)
            wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
            b = env.get(same)
            eq((b.header("X-Cache"), b.body), ("HIT", a.body),
               "%s shares %s's object" % (same, first))
            eq(env.get(other).header("X-Cache"), "MISS", "%s is another object" % other)
        run("/d/a?id=1&utm_source=x&" + CC60, "/d/a?id=1&fbclid=y&utm_medium=z&" + CC60,
            "/d/a?id=2&utm_source=x&" + CC60)
        run("/k/a?id=1&x=1&" + CC60, "/k/a?x=2&id=1&" + CC60, "/k/a?id=2&x=1&" + CC60)
        run("/s/a?b=1&a=2&" + CC60, "/s/a?a=2&" + CC60 + "&b=1", "/s/a?b=2&a=1&" + CC60)
        eq(env.origin.stats()["total"], 6, "one origin request per object")
        # "none": the query is not in the key, and still goes upstream as sent.
        a = env.get("/n/a?echo=1&v=1&" + CC60)
        eq(echoed(a)[0], "/n/a?echo=1&v=1&" + CC60, "the query went upstream as received")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get("/n/a?v=2").header("X-Cache"), "HIT", "any query shares the object")


def test_key_headers():
    routes = [{"name": "dev", "match": {"path_prefix": "/dev/"}, "key": {"headers": ["X-Device"]}}]
    with routes_env(routes) as env:
        t = "/dev/page?" + CC60
        eq(env.get(t, {"X-Device": "mobile"}).header("X-Cache"), "MISS", "mobile")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get(t, {"X-Device": "desktop"}).header("X-Cache"), "MISS", "desktop: its own")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get(t, {"X-Device": "mobile"}).header("X-Cache"), "HIT", "mobile again")
        eq(env.get(t).header("X-Cache"), "MISS", "no X-Device: another object")
        eq(env.origin.count(t), 3, "three objects, three origin requests")
        # Authorization stays in every key, whatever the rule adds or drops.
        t = "/dev/auth?cc=public,max-age%3D60"
        dev = {"X-Device": "mobile"}
        eq(env.get(t, dict(dev, Authorization="Bearer a")).header("X-Cache"), "MISS", "user a")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get(t, dict(dev, Authorization="Bearer b")).header("X-Cache"), "MISS", "user b")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get(t, dict(dev, Authorization="Bearer a")).header("X-Cache"), "HIT", "user a again")


def test_key_cookies_split_the_key_and_narrow_what_is_sent():
    routes = [{"name": "ab", "match": {"path_exact": "/landing"},
               "key": {"cookies": ["ab_bucket"]}}]
    with routes_env(routes) as env:
        t = "/landing?echo=1&vary=Cookie&" + CC60
        a = env.get(t, {"Cookie": "session=abc; ab_bucket=A; _ga=GA1.2"})
        eq(a.header("X-Cache"), "MISS", "bucket A, first")
        eq(echoed(a)[1].get("cookie"), ["ab_bucket=A"], "only the keyed cookie was sent")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        # Another session in the same bucket: the same key, and the same variant, since
        # the response varies on the Cookie the origin was sent (narrowed).
        a2 = env.get(t, {"Cookie": "ab_bucket=A; session=zzz"})
        eq((a2.header("X-Cache"), a2.body), ("HIT", a.body), "bucket A, another session")
        b = env.get(t, {"Cookie": "session=abc; ab_bucket=B"})
        eq(b.header("X-Cache"), "MISS", "bucket B is another object")
        eq(echoed(b)[1].get("cookie"), ["ab_bucket=B"], "bucket B's cookie alone")
        none = env.get(t, {"Cookie": "session=abc"})
        eq(none.header("X-Cache"), "MISS", "no bucket: another object")
        eq(echoed(none)[1].get("cookie"), None, "no Cookie at all was sent")
        # Not a shared fetch (a POST): narrowed all the same.
        post = env.get("/landing?echo=1", {"Cookie": "session=abc; ab_bucket=A"}, method="POST",
                       body=b"x")
        eq(echoed(post)[1].get("cookie"), ["ab_bucket=A"], "a POST's cookies, narrowed")
        eq(env.origin.stats()["total"], 4, "origin requests")


def test_a_host_route_keeps_hosts_apart():
    routes = [{"name": "site-a", "match": {"host": "a.example"}},
              {"name": "site-b", "match": {"host": "*.b.example"}}]
    with routes_env(routes) as env:
        t = "/page?" + CC60
        a = env.get(t, {"Host": "a.example"})
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        b = env.get(t, {"Host": "www.b.example"})
        eq((a.header("X-Cache"), b.header("X-Cache")), ("MISS", "MISS"),
           "two sites on one upstream URL: two objects")
        check(a.body != b.body, "two origin responses")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get(t, {"Host": "a.example"}).body, a.body, "a.example's again")
        eq(env.get(t, {"Host": "www.b.example"}).header("X-Cache"), "HIT", "www.b.example's again")
        eq(env.origin.count(t), 2, "origin requests")


def test_a_route_normalizes_accept_encoding():
    routes = [{"name": "norm", "match": {"path_prefix": "/z/"},
               "cache": {"normalize_accept_encoding": True}}]
    with routes_env(routes, cache={"normalize_accept_encoding": False}) as env:
        ae = {"Accept-Encoding": "br, gzip;q=0.9, deflate"}
        routed = echoed(env.get("/z/a?echo=1&" + CC60, ae))[1]
        eq(routed.get("accept-encoding"), ["br, gzip"], "the route's fetch, normalised")
        plain = echoed(env.get("/a?echo=1&" + CC60, ae))[1]
        eq(plain.get("accept-encoding"), [ae["Accept-Encoding"]], "the top level's, as sent")
        # Responses that vary on it: clients accepting the same codings are one variant.
        t = "/z/v?vary=Accept-Encoding&" + CC60
        eq(env.get(t, {"Accept-Encoding": "gzip, br"}).header("X-Cache"), "MISS", "first")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
        eq(env.get(t, {"Accept-Encoding": "br;q=0.5, deflate, gzip"}).header("X-Cache"), "HIT",
           "another client accepting br and gzip")


def test_client_cache_control_and_response_headers():
    routes = [{"name": "static", "match": {"path_prefix": "/s/"},
               "client_cache_control": "public, max-age=300",
               "response_headers": {"set": {"X-Frame-Options": "DENY", "X-Route": "static"},
                                    "remove": ["X-Secret", "Server"]}}]

    def client_view(r, what, status=200):
        eq(r.status, status, "%s: status" % what)
        names = [k.lower() for k, _ in r.headers]
        eq(r.header("Cache-Control"), "public, max-age=300", "%s: Cache-Control" % what)
        eq(names.count("cache-control"), 1, "%s: one Cache-Control" % what)
        eq(r.header("X-Frame-Options"), "DENY", "%s: set" % what)
        eq(names.count("x-frame-options"), 1, "%s: set replaces the origin's" % what)
        eq(r.header("X-Route"), "static", "%s: set adds" % what)
        eq((r.header("X-Secret"), r.header("Server")), (None, None), "%s: removed" % what)
        eq((r.header("Age"), r.header("Expires")), (None, None),
           "%s: no Age or Expires to shorten the client's lifetime" % what)
        eq(names.count("date"), 1, "%s: one Date" % what)
        return email.utils.parsedate_to_datetime(r.header("Date")).timestamp()

    with routes_env(routes) as env:
        q = ("/s/app.js?cc=max-age%3D86400&etag=v1&hdr=X-Secret:1&hdr=X-Frame-Options:SAMEORIGIN"
             "&hdr=Expires:Thu,%2001%20Jan%202037%2000:00:00%20GMT")
        res = parallel(3, lambda i: env.get(q + "&delay_ms=300&chunks=4&chunk_delay_ms=50"))
        eq(sorted(r.header("X-Cache") for r in res), ["COLLAPSED", "COLLAPSED", "MISS"],
           "one streamed miss, two followers")
        for r in res:
            client_view(r, "streamed %s" % r.header("X-Cache"))
        t = q + "&delay_ms=300&chunks=4&chunk_delay_ms=50"
        env.wait_stored()
        origin_date = env.get(t).header("Date")
        env.advance_clock(100)
        hit = env.get(t)
        eq(hit.header("X-Cache"), "HIT", "a day's max-age from the origin: still stored")
        sent = client_view(hit, "HIT")
        check(sent >= email.utils.parsedate_to_datetime(origin_date).timestamp() + 100,
              "the HIT's Date is the time it was sent, not the origin's: %s vs %s"
              % (hit.header("Date"), origin_date))
        client_view(env.get(t, method="HEAD"), "HEAD")
        client_view(env.get(t, {"If-None-Match": '"v1"'}), "304", status=304)
        eq(env.origin.count(t), 1, "one origin request for all of them")
        # Not on a path the route does not take.
        plain = env.get("/p?hdr=X-Secret:1&" + CC60)
        eq((plain.header("X-Secret"), plain.header("Cache-Control")), ("1", "max-age=60"),
           "an unrouted response as the origin sent it")
        # sfproxy's own answers are not the origin's: not changed.
        env.origin.stop()
        err = env.get("/s/down?x=1")
        eq((err.status, err.header("Cache-Control"), err.header("X-Route")), (502, None, None),
           "sfproxy's own 502")


def routed_log(fmt, path):
    return {"access_log": {"path": path, "format": fmt}}


def test_access_log_names_the_route():
    routes = [{"name": "api.v1", "match": {"path_prefix": "/api/"}}]
    for fmt in ("combined", "json"):
        fd, path = tempfile.mkstemp(prefix="sfproxy-t73-", suffix=".log")
        os.close(fd)
        try:
            with routes_env(routes, **routed_log(fmt, path)) as env:
                env.get("/api/x?size=5")
                env.get("/other?size=5")
                wait_for(lambda: len(open(path).read().splitlines()) >= 2, "two lines")
                lines = open(path).read().splitlines()
                if fmt == "combined":
                    check(" route=api.v1 " in lines[0], "a routed line: %r" % lines[0])
                    check(" route=- " in lines[1], "an unrouted line: %r" % lines[1])
                else:
                    got = [json.loads(l)["route"] for l in lines]
                    eq(got, ["api.v1", None], "JSON route")
        finally:
            os.unlink(path)


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def test_requests_counted_by_route_across_a_reload():
    routes = [{"name": "api", "match": {"path_prefix": "/api/"}},
              {"name": "account", "match": {"path_prefix": "/account/"}, "pass": True}]
    with routes_env(routes) as env:
        env.get("/api/a?" + CC60)
        env.wait_stored()
        env.get("/api/a?" + CC60)
        env.get("/account/me")
        env.get("/account/me")
        env.get("/elsewhere")
        wait_for(lambda: env.proxy.stats()["connections_now"] == 0, "every request over")
        st = env.proxy.stats()["routes"]
        eq(sorted(st), ["account", "api"], "routes counted (no entry for requests of none)")
        eq((st["api"]["MISS"], st["api"]["HIT"], st["api"]["PASS"]), (1, 1, 0), "api's")
        eq((st["account"]["PASS"], st["account"]["HIT"]), (2, 0), "account's")
        text = request(env.proxy.admin_port, "GET", "/metrics").body.decode()
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=30)
        eq((lint.returncode, lint.stdout + lint.stderr), (0, ""), "promtool check metrics")
        for series, want in (('{route="api",cache="MISS"}', 1), ('{route="api",cache="HIT"}', 1),
                             ('{route="account",cache="PASS"}', 2),
                             ('{route="account",cache="MISS"}', 0)):
            eq(metric(text, "sfproxy_route_requests_total" + series), want, series)
        # A reload replaces the routes: a name kept keeps counting; a new name starts at 0;
        # the one gone keeps its last counts.
        cfg = dict(env.proxy.cfg)
        cfg["routes"] = [{"name": "api", "match": {"path_prefix": "/api/"}},
                         {"name": "me", "match": {"path_prefix": "/account/"}, "pass": True}]
        env.proxy.reload(cfg)
        env.get("/api/a?" + CC60)
        env.get("/account/me")
        wait_for(lambda: env.proxy.stats()["connections_now"] == 0, "every request over")
        st = env.proxy.stats()["routes"]
        eq((st["api"]["HIT"], st["me"]["PASS"], st["account"]["PASS"]), (2, 1, 2),
           "counts by name across the reload")


def test_a_route_may_ignore_request_directives():
    """apt asks for indexes with max-age=0: on a route that ignores request directives a
    stored response answers it; elsewhere the client's max-age=0 sends it upstream again."""
    routes = [{"name": "pool", "match": {"path_prefix": "/pool/"},
               "cache": {"force_ttl": "1h", "ignore_request_directives": True}},
              {"name": "dists", "match": {"path_prefix": "/dists/"},
               "cache": {"force_ttl": "1h"}}]
    with routes_env(routes) as env:
        def settle():
            wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flight ended")
        for t, ignored in (("/pool/a.deb", True), ("/dists/Release", False)):
            eq(env.get(t).header("X-Cache"), "MISS", t + ": the first")
            settle()
            for directive in ("max-age=0", "no-cache", "min-fresh=7200"):
                env.advance_clock(10)  # older than max-age=0 allows
                r = env.get(t, {"Cache-Control": directive})
                want = "HIT" if ignored else "MISS"
                eq((r.status, r.header("X-Cache")), (200, want), "%s with %s" % (t, directive))
                settle()
            env.advance_clock(10)
            eq(env.get(t, {"Pragma": "no-cache"}).header("X-Cache"),
               "HIT" if ignored else "MISS", t + " with Pragma: no-cache")
            settle()
            eq(env.origin.count(t), 1 if ignored else 5, t + ": origin requests")
        # only-if-cached is still obeyed: nothing stored, nothing fetched.
        oic = env.get("/pool/b.deb", {"Cache-Control": "only-if-cached"})
        eq((oic.status, env.origin.count("/pool/b.deb")), (504, 0), "only-if-cached")


def test_client_cache_control_never_shares_what_the_origin_kept_for_one_user():
    """A route's client_cache_control ("public, max-age=300") must not tell a shared cache
    in front to keep a response sfproxy itself does not share (private, Set-Cookie, a
    pass); a stricter one (no-store) still replaces the origin's."""
    routes = [{"name": "site", "match": {"path_prefix": "/s/"},
               "client_cache_control": "public, max-age=300"},
              {"name": "acct", "match": {"path_prefix": "/acct/"}, "pass": True,
               "client_cache_control": "no-store"}]
    with routes_env(routes) as env:
        mine = env.get("/s/me?cc=private&set_cookie=1", {"Cookie": "sess=alice"})
        eq(mine.status, 200, "status")
        check("private" in (mine.header("Cache-Control") or ""),
              "one user's response keeps the origin's Cache-Control: %r"
              % mine.header("Cache-Control"))
        check(mine.header("Set-Cookie") is not None, "and its Set-Cookie, for that user")
        shared = env.get("/s/page?" + CC60)
        eq(shared.header("Cache-Control"), "public, max-age=300", "a shared response's")
        acct = env.get("/acct/x?" + CC60)
        eq((acct.header("X-Cache"), acct.header("Cache-Control")), ("PASS", "no-store"),
           "a pass route's stricter Cache-Control replaces the origin's")
