"""t71: routes in the config (issue 20), loaded and checked
(exact messages are t70's, from the fixtures), warned about, written back by --print-config,
replaced whole by a reload, and explained offline by `sfproxy -c FILE --explain URL`. What
routes do to requests is t73's (the request's side); a request no route takes is served as
without routes."""
import json
import os
import subprocess
import tempfile

from harness import BIN, ROOT, Origin, Proxy, check, eq, request, wait_for

CONFIG = "tests/integration/routes.json"


def run(*args):
    p = subprocess.run([BIN, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def explain(url, *more, config=CONFIG):
    code, out, err = run("-c", config, "--explain", url, *more)
    eq(code, 0, "exit code of --explain %s (stderr %r)" % (url, err))
    return json.loads(out)


def test_the_example_configs_load_with_their_warnings():
    for rel in ("conf/routes-example.json", CONFIG):
        code, out, err = run("-c", rel, "--check-config")
        eq(code, 0, "exit code for %s (stderr %r)" % (rel, err))
        eq(out.strip(), rel + ": ok", "output")
    code, out, err = run("-c", "conf/routes-example.json", "--check-config")
    warned = [line for line in err.splitlines() if "ignores \"set-cookie\"" in line]
    eq(len(warned), 2, "warnings about routes sharing Set-Cookie responses")
    check("route \"home\"" in warned[0] and "conf/routes-example.json:25:40" in warned[0],
          "the first warning names route home at its ignore list: %r" % warned[0])
    check("route \"static\"" in warned[1], "the second names route static: %r" % warned[1])


def test_print_config_round_trips_routes():
    code, first, err = run("-c", CONFIG, "--print-config")
    eq(code, 0, "exit code (stderr %r)" % err)
    routes = json.loads(first)["routes"]
    eq([r["name"] for r in routes],
       ["packages", "indexes", "api", "account", "ab", "beta", "static"], "route names")
    eq(routes[2]["cache"]["ttl"], {"200": "5s", "404": "1m"}, "api's ttl")
    eq(routes[2]["key"], {"query": {"drop": ["utm_*", "fbclid"]}, "sort_query": True}, "api's key")
    eq(routes[4]["key"]["cookies"], ["ab_bucket"], "ab's cookies")
    check("hit_for_pass" not in routes[0].get("cache", {}), "inherited keys are not written")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(first)
    try:
        code, again, err = run("-c", f.name, "--print-config")
        eq(code, 0, "the dump loads (stderr %r)" % err)
        eq(again, first, "the dump of the dump")
    finally:
        os.unlink(f.name)


CASES = [
    # url, extra args, route, upstream URL, key
    ("/debian/pool/main/h/hello/hello_2.10-3_amd64.deb", (), "packages",
     "http://127.0.0.1:9000/debian/pool/main/h/hello/hello_2.10-3_amd64.deb",
     "http://127.0.0.1:9000/debian/pool/main/h/hello/hello_2.10-3_amd64.deb"),
    ("/debian/dists/bookworm/InRelease", (), "indexes",
     "http://127.0.0.1:9000/debian/dists/bookworm/InRelease",
     "http://127.0.0.1:9000/debian/dists/bookworm/InRelease"),
    ("http://api.example.com/v1/users?utm_source=news&page=2&fbclid=x&id=7", (), "api",
     "http://10.0.0.5:9000/users?utm_source=news&page=2&fbclid=x&id=7",
     "http://10.0.0.5:9000/users?id=7&page=2\nhost:api.example.com"),
    ("/v1/users?id=7", ("--host", "API.example.com:8080", "--header", "Authorization: Bearer t"),
     "api", "http://10.0.0.5:9000/users?id=7",
     "http://10.0.0.5:9000/users?id=7\nhost:API.example.com:8080\nauthorization:Bearer t"),
    ("/%61ccount/../account/orders", ("--header", "Cookie: session=abc"), "account",
     "http://127.0.0.1:9000/%61ccount/../account/orders",
     "http://127.0.0.1:9000/%61ccount/../account/orders\ncookie:session=abc"),
    ("/landing?x=1", ("--header", "Cookie: session=abc; ab_bucket=B", "--header", "X-Device: m"),
     "ab", "http://127.0.0.1:9000/landing?x=1",
     "http://127.0.0.1:9000/landing?x=1\ncookie:ab_bucket=B\n+x-device:m"),
    ("/anything", ("--header", "X-Beta: 1"), "beta", "http://127.0.0.1:9000/anything",
     "http://127.0.0.1:9000/anything"),
    ("/assets/app.css?v=3", (), "static", "http://127.0.0.1:9000/assets/app.css?v=3",
     "http://127.0.0.1:9000/assets/app.css"),
    ("/other?q=1", ("--header", "Cookie: a=1"), None, "http://127.0.0.1:9000/other?q=1",
     "http://127.0.0.1:9000/other?q=1\ncookie:a=1"),
]


def test_explain_says_route_upstream_url_and_key():
    for url, more, route, upstream, key in CASES:
        got = explain(url, *more)
        what = "--explain %s %s" % (url, " ".join(more))
        eq(got["route"], route, "route for " + what)
        eq(got["upstream_url"], upstream, "upstream URL for " + what)
        eq(got["key"], key, "key for " + what)
        skipped = [n["route"] for n in got["not_matched"]]
        names = ["packages", "indexes", "api", "account", "ab", "beta", "static"]
        eq(skipped, names[:names.index(route)] if route else names, "routes passed over")


def test_explain_says_why_earlier_routes_did_not_match():
    got = explain("/v1/users", "--host", "api.example.com", "--method", "POST")
    eq(got["route"], None, "a POST is no route's")
    why = {n["route"]: n["why"] for n in got["not_matched"]}
    eq(why["api"], "method POST is not listed in methods", "why not api")
    eq(why["indexes"], "path \"/v1/users\" does not start with path_prefix \"/debian/dists/\"",
       "why not indexes")
    eq(why["beta"], "header X-Beta is absent", "why not beta")
    eq(got["key"], None, "a POST has no cache key")
    got = explain("/landing", "--header", "Cookie: session=abc")
    eq(got["upstream_cookie"], None, "no cookie of the key's: none sent upstream")
    eq(got["rules"]["cache"]["ignore"], ["set-cookie"], "the route's rules")
    eq(explain("/account/x")["pass"], True, "account passes")


def test_explain_forward_proxy_and_errors():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"forward_proxy": True, "routes": [
            {"name": "mirror", "match": {"host": "deb.debian.org", "path_prefix": "/debian/"},
             "cache": {"ttl": "1h"}}]}, f)
    try:
        got = explain("http://deb.debian.org/debian/dists/sid/Release", config=f.name)
        eq(got["route"], "mirror", "a forward proxy's request takes the route of its host")
        eq(got["upstream_url"], "http://deb.debian.org/debian/dists/sid/Release", "fetched as is")
        eq(got["request"]["forward_proxy"], True, "read as absolute-form")
        code, out, err = run("-c", f.name, "--explain", "/debian/x")
        eq(code, 2, "an origin-form URL with no upstream")
        check("no upstream" in err, "says why: %r" % err)
    finally:
        os.unlink(f.name)
    code, out, err = run("-c", CONFIG, "--explain", "ftp://x/y")
    eq(code, 2, "a URL that is none")
    code, out, err = run("-c", CONFIG, "--explain", "/x", "--header", "nocolon")
    eq(code, 2, "a header that is none")


def test_a_proxy_with_routes_serves_and_reloads_them_whole():
    origin = Origin()
    with open(os.path.join(ROOT, CONFIG)) as f:
        routes = json.load(f)["routes"]
    proxy = Proxy(origin.url, {"routes": routes})
    try:
        r = request(proxy.port, "GET", "/x?cc=max-age%3D60")
        eq(r.status, 200, "a request under a config with routes")
        wait_for(lambda: proxy.stats()["flights_now"] == 0, "the first flight ended")
        r = request(proxy.port, "GET", "/x?cc=max-age%3D60")
        eq(r.header("X-Cache"), "HIT", "cached as without routes")
        eq(origin.count("/x?cc=max-age%3D60"), 1, "origin requests")
        cfg = dict(proxy.cfg)
        cfg["routes"] = routes[:2]
        lines = proxy.reload(cfg)
        check(any("routes (7 -> 2 routes)" in line for line in lines),
              "the reload says the routes changed: %r" % lines)
        cfg = dict(proxy.cfg)
        cfg["routes"] = routes[:2] + [{"name": "bad", "match": {"path_regex": "("}}]
        lines = proxy.reload(cfg)
        check(any("does not compile" in line and "the running config stays" in line
                  for line in lines), "a bad pattern keeps the running config: %r" % lines)
        r = request(proxy.port, "GET", "/x?cc=max-age%3D60")
        eq(r.status, 200, "still serving")
    finally:
        proxy.stop()
        origin.stop()
