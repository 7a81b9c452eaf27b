"""t57: invalidation (RFC 9111 §4.4) and purge by path reach what a GET of the same target
stores under its route's key (issue 20): a route for GET and HEAD only with an upstream
and strip_prefix of its own, which an unsafe request to the same path does not take; a
route whose key.query drops, keeps or ignores parameters; key.sort_query; a Location
naming such a target; the admin purge of a path such a route keys (host= for a route
that matches on the host). Each stored GET must be REVALIDATED (or purged) after, not a
HIT."""
import json
from urllib.parse import quote

from harness import Env, Origin, Proxy, check, eq, request, wait_for


class RoutedEnv(Env):
    """An origin and a proxy whose routes are made from the origin's URL."""

    def __init__(self, routes_of):
        self.origin = Origin()
        try:
            self.proxy = Proxy(self.origin.url, {"routes": routes_of(self.origin.url)})
        except Exception:
            self.origin.stop()
            raise


def store(env, t, headers=None):
    env.get(t, headers)
    wait_for(lambda: env.get(t, headers).header("X-Cache") == "HIT", "%s to be stored" % t)


def purge(env, query):
    r = request(env.proxy.admin_port, "POST", "/_sfproxy/purge?" + query)
    eq(r.status, 200, "purge %s: status (body %r)" % (query, r.body))
    return json.loads(r.body)


def unsafe(env, method, t):
    eq(env.get(t, method=method, body=b"x").status, 200, "%s %s: status" % (method, t))


def api_routes(origin):
    # The "api" recipe: GET and HEAD only, an upstream and strip_prefix of its own.
    return [{"name": "api", "match": {"path_prefix": "/v1/", "methods": ["GET", "HEAD"]},
             "upstream": origin + "/up", "strip_prefix": True},
            {"name": "site", "match": {"host": "h.example", "path_prefix": "/h/"},
             "upstream": origin + "/hu", "strip_prefix": True}]


def test_an_unsafe_request_reaches_the_get_route_with_its_own_upstream():
    with RoutedEnv(api_routes) as env:
        a = "/v1/users?etag=u&cc=max-age=600"
        b = "/v1/items?etag=i&cc=max-age=600"
        c = "/v1/other?etag=o&cc=max-age=600"
        for t in (a, b, c):
            store(env, t)
        eq(env.origin.count("/up/users?etag=u&cc=max-age=600"), 1,
           "the GET went to the route's upstream, stripped")
        unsafe(env, "POST", a)  # no route takes a POST: it goes to the top-level upstream
        eq(env.origin.count(a), 1, "the POST went to the top level's upstream")
        unsafe(env, "PUT", "/elsewhere?hdr=Location:" + quote(b, safe=""))
        eq([env.get(t).header("X-Cache") for t in (a, b, c)], ["REVALIDATED", "REVALIDATED", "HIT"],
           "a GET of the POST's target, of the PUT's Location (each stored under the route's "
           "key), of an unrelated target")
        check(env.proxy.stats()["cache"]["invalidations"] >= 2, "invalidations counted")


def test_an_unsafe_request_reaches_keys_with_a_query_rule():
    def routes(origin):
        return [{"name": "none", "match": {"path_prefix": "/q/"}, "key": {"query": "none"}},
                {"name": "drop", "match": {"path_prefix": "/d/"},
                 "key": {"query": {"drop": ["utm_*"]}}},
                {"name": "keep", "match": {"path_prefix": "/k/"},
                 "key": {"query": {"keep": ["etag", "cc"]}}},
                {"name": "sorted", "match": {"path_prefix": "/s/"}, "key": {"sort_query": True}}]

    with RoutedEnv(routes) as env:
        cases = [("/q/x?etag=q&cc=max-age=600", "/q/x?etag=q&cc=max-age=600", "query none"),
                 ("/d/x?etag=d&cc=max-age=600&utm_a=1", "/d/x?etag=d&utm_a=2&cc=max-age=600",
                  "query drop"),
                 ("/k/x?etag=k&cc=max-age=600&z=1", "/k/x?etag=k&cc=max-age=600&z=2",
                  "query keep"),
                 ("/s/x?etag=s&cc=max-age=600", "/s/x?etag=s&cc=max-age=600", "sort_query")]
        for get, _, _ in cases:
            store(env, get)
        for _, post, _ in cases:
            unsafe(env, "POST", post)
        eq([(what, env.get(get).header("X-Cache")) for get, _, what in cases],
           [(what, "REVALIDATED") for _, _, what in cases],
           "each POST invalidated the key of a GET of its target")


def test_purge_by_path_reaches_a_routes_key():
    def routes(origin):
        return api_routes(origin) + [
            {"name": "none", "match": {"path_prefix": "/q/"}, "key": {"query": "none"}}]

    with RoutedEnv(routes) as env:
        up = env.origin.url
        a, q, h = ("/v1/users?etag=u&cc=max-age=600", "/q/y?etag=y&cc=max-age=600",
                   "/h/z?etag=z&cc=max-age=600")
        host = {"Host": "h.example"}
        store(env, a)
        store(env, q)
        store(env, h, host)
        p = purge(env, "url=" + quote(a, safe=""))
        eq((p["url"], p.get("routed_url"), p["purged"]),
           (up + a, up + "/up/users?etag=u&cc=max-age=600", 1),
           "purge by path: the route's upstream, stripped")
        eq(env.get(a).header("X-Cache"), "MISS", "purged: fetched anew")
        p = purge(env, "url=" + quote(q, safe="") + "&soft=1")
        eq((p.get("routed_url"), p["purged"], p["mode"]), (up + "/q/y", 1, "soft"),
           "purge by path: the route's key has no query")
        eq(env.get(q).header("X-Cache"), "REVALIDATED", "soft purge revalidates")
        p = purge(env, "url=" + quote(h, safe=""))
        eq((p.get("routed_url"), p["purged"]), (None, 0),
           "without host=, a GET of the path takes no host route")
        p = purge(env, "url=" + quote(h, safe="") + "&host=h.example")
        eq((p.get("routed_url"), p["purged"]), (up + "/hu/z?etag=z&cc=max-age=600", 1),
           "with host=, the host route's URL")
        eq(env.get(h, host).header("X-Cache"), "MISS", "the host route's object purged")
        env.wait_stored(3)
        p = purge(env, "url=/v1/&prefix=1")
        eq((p.get("routed_url"), p["purged"]), (up + "/up/", 1), "purge by prefix, routed")
        eq(env.proxy.stats()["cache"]["purged"], 4, "purged counted")
