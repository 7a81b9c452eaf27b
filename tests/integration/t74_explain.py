"""t74: GET /_sfproxy/explain on the admin listener (issue 20): for a URL (with an optional
host, method and header=Name:Value fields), the route it takes and why each earlier route
did not fit, the upstream URL, the cache key, and what the cache holds under the key now:
a stored response's status, age, lifetime, where the lifetime came from and time left
(moved with the test clock), variants with the field values that select them, slices,
hit-for-pass markers with their reason. Bad arguments get 400 and a sentence."""
import json
import urllib.parse

from harness import Env, Origin, Proxy, check, eq, request, wait_for

TOKEN = "s3cret-token-0123456789"


def explain(env, url, *fields, host=None, method=None, headers=None):
    """The explain answer for url (status 200 checked), parsed."""
    r = explain_raw(env, url, *fields, host=host, method=method, headers=headers)
    eq(r.status, 200, "explain %s: status (body %r)" % (url, r.body[:200]))
    eq(r.header("Content-Type"), "application/json", "explain's content type")
    return json.loads(r.body)


def explain_raw(env, url, *fields, host=None, method=None, headers=None):
    args = [("url", url)] if url is not None else []
    args += [("header", f) for f in fields]
    if host is not None:
        args.append(("host", host))
    if method is not None:
        args.append(("method", method))
    query = urllib.parse.urlencode(args, quote_via=urllib.parse.quote)
    return request(env.proxy.admin_port, "GET", "/_sfproxy/explain?" + query, headers)


def test_a_response_before_and_after_it_is_stored():
    with Env() as env:
        t = "/a?cc=max-age=60&size=1024"
        got = explain(env, t)
        eq(got["key"], env.origin.url + t, "the key: the URL fetched")
        eq(got["upstream_url"], env.origin.url + t, "the upstream URL")
        eq((got["route"], got["not_matched"]), (None, []), "no routes")
        eq(got["stored"], {"kind": "nothing", "answer": "MISS"}, "nothing stored yet")
        check("offline" not in got, "the online answer looked: %r" % got)

        eq(env.get(t).header("X-Cache"), "MISS", "the first request")
        env.wait_stored()
        s = explain(env, t)["stored"]
        eq((s["kind"], s["answer"], s["status"], s["fresh_s"], s["fresh_from"], s["body_bytes"]),
           ("response", "HIT", 200, 60, "origin", 1024), "the stored response")
        age = s["age_s"]
        check(age in (0, 1), "a fresh response's age: %r" % age)  # Date has whole seconds
        eq(s["time_left_s"], 60 - age, "time left")
        eq((s["invalidated"], s["must_validate"], s["stale_while_revalidate_s"]),
           (False, False, None), "nothing else said")

        env.advance_clock(25)
        s = explain(env, t)["stored"]
        eq((s["age_s"], s["time_left_s"], s["answer"]), (age + 25, 35 - age, "HIT"),
           "25 s later")
        # (The real clock runs on between the two: a second may turn, under a sanitizer.)
        hit_age = int(env.get(t).header("Age"))
        check(hit_age - s["age_s"] in (0, 1), "the Age a hit carries agrees: %d after %d"
              % (hit_age, s["age_s"]))
        env.advance_clock(40)
        s = explain(env, t)["stored"]
        eq((s["age_s"], s["time_left_s"], s["answer"]), (age + 65, -5 - age, "MISS"),
           "stale: the next request revalidates")


def test_where_freshness_came_from_and_stale_windows():
    with Env() as env:
        swr = "/swr?cc=max-age=10,stale-while-revalidate=100"
        heur = "/heur?hdr=Last-Modified:Sat,%2001%20Jan%202000%2000:00:00%20GMT"
        for t in (swr, heur):
            env.get(t)
        env.wait_stored(2)
        s = explain(env, heur)["stored"]
        eq((s["kind"], s["fresh_from"], s["fresh_s"]), ("response", "heuristic", 86400),
           "Last-Modified long ago: a heuristic lifetime, at heuristic_max")
        env.advance_clock(30)
        s = explain(env, swr)["stored"]
        eq((s["fresh_from"], s["stale_while_revalidate_s"], s["answer"]), ("origin", 100, "STALE"),
           "stale within stale-while-revalidate: served stale while refreshed")
        env.get(swr, {"Cache-Control": "no-cache"})  # refreshed: fresh again
        wait_for(lambda: explain(env, swr)["stored"].get("answer") == "HIT", "the refreshed one")


def test_variants_are_listed_with_what_selects_them():
    with Env() as env:
        t = "/v?vary=Accept-Language&cc=max-age=60"
        for lang in ("en", "de"):
            eq(env.get(t, {"Accept-Language": lang}).header("X-Cache"), "MISS", lang)
        env.wait_stored(2)
        got = explain(env, t, "Accept-Language: de")
        s = got["stored"]
        eq((s["kind"], s["vary"], s["variants_stored"], s["answer"]),
           ("vary", ["accept-language"], 2, "HIT"), "a vary marker")
        eq([v["fields"] for v in s["variants"]],
           [{"accept-language": "de"}, {"accept-language": "en"}], "each variant's fields")
        eq([v["selected"] for v in s["variants"]], [True, False], "de is the one asked for")
        eq([v["key"] for v in s["variants"]],
           [got["key"] + "\nvary\naccept-language=" + lang for lang in ("de", "en")],
           "the variants' keys")
        eq({(v["status"], v["fresh_s"], v["answer"]) for v in s["variants"]}, {(200, 60, "HIT")},
           "both stored and fresh")
        s = explain(env, t, "Accept-Language: fr")["stored"]
        eq(([v["selected"] for v in s["variants"]], s["answer"]), ([False, False], "MISS"),
           "fr selects neither")
        s = explain(env, t)["stored"]
        eq(s["answer"], "MISS", "no Accept-Language selects neither")


def test_a_variant_selected_as_the_routes_requests_select_it():
    """Under a route that normalises Accept-Encoding or narrows the Cookie to key.cookies,
    the variant explain marks is the one a request with those fields gets (issue 20's
    review: explain used the top level's normalisation and the whole Cookie)."""
    routes = [{"name": "enc", "match": {"path_prefix": "/enc/"},
               "cache": {"normalize_accept_encoding": True}},
              {"name": "ab", "match": {"path_prefix": "/ab/"}, "key": {"cookies": ["ab"]}}]
    with Env({"routes": routes}) as env:
        cases = [("/enc/v?vary=Accept-Encoding&cc=max-age=60", "Accept-Encoding",
                  "gzip, deflate", "deflate, gzip"),
                 ("/ab/v?vary=Cookie&cc=max-age=60", "Cookie", "ab=1; session=x",
                  "session=y; ab=1")]
        for n, (t, name, first, second) in enumerate(reversed(cases), 1):
            eq(env.get(t, {name: first}).header("X-Cache"), "MISS", "%s: the first" % t)
            env.wait_stored(n)
            s = explain(env, t, "%s: %s" % (name, second))["stored"]
            eq((s["kind"], [v["selected"] for v in s["variants"]], s["answer"]),
               ("vary", [True], "HIT"), "%s: %s %r selects the stored variant" % (t, name, second))
            eq(env.get(t, {name: second}).header("X-Cache"), "HIT",
               "%s: and a request with it gets it, as explain said" % t)


def test_a_forward_proxys_key_leaves_the_host_to_the_url():
    """A forward proxy's absolute-form request on a route matched by host is keyed without
    its Host field (the URL names the host), by explain as by the request."""
    o = Origin()
    try:
        config = {"forward_proxy": {"allow": ["127.0.0.1"]},
                  "routes": [{"name": "site", "match": {"host": "127.0.0.1"}}]}
        p = Proxy(None, config)
        try:
            url = "%s/f?size=5&cc=max-age=60" % o.url
            host = "127.0.0.1:%d" % o.port
            eq(request(p.port, "GET", url, {"Host": host}).status, 200, "fetched")
            wait_for(lambda: p.stats()["cache"]["objects"] >= 1, "stored")
            q = urllib.parse.urlencode([("url", url), ("host", host)],
                                       quote_via=urllib.parse.quote)
            got = json.loads(request(p.admin_port, "GET", "/_sfproxy/explain?" + q).body)
            eq((got["route"], got["request"]["forward_proxy"]), ("site", True), "the route")
            eq((got["stored"]["kind"], got["stored"]["answer"]), ("response", "HIT"),
               "what the request stored is found under explain's key")
        finally:
            eq(p.stop(), 0, "exit code")
    finally:
        o.stop()


def test_hit_for_pass_marker_and_its_reason():
    with Env({"cache": {"hit_for_pass": "60s"}}) as env:
        for t, why in (("/p?cc=private", "Cache-Control: private"),
                       ("/c?cc=max-age=60&set_cookie=1", "Set-Cookie")):
            env.get(t)
            wait_for(lambda: explain(env, t)["stored"]["kind"] == "hit_for_pass",
                     "the marker for " + t)
            s = explain(env, t)["stored"]
            eq((s["answer"], s["reason"]), ("PASS", why), "the marker for " + t)
            check(0 < s["time_left_ms"] <= 60000, "time left: %r" % s["time_left_ms"])
        env.advance_clock(61)
        s = explain(env, "/p?cc=private")["stored"]
        eq(s["answer"], "MISS", "an expired marker (or none: the fetcher frees expired ones)")


def test_a_response_kept_in_slices():
    with Env({"cache": {"max_object_bytes": "64KiB", "slice_bytes": "16KiB"}}) as env:
        t = "/big?size=200000&ranges=1&cc=max-age=600&etag=b1"
        env.get(t)
        wait_for(lambda: env.proxy.stats()["cache"]["sliced"] == 1, "the key marked sliced")
        s = explain(env, t)["stored"]
        eq(s, {"kind": "sliced", "answer": "SLICES", "total_bytes": 200000, "etag": '"b1"',
               "last_modified": None, "slice_bytes": 16384, "slices": 13, "slices_stored": 0, "stored_runs": []},
           "the sliced marker, no slice yet")
        eq(env.get(t, {"Range": "bytes=100000-120000"}).status, 206, "a range: two slices")
        eq(env.get(t, {"Range": "bytes=0-10"}).status, 206, "a range: the first slice")
        env.wait_stored(3)
        s = explain(env, t)["stored"]
        eq((s["slices_stored"], s["stored_runs"]), (3, [[0, 0], [6, 7]]), "the slices stored")


ROUTES = [
    {"name": "account", "match": {"path_prefix": "/account/"}, "pass": True},
    {"name": "api", "match": {"host": "api.example.com", "path_prefix": "/v1/"},
     "strip_prefix": True, "key": {"query": {"drop": ["utm_*"]}, "sort_query": True}},
    {"name": "css", "match": {"path_regex": "\\.css$"}, "cache": {"ttl": "60s"}},
]


def test_routes_with_the_reasons_earlier_ones_did_not_match():
    with Env({"routes": ROUTES}) as env:
        o = env.origin.url
        got = explain(env, "http://api.example.com/v1/users?utm_source=x&b=2&a=1")
        eq((got["route"], got["pass"]), ("api", False), "the api route")
        eq(got["not_matched"], [{"route": "account", "why":
                                 "path \"/v1/users\" does not start with path_prefix "
                                 "\"/account/\""}], "why not account")
        eq(got["upstream_url"], o + "/users?utm_source=x&b=2&a=1", "strip_prefix")
        eq(got["key"], o + "/users?a=1&b=2\nhost:api.example.com", "the route's key")
        eq(got["request"]["host"], "api.example.com", "the host from the URL")
        got = explain(env, "/v1/users", host="other.example.com")
        eq(got["route"], None, "another host")
        eq([n["route"] for n in got["not_matched"]], ["account", "api", "css"], "all passed over")
        eq(explain(env, "/account/me", "Cookie: s=1")["key"], o + "/account/me\ncookie:s=1",
           "the Cookie is in the key")
        got = explain(env, "/account/me")
        eq((got["pass"], got["stored"]["answer"]), (True, "PASS"), "account passes")
        got = explain(env, "/v1/users", host="api.example.com", method="POST")
        eq((got["route"], got["key"], got["stored"]), ("api", None, None), "a POST has no key")

        # A route that keeps the key as it is: what the request stored is under it.
        t = "/site.css?cc=max-age=30"
        env.get(t)
        env.wait_stored()
        got = explain(env, t)
        eq((got["route"], got["key"]), ("css", o + t), "the css route's key")
        eq((got["stored"]["kind"], got["stored"]["fresh_s"], got["stored"]["fresh_from"]),
           ("response", 30, "origin"), "the origin's max-age came first")


def test_token_rule_and_bad_arguments():
    with Env({"admin": {"token": TOKEN}}) as env:
        # A read, like the stats: open on loopback, the token needed from elsewhere.
        eq(explain_raw(env, "/x").status, 200, "on loopback without the token")
        eq(explain_raw(env, "/x", headers={"Authorization": "Bearer " + TOKEN}).status, 200,
           "with the token")
        eq(request(env.proxy.admin_port, "POST", "/_sfproxy/explain?url=/x").status, 404,
           "explain is a GET")
        cases = [
            (None, (), "give url=URL"),
            ("", (), "give url=URL"),
            ("/a b", (), "url has a space or a control character"),
            ("ftp://x/y", (), "the URL must be a path"),
            ("/x", ("Cookie",), "each header= must be one field line"),
            ("/x", (": v",), "each header= must be one field line"),
            ("/x", ("X-A: a\r\nX-B: b",), "each header= must be one field line"),
        ]
        for url, fields, message in cases:
            r = explain_raw(env, url, *fields)
            eq(r.status, 400, "status for url=%r header=%r" % (url, fields))
            body = json.loads(r.body)
            check(body["error"].startswith(message),
                  "message for url=%r header=%r: %r" % (url, fields, body))
        r = request(env.proxy.admin_port, "GET", "/_sfproxy/explain?url=/x&hedaer=Cookie:a")
        eq(r.status, 400, "a misspelt argument")
        check(json.loads(r.body)["error"].startswith('unknown argument "hedaer"; explain takes'),
              "the misspelt argument named: %r" % r.body)
        r = explain_raw(env, "/x", method="GE T")
        eq((r.status, json.loads(r.body)["error"]),
           (400, "method must be a method name, like GET or HEAD"), "a bad method")
