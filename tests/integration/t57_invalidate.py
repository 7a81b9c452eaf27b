"""t57: invalidation after unsafe methods (RFC 9111 §4.4) and the purge endpoint."""
import json
import threading
from urllib.parse import quote

from harness import Env, eq, check, wait_for, request


def store(env, t):
    env.get(t)
    wait_for(lambda: env.get(t).header("X-Cache") == "HIT", "%s to be stored" % t)


def purge(env, query):
    r = request(env.proxy.admin_port, "POST", "/_sfproxy/purge?" + query)
    return r.status, json.loads(r.body)


def location(t):
    return "hdr=Location:" + quote(t, safe="")


def test_unsafe_methods_invalidate_target_and_locations():
    with Env() as env:
        a, b, c = ("/inv/a?etag=a&cc=max-age=600", "/inv/b?etag=b&cc=max-age=600",
                   "/inv/c?etag=c&cc=max-age=600")
        for t in (a, b, c):
            store(env, t)
        eq(env.get(a, method="DELETE").status, 200, "DELETE status")
        eq(env.get("/inv/post?" + location(b), method="POST", body=b"x").status, 200,
           "POST status")
        eq(env.get(a).header("X-Cache"), "REVALIDATED", "the DELETE's target was invalidated")
        eq(env.get(b).header("X-Cache"), "REVALIDATED", "the POST's Location was invalidated")
        eq(env.get(c).header("X-Cache"), "HIT", "an unrelated URL is untouched")
        check(env.proxy.stats()["cache"]["invalidations"] >= 2, "invalidations counted")


def test_error_response_or_other_origin_does_not_invalidate():
    with Env() as env:
        t = "/inv/e?etag=e&cc=max-age=600"
        store(env, t)
        r = env.get("/inv/fail?status=500&" + location(t), method="PUT", body=b"x")
        eq(r.status, 500, "PUT status")
        other = "http://other.example" + t
        env.get("/inv/ok?" + location(other), method="PUT", body=b"x")
        eq(env.get(t).header("X-Cache"), "HIT",
           "neither a 5xx nor another origin's Location invalidates")


def test_purge_url_prefix_tag_and_soft():
    with Env() as env:
        ts = ["/p/one?cc=max-age=600&etag=1", "/p/two?cc=max-age=600&etag=2",
              "/q/three?cc=max-age=600&etag=3&hdr=Surrogate-Key:red%20blue",
              "/q/four?cc=max-age=600&etag=4&hdr=Surrogate-Key:blue"]
        for t in ts:
            store(env, t)
        eq(purge(env, "url=" + quote(ts[0], safe="")),
           (200, {"url": env.origin.url + ts[0], "mode": "remove", "purged": 1}), "purge by url")
        eq(env.get(ts[0]).header("X-Cache"), "MISS", "a removed URL is fetched anew")
        env.wait_stored(4)  # the client can have it a moment before it is stored
        status, doc = purge(env, "url=/p/&prefix=1&soft=1")
        eq((status, doc["purged"], doc["mode"]), (200, 2, "soft"), "soft purge by prefix")
        eq(env.get(ts[1]).header("X-Cache"), "REVALIDATED", "soft purge revalidates")
        eq(purge(env, "tag=blue")[1]["purged"], 2, "purge by surrogate key")
        eq(env.get(ts[2]).header("X-Cache"), "MISS", "tagged object removed")
        eq(purge(env, "tag=nothing")[1]["purged"], 0, "unknown tag")
        eq(purge(env, "")[0], 400, "purge without url or tag")
        eq(request(env.proxy.admin_port, "GET", "/_sfproxy/purge?url=/p/").status, 404,
           "purge needs POST")
        eq(request(env.proxy.port, "POST", "/_sfproxy/purge?url=/p/").header("X-Cache"), "PASS",
           "the public port has no purge endpoint: it is just proxied")
        eq(env.proxy.stats()["cache"]["purged"], 5, "purged counted")


def test_purge_during_a_flight_leaves_it_alone():
    # "Flights in progress are left alone": a purge while the response is on its way
    # removes nothing, every waiter gets the response, and it is stored after.
    with Env() as env:
        t = "/pf?hold=PF&cc=max-age=60&size=100"
        res = []
        threads = [threading.Thread(target=lambda: res.append(env.get(t))) for _ in range(3)]
        for th in threads:
            th.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 3, "3 parked clients")
        eq(purge(env, "url=/pf%3Fhold%3DPF%26cc%3Dmax-age%3D60%26size%3D100"),
           (200, {"url": env.origin.url + t, "mode": "remove", "purged": 0}),
           "purge while in flight")
        env.origin.release("PF")
        for th in threads:
            th.join()
        eq([r.status for r in res], [200] * 3, "the flight's clients")
        env.wait_stored()
        eq(env.get(t).header("X-Cache"), "HIT", "stored after the purge")
        eq(purge(env, "url=/pf%3Fhold%3DPF%26cc%3Dmax-age%3D60%26size%3D100")[1]["purged"], 1,
           "purged once stored")


def test_post_response_stored_for_get_when_asked():
    # RFC 9110 §9.3.3 (cache.store_post_responses): a POST's response with explicit
    # freshness and a Content-Location that is its target serves later GETs of it.
    t = "/pg?cc=max-age%3D60&self_location=1&size=40"
    with Env({"cache": {"store_post_responses": True}}) as env:
        r = env.get(t, method="POST", body=b"x")
        eq(r.status, 200, "the POST's response")
        wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1, "stored for GETs")
        g = env.get(t)
        eq((g.header("X-Cache"), g.body), ("HIT", r.body), "a GET gets the POST's response")
        eq(env.origin.count(t), 1, "origin requests")
    with Env() as env:  # off by default
        env.get(t, method="POST", body=b"x")
        eq(env.get(t).header("X-Cache"), "MISS", "without it, a GET goes to the origin")
        eq(env.origin.count(t), 2, "origin requests")
