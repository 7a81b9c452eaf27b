"""t10: one client at a time: miss, hit, headers sfproxy adds, HEAD, stats."""
from urllib.parse import quote

from harness import Env, eq, check, parallel, wait_for


def test_miss_then_hit_with_age():
    with Env() as env:
        t = "/basic?cc=max-age=60&size=300"
        a = env.get(t)
        eq(a.status, 200, "first status")
        eq(a.header("X-Cache"), "MISS", "first X-Cache")
        eq(a.header("Via"), "1.1 sfproxy", "Via")
        eq(len(a.body), 300, "body length")
        env.wait_stored()
        b = env.get(t)
        eq(b.header("X-Cache"), "HIT", "second X-Cache")
        eq(b.body, a.body, "hit body")
        check(b.header("Age") is not None, "a hit carries Age")
        eq(env.origin.count(t), 1, "origin requests")
        st = env.proxy.stats()
        eq((st["hits"], st["misses"]), (1, 1), "hits, misses")
        eq(st["cache"]["objects"], 1, "cached objects")


def test_uncacheable_is_fetched_each_time():
    with Env() as env:
        t = "/nocache?size=10"
        a = env.get(t)
        # Its client can have the whole response a moment before the fetcher has ended
        # the flight: a request then would join it.
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the first flight ended")
        b = env.get(t)
        eq((a.header("X-Cache"), b.header("X-Cache")), ("MISS", "MISS"), "X-Cache")
        check(a.body != b.body, "two fetches give two serials")
        eq(env.origin.count(t), 2, "origin requests")


def test_head_is_served_from_a_get():
    with Env() as env:
        t = "/head?cc=max-age=60&size=1234"
        h = env.get(t, method="HEAD")
        eq(h.status, 200, "HEAD status")
        eq(h.header("Content-Length"), "1234", "HEAD Content-Length")
        eq(h.body, b"", "HEAD body")
        env.wait_stored()
        g = env.get(t)
        eq(g.header("X-Cache"), "HIT", "GET after HEAD")
        eq(len(g.body), 1234, "GET body")
        eq(env.origin.count(t), 1, "origin requests")


def test_chunked_upstream_is_streamed():
    with Env() as env:
        t = "/chunked?chunked=1&chunks=4&size=50000&cc=max-age=30"
        a = env.get(t)
        eq(len(a.body), 50000, "body length")
        check(a.body.startswith(b"serial="), "body from the origin")
        env.wait_stored()
        eq(env.get(t).body, a.body, "hit of a chunked response")


def test_stats_has_every_field():
    with Env() as env:
        st = env.proxy.stats()
        for k in ("requests", "hits", "misses", "collapsed", "passes", "upstream_requests",
                  "upstream_errors", "bytes_from_upstream", "bytes_to_clients", "waiters_now",
                  "flights_now", "cache", "connections_refused"):
            check(k in st, "stats lacks %s" % k)
        for k in ("objects", "bytes", "evictions"):
            check(k in st["cache"], "stats.cache lacks %s" % k)


def test_bad_targets_get_4xx():
    with Env() as env:
        cases = [("http://127.0.0.1:1/x", 400, "absolute-form while forward_proxy is off"),
                 ("https://127.0.0.1:1/x", 400, "an https:// target"),
                 ("ftp://127.0.0.1/x", 400, "another scheme"),
                 ("x/relative", 400, "neither a path nor an absolute URL")]
        for target, status, what in cases:
            r = env.get(target)
            eq(r.status, status, what)
            check(r.header("Connection") == "close", "%s: the connection closes" % what)
        eq(env.get("127.0.0.1:80", method="CONNECT").status, 501, "CONNECT")
        eq(env.origin.stats()["total"], 0, "origin requests for refused targets")
        eq(env.proxy.stats()["refused"], 5, "refused")


def test_request_body_limit():
    with Env({"max_request_body_bytes": 1000}) as env:
        r = env.get("/big?echo=1", method="POST", body=b"x" * 5000)
        eq(r.status, 413, "body over max_request_body_bytes")
        eq(env.origin.stats()["total"], 0, "origin requests")


def test_empty_bodies_are_cached():
    with Env() as env:
        for n, t in enumerate(("/empty?size=0&cc=max-age=60", "/nc?status=204&cc=max-age=60")):
            a = env.get(t)
            # An empty response is complete for its client as soon as its head is sent,
            # which may be a moment before the fetcher has stored it.
            wait_for(lambda: env.proxy.stats()["cache"]["objects"] == n + 1, "the store")
            b = env.get(t)
            eq(b.header("X-Cache"), "HIT", "second X-Cache for %s" % t)
            eq((a.body, b.body), (b"", b""), "bodies")
            eq(b.status, a.status, "status of the hit")
            eq(env.origin.count(t), 1, "origin requests for %s" % t)


def test_hit_sends_one_age():
    with Env() as env:
        t = "/aged?cc=max-age=600&hdr=Age:100"
        a = env.get(t)
        eq([v for k, v in a.headers if k.lower() == "age"], ["100"], "Age on the miss")
        env.wait_stored()
        b = env.get(t)
        ages = [v for k, v in b.headers if k.lower() == "age"]
        eq(len(ages), 1, "Age fields on the hit")
        check(int(ages[0]) >= 100, "the hit's Age counts the upstream's: %r" % ages)


def test_conditional_requests_answered_from_the_cache():
    with Env() as env:
        lm = "Sun, 06 Nov 1994 08:49:37 GMT"
        t = "/cond?cc=max-age=60&size=100&hdr=ETag:%22v1%22&hdr=Last-Modified:" + quote(lm)
        env.get(t)
        wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1, "the store")
        r = env.get(t, {"If-None-Match": 'W/"v1"'})
        eq((r.status, r.body, r.header("ETag")), (304, b"", '"v1"'), "If-None-Match match")
        eq(r.header("X-Cache"), "HIT", "X-Cache of the 304")
        eq(env.get(t, {"If-None-Match": '"v2"'}).status, 200, "If-None-Match mismatch")
        eq(env.get(t, {"If-Modified-Since": lm}).status, 304, "If-Modified-Since not modified")
        eq(env.get(t, {"If-Modified-Since": "Sat, 05 Nov 1994 08:49:37 GMT"}).status, 200,
           "If-Modified-Since modified")
        eq(env.origin.count(t), 1, "origin requests")


def test_misses_reuse_upstream_connections():
    """libcurl keeps the origin's connections open between fetches: a hundred misses one
    after another, and eight at a time, open a handful of connections, not one each."""
    with Env() as env:
        before = env.origin.stats()["connections"]
        for i in range(100):
            eq(env.get("/reuse%d?size=50" % i).status, 200, "miss %d" % i)
        parallel(8, lambda i: [env.get("/reuse-p%d-%d?size=50" % (i, k)) for k in range(25)])
        eq(env.origin.stats()["total"], 300, "every miss reached the origin")
        opened = env.origin.stats()["connections"] - before
        check(opened <= 10, "upstream connections opened for 300 misses: %d" % opened)
