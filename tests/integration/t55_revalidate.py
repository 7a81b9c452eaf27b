"""t55: expired responses are revalidated upstream with their validators, through the
singleflight core; a 304 refreshes the stored response, a 200 replaces it."""
import json
import re
import socket
import threading
import time
from urllib.parse import quote

from harness import Env, eq, check, parallel, wait_for


def expire(env, seconds=3):
    """Moves the clocks until a stored response has passed its max-age. Tests use
    max-age=2, not 1: Date has whole seconds, so a 1 s response can arrive already a second
    old, and stale."""
    env.advance_clock(seconds)


def get_stored_then_expired(env, t):
    """Fetches t, waits until it is stored, then until it expires; returns the first
    response."""
    first = env.get(t)
    env.wait_stored()
    expire(env)
    return first


def test_304_refreshes_and_concurrent_revalidations_collapse():
    with Env() as env:
        t = "/rv?etag=v1&cc=max-age=2&size=1000"
        first = get_stored_then_expired(env, t)
        res = parallel(20, lambda i: env.get(t))
        eq(sorted(set(r.status for r in res)), [200], "statuses")
        eq(set(r.body for r in res), {first.body}, "bodies are the stored one")
        kinds = [r.header("X-Cache") for r in res]
        # Clients that came after the refreshed response was stored are plain hits.
        check(set(kinds) <= {"REVALIDATED", "HIT"} and "REVALIDATED" in kinds,
              "X-Cache values %r" % sorted(set(kinds)))
        eq(env.origin.count(t), 2, "origin requests: the first and one conditional")
        st = env.proxy.stats()
        eq(st["revalidations"], {"not_modified": 1, "replaced": 0}, "revalidations")
        wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1, "the refreshed store")
        again = env.get(t)
        eq((again.header("X-Cache"), again.body), ("HIT", first.body), "hit after refresh")
        eq(again.header("ETag"), '"v1"', "ETag kept")


def test_changed_response_replaces_the_stored_one():
    with Env() as env:
        t = "/rv2?etag_changes=1&cc=max-age=2&size=100"
        first = get_stored_then_expired(env, t)
        second = env.get(t)
        eq(second.header("X-Cache"), "MISS", "X-Cache")
        check(second.body != first.body, "a new body")
        eq(env.proxy.stats()["revalidations"]["replaced"], 1, "revalidations replaced")
        wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1, "the new store")
        eq(env.get(t).body, second.body, "the new response is stored")


def test_no_validators_means_plain_refetch():
    with Env() as env:
        t = "/rv3?cc=max-age=2&size=100&echo=1"
        get_stored_then_expired(env, t)
        r = env.get(t)
        hdrs = dict((k.lower(), v) for k, v in json.loads(r.body)["headers"])
        check("if-none-match" not in hdrs and "if-modified-since" not in hdrs,
              "no validators sent: %r" % hdrs)


def test_request_directives():
    with Env() as env:
        t = "/rd?etag=v1&cc=max-age=60&size=100"
        only = {"Cache-Control": "only-if-cached"}
        eq(env.get(t, only).status, 504, "only-if-cached with nothing stored")
        eq(env.origin.count(t), 0, "only-if-cached never goes upstream")
        first = env.get(t)
        env.wait_stored()
        eq(env.get(t, only).header("X-Cache"), "HIT", "only-if-cached with a stored response")
        # no-cache: the stored response is validated first (a 304 here).
        r = env.get(t, {"Cache-Control": "no-cache"})
        eq((r.header("X-Cache"), r.body), ("REVALIDATED", first.body), "no-cache")
        eq(env.origin.count(t), 2, "no-cache asked the origin")
        wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1, "the refreshed store")
        r = env.get(t, {"Pragma": "no-cache"})
        eq(r.header("X-Cache"), "REVALIDATED", "Pragma: no-cache")
        wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1, "the refreshed store")
        eq(env.get(t, {"Cache-Control": "min-fresh=30"}).header("X-Cache"), "HIT", "min-fresh met")
        eq(env.get(t, {"Cache-Control": "max-age=1000"}).header("X-Cache"), "HIT", "max-age met")


def test_no_store_request_is_not_shared_or_stored():
    with Env() as env:
        t = "/ns?cc=max-age=60&size=100"
        a = env.get(t, {"Cache-Control": "no-store"})
        eq(a.header("X-Cache"), "PASS", "no-store goes upstream on its own")
        eq(env.proxy.stats()["cache"]["objects"], 0, "its response is not stored")
        b = env.get(t)
        eq(b.header("X-Cache"), "MISS", "a plain request after it")
        env.wait_stored()
        eq(env.get(t, {"Cache-Control": "no-store"}).header("X-Cache"), "HIT",
           "no-store may still be answered from the cache")


def test_max_stale_serves_an_expired_response():
    with Env() as env:
        t = "/ms?cc=max-age=2&size=100"
        first = get_stored_then_expired(env, t)
        r = env.get(t, {"Cache-Control": "max-stale=60"})
        eq((r.header("X-Cache"), r.body), ("HIT", first.body), "max-stale")
        eq(env.origin.count(t), 1, "origin requests")
        eq(env.get(t).header("X-Cache"), "MISS", "without max-stale it is refetched")


def test_heuristic_freshness_from_last_modified():
    with Env() as env:
        t = "/heur?size=10&hdr=Last-Modified:" + quote("Sun, 06 Nov 1994 08:49:37 GMT")
        env.get(t)
        env.wait_stored()
        eq(env.get(t).header("X-Cache"), "HIT", "stored by heuristic freshness")
    with Env({"cache": {"heuristic_percent": 0}}) as env:
        env.get(t)
        # The client can have it all before the fetcher ends the flight (it would join it).
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flight ended")
        eq(env.get(t).header("X-Cache"), "MISS", "heuristic_percent 0 stores nothing")


def test_targeted_cache_control_fields():
    with Env() as env:
        t = "/cdn?size=10&cc=no-store&hdr=CDN-Cache-Control:max-age%3D60"
        a = env.get(t)
        eq(a.header("CDN-Cache-Control"), "max-age=60",
           "CDN-Cache-Control goes on to the next tier (RFC 9213 §3.1)")
        eq(a.header("Cache-Control"), "no-store", "Cache-Control too, for downstream caches")
        env.wait_stored()
        eq(env.get(t).header("X-Cache"), "HIT", "stored by CDN-Cache-Control")
        bad = "/cdn-bad?size=10&cc=no-store&hdr=CDN-Cache-Control:max-age%3D%2260%22"
        env.get(bad)
        eq(env.get(bad).header("X-Cache"), "PASS",
           "a targeted field that does not parse is ignored: Cache-Control's no-store holds")
    own = {"cache": {"targeted_fields": [{"name": "Sfproxy-Cache-Control", "strip": True},
                                         "CDN-Cache-Control"]}}
    with Env(own) as env:
        t = ("/own?size=10&cc=max-age=60&hdr=Sfproxy-Cache-Control:no-store"
             "&hdr=CDN-Cache-Control:max-age%3D60")
        a = env.get(t)
        eq(a.header("Sfproxy-Cache-Control"), None, "a deployment's own field is not forwarded")
        eq(a.header("CDN-Cache-Control"), "max-age=60", "the generic one is")
        # no-store there, first in the list, makes the response one client's: hit-for-pass.
        eq(env.get(t).header("X-Cache"), "PASS", "the first valid field in the list wins")
        eq(env.proxy.stats()["cache"]["objects"], 0, "nothing stored")


def test_strip_set_cookie_shares_without_cookies():
    with Env({"cache": {"strip_set_cookie": True}}) as env:
        t = "/sc?set_cookie=1&cc=max-age=60&delay_ms=400&size=10"
        res = parallel(5, lambda i: env.get(t))
        eq(env.origin.count(t), 1, "one origin request")
        eq([r.header("Set-Cookie") for r in res], [None] * 5, "no cookie reaches anyone")
        env.wait_stored()
        eq(env.get(t).header("X-Cache"), "HIT", "stored")
        p = env.get("/sc-post?set_cookie=1", method="POST", body=b"x")
        check(p.header("Set-Cookie") is not None, "pass-through responses keep their cookies")


def test_head_response_never_rewrites_what_it_does_not_describe():
    """RFC 9111 §4.3.5, §5.2.1.5. A HEAD forced to the origin (no-cache, no-store) gets a
    200. Its request said no-store: nothing of its response is stored, so the stored GET
    keeps its fields. One that names another ETag, or no validator at all (with another
    Content-Length, Content-Type and a Link), is not the stored representation: that is
    only made stale, and the next GET revalidates; none of the HEAD's fields reach it."""
    with Env() as env:
        t = "/headupd?etag=a&cc=max-age=600&serial_hdr=1&size=300"
        first = env.get(t)
        env.wait_stored()
        forced = {"Cache-Control": "no-cache, no-store"}
        head = env.get(t, forced, method="HEAD")
        eq((head.status, head.header("X-Cache"), head.header("X-Origin-Serial")),
           (200, "PASS", "2"), "the HEAD went to the origin")
        r = env.get(t)
        eq((r.header("X-Cache"), r.header("X-Origin-Serial"), r.body),
           ("HIT", "1", first.body), "a no-store request's response updates nothing")
        eq(env.proxy.stats()["cache"]["head_updates"], 0, "no update counted")

        t2 = "/headinv?etag_changes=1&cc=max-age=600&size=300"
        first = env.get(t2)
        env.wait_stored(2)
        eq(env.get(t2, forced, method="HEAD").status, 200, "HEAD status")
        r = env.get(t2)
        check(r.header("X-Cache") != "HIT", "a GET after a HEAD with another ETag is no HIT")
        check(r.body != first.body, "the origin's new response")
        eq(env.origin.count(t2), 3, "GET, HEAD, and the revalidating GET")

        t3 = ("/headatk?etag=a&cc=max-age=600&size=6&serial_hdr=1&head_no_validators=1"
              "&head_length=999999&head_hdr=Content-Type:text/evil"
              "&head_hdr=Link:%3C//evil.example/x.js%3E;rel=preload")
        first = env.get(t3)
        env.wait_stored(3)
        head = env.get(t3, forced, method="HEAD")
        eq((head.status, head.header("Link")), (200, "<//evil.example/x.js>;rel=preload"),
           "the HEAD's own answer")
        r = env.get(t3)
        eq((r.header("Link"), r.header("Content-Type"), r.body),
           (None, first.header("Content-Type"), first.body),
           "the stored GET keeps its own fields and body")
        eq((r.header("X-Cache"), env.origin.count(t3)), ("REVALIDATED", 3),
           "made stale, then revalidated by its ETag")
        eq(env.proxy.stats()["cache"]["head_updates"], 0, "never updated")


def test_no_cache_response_is_stored_and_validated_before_every_use():
    """RFC 9111 §5.2.2.4: a no-cache response with a validator is stored, and every use
    revalidates it; concurrent requests share one conditional request."""
    with Env() as env:
        t = "/nc?etag=n1&cc=no-cache&size=500&hold_header=X-Hold"
        env.origin.release("first")
        first = env.get(t, {"X-Hold": "first"})
        eq(first.header("X-Cache"), "MISS", "first request")
        env.wait_stored()
        again = env.get(t, {"X-Hold": "first"})
        eq((again.header("X-Cache"), again.body), ("REVALIDATED", first.body),
           "validated, not a plain hit")
        eq(env.origin.count(t), 2, "origin requests: the first and one conditional")
        out = [None] * 8
        threads = [threading.Thread(target=lambda i=i: out.__setitem__(
            i, env.get(t, {"X-Hold": "later"}))) for i in range(8)]
        for th in threads:
            th.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] >= 8, "all parked")
        env.origin.release("later")
        for th in threads:
            th.join()
        eq({(r.status, r.body) for r in out}, {(200, first.body)}, "the stored body")
        eq(env.origin.count(t), 3, "one conditional request for eight clients")
        eq(env.proxy.stats()["revalidations"]["not_modified"], 2, "304s")


def test_age_restarts_after_a_304():
    """The stored response arrived 2 s old (Age: 2); once a 304 validates it, it is as old
    as the 304 (no Age: ~0 s), not 2 s plus the time it was stored."""
    with Env() as env:
        t = "/age304?etag=g1&cc=max-age%3D4&hdr=Age:2&size=100"
        first = get_stored_then_expired(env, t)
        eq(first.header("Age"), "2", "the origin's Age")
        eq(env.get(t).header("X-Cache"), "REVALIDATED", "validated by a 304")
        wait_for(lambda: env.get(t).header("X-Cache") == "HIT", "the refreshed store")
        hit = env.get(t)
        check(int(hit.header("Age")) <= 1, "Age after the 304: %s" % hit.header("Age"))


def test_which_statuses_are_stored():
    """A 302 and a 503 with max-age are stored (explicit freshness, RFC 9111 §3); a 503
    without explicit freshness is not; with cache.store_server_errors off, no 503 is."""
    with Env() as env:
        redirect = "/redir?status=302&cc=max-age%3D60&hdr=Location:/elsewhere"
        eq(env.get(redirect).status, 302, "redirect status")
        wait_for(lambda: env.get(redirect).header("X-Cache") == "HIT", "the redirect stored")
        eq(env.get(redirect).header("Location"), "/elsewhere", "its Location")
        eq(env.origin.count(redirect), 1, "origin requests for the redirect")
        outage = "/outage?status=503&cc=max-age%3D60"
        eq(env.get(outage).status, 503, "the 503")
        wait_for(lambda: env.get(outage).header("X-Cache") == "HIT", "the 503 stored")
        eq(env.origin.count(outage), 1, "origin requests for the 503 the origin said to keep")
        bare = "/outage-bare?status=503"
        for _ in range(2):
            eq(env.get(bare).header("X-Cache"), "MISS", "a 503 without freshness each time")
            # A client can have the whole response a moment before the fetcher unlists its
            # flight; a request in between would join it.
            wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flight unlisted")
        eq(env.origin.count(bare), 2, "origin requests for the bare 503")
    with Env({"cache": {"store_server_errors": False}}) as env:
        outage = "/outage?status=503&cc=max-age%3D60"
        for _ in range(3):
            r = env.get(outage)
            eq((r.status, r.header("X-Cache")), (503, "MISS"), "503 each time from the origin")
            wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flight unlisted")
        eq(env.origin.count(outage), 3, "origin requests for the 503")


def test_a_conditional_request_on_a_miss_gets_304_when_the_response_matches():
    """RFC 9110 §13.1: a client's If-None-Match is answered from the response the flight
    brought, not only from a stored one: 304 when it names the entity tag, 200 when not."""
    with Env() as env:
        t = "/cond-miss?etag=v1&cc=max-age%3D60&size=500&delay_ms=200"
        same = env.get(t, {"If-None-Match": '"v1"'})
        eq((same.status, same.body, same.header("ETag")), (304, b"", '"v1"'),
           "a matching conditional on a miss")
        env.wait_stored()
        other = env.get(t, {"If-None-Match": '"v0"'})
        eq((other.status, len(other.body)), (200, 500), "another tag gets the response")
        eq(env.origin.count(t), 1, "one origin fetch, whole (the client's tag not sent)")


def test_a_304_does_not_grow_the_stored_head_past_what_can_be_sent():
    # A 304's new fields are added to the stored ones (RFC 9111 §4.3.4). A 15 KB head
    # refreshed by a 304 with 15 KB of new fields became a 30 KB head, which libmicrohttpd
    # could send beside a small request head only: a hit for a request head within the
    # budget (docs/security.md) was closed without an answer. Over 16 KiB, the stored
    # fields stay as they are.
    with Env() as env:
        t = "/grow?cc=max-age=1&etag=v1&pad_head=15000&pad_304=15000"
        eq(env.get(t).status, 200, "the first fetch")
        env.wait_stored()
        env.advance_clock(5)
        r = env.get(t)
        eq((r.status, r.header("X-Cache")), (200, "REVALIDATED"), "the refresh")
        fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 300) for i in range(40))
        head = b"GET " + t.encode() + b" HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n"
        s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10)
        try:
            s.sendall(head)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                check(chunk, "an answer to a request head of 40 fields (13 KB), got %r" % data)
                data += chunk
            eq(int(data.split(b" ")[1]), 200, "its status")
            check(re.search(rb"\r\nx-pad-0:", data, re.I), "the stored fields")
        finally:
            s.close()
        size = sum(len(k) + len(v) + 4 for k, v in r.headers)
        check(size < 16384 + 1024, "the refreshed head is %d bytes" % size)
        check(r.header("X-Pad304-0") is None, "the 304's fields were not added")
