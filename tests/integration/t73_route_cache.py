"""t73: a route's cache rule and settings applied where responses are judged and stored
(issue 20): a route's ttl for an origin that says nothing (one origin request for a
thousand clients over it), force_ttl over the origin's own lifetime, ttl per status, the
origin directives a route ignores (Set-Cookie removed from what is stored and served), and
the per-route timeouts, hit_for_pass, max_object_bytes, stale windows, heuristic and
store_server_errors, each beside a path no route takes, which keeps the top level's."""
import http.client

from harness import MULT, Env, check, eq, parallel, wait_for


def route(name, prefix, **rest):
    r = {"name": name, "match": {"path_prefix": prefix}}
    r.update(rest)
    return r


def env_with(routes, **top):
    cfg = dict(top)
    cfg["routes"] = routes
    return Env(cfg)


def test_an_ignored_cookie_never_reaches_a_stored_post_response():
    # A POST's response stored for GETs of its URL (cache.store_post_responses) on a route
    # that ignores Set-Cookie: its client keeps the cookie, the stored copy has none.
    routes = [route("ck", "/ck/", cache={"ignore": ["set-cookie"]})]
    with env_with(routes, cache={"store_post_responses": True}) as env:
        t = "/ck/p?set_cookie=1&self_location=1&cc=max-age%3D60&size=10"
        p = env.get(t, method="POST", body=b"x")
        eq((p.status, p.header("X-Cache")), (200, "PASS"), "the POST")
        check(p.header("Set-Cookie") is not None, "the POST's client keeps its cookie")
        r = stored_again(env, t, 1)
        eq((r.header("X-Cache"), r.body, r.header("Set-Cookie")), ("HIT", p.body, None),
           "the GET served the stored POST response, without the POST client's cookie")


def test_a_post_response_is_stored_where_the_gets_route_looks():
    # A POST that a GET-only route leaves to the top level: its response stored for GETs
    # (cache.store_post_responses) goes under the key a GET takes on its own route (here
    # with the route's key.headers), not under the POST's (issue 20's review).
    routes = [route("reads", "/r/", match={"path_prefix": "/r/", "methods": ["GET", "HEAD"]},
                    key={"headers": ["X-Device"]})]
    with env_with(routes, cache={"store_post_responses": True}) as env:
        t = "/r/p?self_location=1&cc=max-age%3D60&size=10"
        p = env.get(t, {"X-Device": "m"}, method="POST", body=b"x")
        eq((p.status, p.header("X-Cache")), (200, "PASS"), "the POST")
        env.wait_stored(1)
        r = env.get(t, {"X-Device": "m"})
        eq((r.header("X-Cache"), r.body), ("HIT", p.body), "a GET gets the POST's response")
        eq(env.origin.count(t), 1, "origin requests")


def test_a_post_with_its_whole_cookie_updates_no_get_keyed_on_fewer_cookies():
    # The GET route keys on the "ab" cookie alone and sends only it; a POST on no route
    # sent the origin its whole Cookie (a session), so its response may be that user's:
    # it must not become the GET every "ab=1" client gets.
    routes = [route("reads", "/c/", match={"path_prefix": "/c/", "methods": ["GET", "HEAD"]},
                    key={"cookies": ["ab"]})]
    with env_with(routes, cache={"store_post_responses": True}) as env:
        t = "/c/p?self_location=1&cc=max-age%3D60&size=10"
        p = env.get(t, {"Cookie": "ab=1; session=alice"}, method="POST", body=b"x")
        eq((p.status, p.header("X-Cache")), (200, "PASS"), "the POST")
        settled(env)
        r = env.get(t, {"Cookie": "ab=1; session=bob"})
        eq(r.header("X-Cache"), "MISS", "another user's GET is not given the POST's response")
        check(r.body != p.body, "the origin's own answer for it")


def test_a_head_reaches_the_get_of_a_route_that_leaves_head_out():
    # A HEAD sent to the origin (RFC 9111 §4.3.5) on no route, where a GET-only route
    # stores the GET under its key rule: a HEAD that names another ETag makes that stored
    # GET stale, found under the GET's key, not the HEAD's own.
    routes = [route("reads", "/h/", match={"path_prefix": "/h/", "methods": ["GET"]},
                    key={"headers": ["X-Device"]})]
    with env_with(routes) as env:
        t = "/h/inv?etag_changes=1&cc=max-age=600&size=30"
        dev = {"X-Device": "m"}
        first = env.get(t, dev)
        env.wait_stored(1)
        eq(env.get(t, dev).header("X-Cache"), "HIT", "the GET stored")
        head = env.get(t, dict(dev, **{"Cache-Control": "no-cache, no-store"}), method="HEAD")
        eq((head.status, head.header("X-Cache")), (200, "PASS"), "the HEAD went to the origin")
        r = env.get(t, dev)
        check(r.header("X-Cache") != "HIT", "a GET after a HEAD with another ETag is no HIT: %s"
              % r.header("X-Cache"))
        check(r.body != first.body, "the origin's new response")


def settled(env):
    """Waits until no flight is left: a response not stored is then known not to be."""
    wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flights to end")


def stored_again(env, target, n):
    """Requests target once more after n objects are stored; returns the response."""
    env.wait_stored(n)
    return env.get(target)


def test_route_ttl_for_an_origin_that_says_nothing():
    # No Cache-Control, Expires or Last-Modified: with a route's ttl the response is stored
    # (a HIT with Age), and one origin request serves 1000 requests over the ttl.
    with env_with([route("api", "/api/", cache={"ttl": "60s"})]) as env:
        t = "/api/users?size=200"
        first = env.get(t)
        eq((first.status, first.header("X-Cache")), (200, "MISS"), "the first request")
        for field in ("Cache-Control", "Expires", "Last-Modified"):
            eq(first.header(field), None, "the origin sends no %s" % field)
        again = stored_again(env, t, 1)
        eq((again.header("X-Cache"), again.body), ("HIT", first.body), "the second request")
        check(again.header("Age") is not None, "a HIT carries Age")
        env.advance_clock(30)
        later = env.get(t)
        eq(later.header("X-Cache"), "HIT", "30 s later, within the ttl")
        check(int(later.header("Age")) >= 30, "Age counts the 30 s: %s" % later.header("Age"))
        env.advance_clock(31)  # past the ttl: fetched again
        after = env.get(t)
        eq(after.header("X-Cache"), "MISS", "past the ttl")
        check(after.body != first.body, "a new response from the origin")
        eq(env.origin.count(t), 2, "origin requests for the route's key")
        # A path no route takes keeps the top level's rules: nothing to store.
        env.get("/other?size=10")
        settled(env)
        eq(env.get("/other?size=10").header("X-Cache"), "MISS", "no route: not stored")
        eq(env.origin.count("/other?size=10"), 2, "origin requests without a route")


def test_one_origin_request_for_a_thousand_clients_over_the_ttl():
    with env_with([route("api", "/api/", cache={"ttl": "60s"})]) as env:
        t = "/api/list?size=1000&delay_ms=300"

        def client(i):
            conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=30 * MULT)
            bodies = set()
            for _ in range(20):
                conn.request("GET", t)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    return ("status", r.status)
                bodies.add(body)
            conn.close()
            return bodies
        results = parallel(50, client)
        bad = [r for r in results if not isinstance(r, set)]
        eq(bad, [], "clients that failed")
        bodies = set().union(*results)
        eq(len(bodies), 1, "distinct bodies over 1000 requests")
        eq(env.origin.count(t), 1, "origin requests for 1000 requests (50 clients x 20)")
        env.advance_clock(61)
        eq(env.get(t).header("X-Cache"), "MISS", "past the ttl")
        eq(env.origin.count(t), 2, "one new fetch after the ttl")


def test_force_ttl_over_the_origin_s_lifetime():
    routes = [route("forced", "/forced/", cache={"force_ttl": "60s"}),
              route("forced_nc", "/nc/", cache={"force_ttl": "60s", "ignore": ["no-cache"]})]
    with env_with(routes) as env:
        cases = [("/forced/a?cc=max-age%3D0", "max-age=0"),
                 ("/forced/b?cc=max-age%3D5", "max-age=5, shorter"),
                 ("/nc/c?cc=no-cache", "no-cache, ignored")]
        for i, (t, what) in enumerate(cases):
            first = env.get(t)
            again = stored_again(env, t, i + 1)
            eq((again.header("X-Cache"), again.body), ("HIT", first.body), what)
        env.advance_clock(30)  # past max-age=5, within force_ttl
        for t, what in cases:
            eq(env.get(t).header("X-Cache"), "HIT", "%s: 30 s later" % what)
            eq(env.origin.count(t), 1, "%s: origin requests" % what)
        # force_ttl sets the lifetime only: no-cache still means validate before each use.
        t = "/forced/d?cc=no-cache&etag=v1"
        env.get(t)
        env.wait_stored(4)
        r = env.get(t)
        eq(r.header("X-Cache"), "REVALIDATED", "no-cache without ignore: validated")
        # Without a route the origin's max-age=0 stands.
        t = "/top?cc=max-age%3D0&etag=v2"
        env.get(t)
        env.wait_stored(5)
        env.get(t)
        eq(env.origin.count(t), 2, "no route: max-age=0 is revalidated every time")


def test_ttl_per_status():
    routes = [route("st", "/st/", cache={"ttl": {"200": "10s", "404": "60s", "any": "30s"}}),
              route("plain", "/plain/", cache={"ttl": "60s"})]
    with env_with(routes) as env:
        ok, missing, forbidden = "/st/ok?size=20", "/st/gone?status=404", "/st/f?status=403"
        for i, t in enumerate((ok, missing, forbidden)):
            env.get(t)
            eq(stored_again(env, t, i + 1).header("X-Cache"), "HIT", "%s stored" % t)
        env.advance_clock(11)  # past 200's ttl only
        eq(env.get(ok).header("X-Cache"), "MISS", "200 past its 10 s")
        eq(env.get(missing).header("X-Cache"), "HIT", "404 within its 60 s")
        eq(env.get(forbidden).header("X-Cache"), "HIT", "403 within any's 30 s")
        env.advance_clock(20)  # 31 s: past "any"
        eq(env.get(forbidden).header("X-Cache"), "MISS", "403 past any's 30 s")
        eq(env.get(missing).header("X-Cache"), "HIT", "404 still within its 60 s")
        eq([env.origin.count(t) for t in (ok, missing, forbidden)], [2, 1, 2], "origin requests")
        # A plain duration covers only the statuses cacheable by default: not 403.
        t = "/plain/f?status=403"
        env.get(t)
        settled(env)
        env.get(t)
        eq(env.origin.count(t), 2, "a plain ttl does not store a 403")


def test_ignored_directives_store_and_set_cookie_is_removed():
    routes = [route("ns", "/ns/", cache={"ttl": "60s", "ignore": ["no-store"]}),
              route("pv", "/pv/", cache={"ttl": "60s", "ignore": ["private"]}),
              route("ck", "/ck/", cache={"ttl": "60s", "ignore": ["set-cookie"]}),
              route("plain", "/plain/", cache={"ttl": "60s"})]
    with env_with(routes) as env:
        cases = [("ns", "?cc=no-store"), ("pv", "?cc=private"), ("ck", "?set_cookie=1")]
        for i, (name, query) in enumerate(cases):
            t = "/%s/x%s" % (name, query)
            first = env.get(t)
            again = stored_again(env, t, i + 1)
            eq((again.header("X-Cache"), again.body), ("HIT", first.body), "%s stored" % t)
            eq(env.origin.count(t), 1, "%s: origin requests" % t)
            if name == "ck":
                eq(first.header("Set-Cookie"), None, "Set-Cookie removed from the first client's")
                eq(again.header("Set-Cookie"), None, "and from the stored response")
        # The same responses on a route that ignores nothing are not stored.
        for name, query in cases:
            t = "/plain/x" + query
            first = env.get(t)
            settled(env)
            eq(env.get(t).header("X-Cache") in ("MISS", "PASS"), True, "%s not stored" % t)
            eq(env.origin.count(t), 2, "%s: origin requests" % t)
            if "set_cookie" in query:
                check(first.header("Set-Cookie") is not None, "Set-Cookie passed on: %r" % first)
        eq(env.proxy.stats()["cache"]["objects"], 3, "objects stored")


def test_route_first_byte_timeout():
    routes = [route("quick", "/quick/", timeouts={"first_byte": "1s"})]
    with env_with(routes, timeouts={"first_byte": "10s"}) as env:
        r = env.get("/quick/a?delay_ms=2500")
        eq(r.status, 504, "the route's first_byte (1 s) before a 2.5 s head")
        r = env.get("/top/a?delay_ms=2500")
        eq(r.status, 200, "the top level's first_byte (10 s) waits for it")


def test_route_upstream_idle_timeout():
    routes = [route("quick", "/quick/", timeouts={"upstream_idle": "1s"})]
    with env_with(routes, timeouts={"upstream_idle": "10s"}) as env:
        stall = "?size=4000&chunks=2&chunk_delay_ms=2500&cc=max-age%3D60"
        r = env.get("/quick/b" + stall)
        check(r.error is not None and len(r.body) < 4000,
              "the route's upstream_idle (1 s) cuts a 2.5 s stall: %r" % r)
        r = env.get("/top/b" + stall)
        eq((r.status, len(r.body), r.error), (200, 4000, None), "the top level's waits")


def test_route_hit_for_pass():
    routes = [route("long", "/long/", cache={"hit_for_pass": "1h"})]
    with env_with(routes, cache={"hit_for_pass": "1s"}) as env:
        for t in ("/long/p?cc=private", "/top/p?cc=private"):
            eq(env.get(t).header("X-Cache"), "MISS", "%s: the first" % t)
            eq(env.get(t).header("X-Cache"), "PASS", "%s: marked hit-for-pass" % t)
        env.advance_clock(2)
        eq(env.get("/long/p?cc=private").header("X-Cache"), "PASS", "the route's 1 h marker")
        eq(env.get("/top/p?cc=private").header("X-Cache"), "MISS", "the top level's 1 s is over")


def test_route_max_object_bytes():
    routes = [route("small", "/small/", cache={"max_object_bytes": 1000})]
    with env_with(routes) as env:
        big = "?size=5000&cc=max-age%3D60"
        env.get("/top/o" + big)
        eq(stored_again(env, "/top/o" + big, 1).header("X-Cache"), "HIT", "5000 B stored")
        env.get("/small/o" + big)
        settled(env)
        eq(env.get("/small/o" + big).header("X-Cache"), "MISS", "over the route's 1000 B")
        eq(env.origin.count("/small/o" + big), 2, "origin requests past the route's limit")
        small = "/small/s?size=500&cc=max-age%3D60"
        env.get(small)
        eq(stored_again(env, small, 2).header("X-Cache"), "HIT", "500 B under the route's limit")


def test_route_stale_while_revalidate():
    routes = [route("swr", "/swr/", cache={"stale_while_revalidate": "60s"})]
    with env_with(routes) as env:
        ts = ["/swr/a?cc=max-age%3D2&size=30", "/top/a?cc=max-age%3D2&size=30"]
        firsts = [env.get(t) for t in ts]
        env.wait_stored(2)
        env.advance_clock(3)  # past max-age
        r = env.get(ts[0])
        eq((r.header("X-Cache"), r.body), ("STALE", firsts[0].body), "the route's window")
        eq(env.get(ts[1]).header("X-Cache"), "MISS", "no window at the top level")
        wait_for(lambda: env.origin.count(ts[0]) == 2, "the route's background refresh")


def test_route_stale_if_error():
    routes = [route("sie", "/sie/", cache={"stale_if_error": "60s"})]
    with env_with(routes) as env:
        ts = ["/sie/b?cc=max-age%3D2&fail_after=1", "/top/b?cc=max-age%3D2&fail_after=1"]
        firsts = [env.get(t) for t in ts]
        env.wait_stored(2)
        env.advance_clock(3)  # past max-age; the origin now answers 500
        r = env.get(ts[0])
        eq((r.status, r.header("X-Cache"), r.body), (200, "STALE", firsts[0].body),
           "the route's stale_if_error instead of the 500")
        eq(env.get(ts[1]).status, 500, "the top level's 500 passes through")


def test_route_heuristic_percent():
    lm = "?hdr=Last-Modified:Mon,%2001%20Jan%202001%2000:00:00%20GMT"
    routes = [route("noheur", "/noheur/", cache={"heuristic_percent": 0})]
    with env_with(routes) as env:
        env.get("/top/h" + lm)
        eq(stored_again(env, "/top/h" + lm, 1).header("X-Cache"), "HIT",
           "the top level's heuristic stores it")
        env.get("/noheur/h" + lm)
        settled(env)
        eq(env.get("/noheur/h" + lm).header("X-Cache"), "MISS", "no heuristic on the route")
        eq(env.origin.count("/noheur/h" + lm), 2, "origin requests without the heuristic")


def test_route_store_server_errors():
    t = "/e?status=503&cc=max-age%3D60"
    routes = [route("errors", "/errors/", cache={"store_server_errors": True})]
    with env_with(routes, cache={"store_server_errors": False}) as env:
        env.get("/errors" + t)
        eq(stored_again(env, "/errors" + t, 1).header("X-Cache"), "HIT", "the route stores 5xx")
        env.get("/top" + t)
        settled(env)
        eq(env.get("/top" + t).header("X-Cache"), "MISS", "the top level does not")
        eq(env.origin.count("/top" + t), 2, "origin requests at the top level")
