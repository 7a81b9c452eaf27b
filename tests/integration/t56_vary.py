"""t56: Vary (RFC 9111 §4.1): variants of one URL side by side, and flights keyed by the
variant they produce."""
import json
import threading
from urllib.parse import quote

from harness import Env, eq, check, wait_for, request


def lang(r):
    """The Accept-Language the origin saw for the response r (an echo=1 body)."""
    return dict((k.lower(), v) for k, v in json.loads(r.body)["headers"]).get("accept-language")


def serial(r):
    return json.loads(r.body)["serial"]


def test_variants_live_side_by_side():
    with Env() as env:
        t = "/v1?vary=Accept-Language&cc=max-age=60&echo=1"
        first = {}
        for value in ("en", "fr", None):
            r = env.get(t, {"Accept-Language": value} if value else {})
            eq(r.header("X-Cache"), "MISS", "first request for %s" % value)
            eq(lang(r), value, "the origin saw the request's value")
            first[value] = serial(r)
        env.wait_stored(3)
        for value, sent in (("en", "en"), ("fr", "fr"), (None, None), ("en", "  en ")):
            r = env.get(t, {"Accept-Language": sent} if sent else {})
            eq(r.header("X-Cache"), "HIT", "again with %r" % sent)
            eq(serial(r), first[value], "the %s variant" % value)
            eq(r.header("Vary"), "Accept-Language", "Vary kept")
        eq(env.origin.count(t), 3, "origin requests: one per variant")
        st = env.proxy.stats()["cache"]
        eq((st["objects"], st["vary_markers"]), (3, 1), "objects and vary markers")
        # Purging the URL removes every variant.
        r = request(env.proxy.admin_port, "POST", "/_sfproxy/purge?url=" + quote(t, safe=""))
        eq(json.loads(r.body)["purged"], 3, "variants purged")
        eq(env.get(t, {"Accept-Language": "fr"}).header("X-Cache"), "MISS", "after purge")


def run(env, t, value, out, i):
    out[i] = env.get(t, {"Accept-Language": value})


def test_waiters_for_another_variant_leave_the_flight():
    with Env() as env:
        # Nothing is known about the URL yet: everyone joins the first flight.
        t = "/v2?hold=V2&vary=Accept-Language&cc=max-age=60&echo=1"
        values = ["en", "en", "en", "fr", "fr", "de"]
        out = [None] * len(values)
        threads = [threading.Thread(target=run, args=(env, t, v, out, i))
                   for i, v in enumerate(values)]
        threads[0].start()
        wait_for(lambda: env.origin.count(t) == 1, "the leader's fetch")
        for th in threads[1:]:
            th.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] >= len(values), "all parked")
        env.origin.release("V2")
        for th in threads:
            th.join()
        for v, r in zip(values, out):
            eq(r.status, 200, "status for %s" % v)
            eq(lang(r), v, "a %s client got the %s variant" % (v, v))
        eq(len({serial(r) for r in out[:3]}), 1, "the en clients shared one response")
        eq(len({serial(r) for r in out[3:5]}), 1, "the fr clients shared one response")
        # The en response was the flight's; fr and de asked again: one fetch each.
        eq(env.origin.count(t), 3, "origin requests")
        eq(env.proxy.stats()["cache"]["vary_redispatches"], 3, "waiters that left the flight")


def test_known_vary_keys_flights_by_variant():
    with Env() as env:
        t = "/v3?hold_header=Accept-Language&vary=Accept-Language&cc=max-age=60&echo=1"
        env.origin.release("prime")
        eq(env.get(t, {"Accept-Language": "prime"}).status, 200, "priming request")
        out = [None] * 3
        threads = [threading.Thread(target=run, args=(env, t, v, out, i))
                   for i, v in enumerate(["en", "fr", "en"])]
        threads[0].start()
        threads[1].start()
        # The fr request does not wait behind the en flight: the origin sees both.
        wait_for(lambda: env.origin.count(t) == 3, "en and fr fetched at once")
        threads[2].start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] >= 3, "all parked")
        env.origin.release("fr")
        threads[1].join()
        eq(lang(out[1]), "fr", "fr answered while en is still held")
        check(out[0] is None, "en still waiting")
        env.origin.release("en")
        threads[0].join()
        threads[2].join()
        eq(serial(out[0]), serial(out[2]), "the two en clients shared one response")
        eq(out[2].header("X-Cache"), "COLLAPSED", "second en client")
        eq(env.origin.count(t), 3, "origin requests")
        eq(env.proxy.stats()["cache"]["vary_redispatches"], 0, "nobody left a flight")


def encoding_seen(r):
    """The Accept-Encoding the origin saw for the response r (an echo=1 body)."""
    return dict((k.lower(), v) for k, v in json.loads(r.body)["headers"]).get("accept-encoding")


def test_normalized_accept_encoding_makes_few_variants():
    """With cache.normalize_accept_encoding, shared fetches ask for the codings sfproxy
    knows that the client accepts (br, gzip, zstd) or nothing: every spelling of one set
    selects one variant."""
    with Env({"cache": {"normalize_accept_encoding": True}}) as env:
        t = "/enc?vary=Accept-Encoding&cc=max-age=60&echo=1"
        br_gzip = ["gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "BR, x-gzip, identity"]
        gzip_only = ["gzip", "gzip, br;q=0", "deflate, x-gzip"]
        plain_like = ["identity", "deflate", "gzip;q=0"]
        served = {}
        for sent, group in (("br, gzip", br_gzip), ("gzip", gzip_only), (None, plain_like)):
            first = env.get(t, {"Accept-Encoding": group[0]})
            eq(encoding_seen(first), sent, "the origin is asked for %r" % sent)
            served[sent] = serial(first)
            env.wait_stored(len(served))
            for value in group[1:]:
                r = env.get(t, {"Accept-Encoding": value})
                eq((r.header("X-Cache"), serial(r)), ("HIT", serial(first)), "for %r" % value)
        eq(len(set(served.values())), 3, "three variants")
        eq(env.origin.count(t), 3, "origin requests: one per variant")
        # Off (the default), the client's Accept-Encoding is sent as it is.
    with Env() as env:
        t = "/enc?vary=Accept-Encoding&cc=max-age=60&echo=1"
        r = env.get(t, {"Accept-Encoding": "gzip, deflate, br"})
        eq(encoding_seen(r), "gzip, deflate, br", "sent as the client sent it")


def test_accept_language_variants_by_language_ranges():
    # RFC 9110 §12.5.4: case, order and spacing of the ranges do not select another variant;
    # weights do.
    with Env() as env:
        t = "/lang?vary=Accept-Language&cc=max-age=60&echo=1"
        first = env.get(t, {"Accept-Language": "en-US, de"})
        env.wait_stored()
        for same in ("de,en-us", "DE , EN-us", "en-us;q=1.0, de"):
            r = env.get(t, {"Accept-Language": same})
            eq((r.header("X-Cache"), serial(r)), ("HIT", serial(first)), "for %r" % same)
        other = env.get(t, {"Accept-Language": "en-US;q=0.5, de"})
        eq(other.header("X-Cache"), "MISS", "other weights: another variant")
        eq(env.origin.count(t), 2, "origin requests")


def test_a_variant_in_the_language_asked_for_most_serves_it():
    # RFC 9110 §12.5.4: a page stored in de (for "en, de") serves "fr;q=0.5, de", whose
    # most preferred language is de; not "fr, de;q=0.5".
    with Env() as env:
        t = "/langmatch?vary=Accept-Language&cc=max-age=60&echo=1&hdr=Content-Language:de"
        first = env.get(t, {"Accept-Language": "en, de"})
        env.wait_stored()
        r = env.get(t, {"Accept-Language": "fr;q=0.5, de"})
        eq((r.header("X-Cache"), serial(r)), ("HIT", serial(first)), "the de page")
        other = env.get(t, {"Accept-Language": "fr, de;q=0.5"})
        eq(other.header("X-Cache"), "MISS", "fr preferred: asked for")
        eq(env.origin.count(t), 2, "origin requests")


def test_variants_per_url_are_bounded():
    # cache.max_variants: a URL keeps at most that many stored variants; each one more
    # evicts its least recently used variant (counted), so the URL's memory stays that of
    # max_variants responses however many values clients send.
    with Env({"cache": {"max_variants": 8}}) as env:
        t = "/many?vary=Accept-Language&cc=max-age=60&echo=1"
        values = ["x-%02d" % i for i in range(20)]
        for i, value in enumerate(values):
            r = env.get(t, {"Accept-Language": value})
            eq((r.status, r.header("X-Cache"), lang(r)), (200, "MISS", value), "first " + value)
            want = (min(i + 1, 8), max(0, i - 7))
            wait_for(lambda: tuple(env.proxy.stats()["cache"][k]
                                   for k in ("variants", "variant_evictions")) == want,
                     "variants stored and evicted after %s" % value)
            if i == 7:
                full = env.proxy.stats()["cache"]["bytes"]
            if i == 15:  # x-08 is the least recently used now: a hit keeps it
                eq(env.get(t, {"Accept-Language": "x-08"}).header("X-Cache"), "HIT", "x-08")
        st = env.proxy.stats()["cache"]
        eq((st["variants"], st["objects"], st["variant_evictions"]), (8, 8, 12),
           "variants kept, objects, variants evicted")
        eq(st["vary_markers"], 1, "one URL varies")
        check(full <= st["bytes"] <= full + 8 * 4,
              "charged as 8 variants: %d bytes then, %d now" % (full, st["bytes"]))
        for value in ["x-08"] + values[13:]:
            r = env.get(t, {"Accept-Language": value})
            eq((r.header("X-Cache"), lang(r)), ("HIT", value), "kept " + value)
        eq(env.get(t, {"Accept-Language": "x-09"}).header("X-Cache"), "MISS", "x-09 evicted")
        wait_for(lambda: env.proxy.stats()["cache"]["variant_evictions"] == 13, "x-09 stored")
        m = request(env.proxy.admin_port, "GET", "/metrics").body.decode()
        for line in ("sfproxy_cache_variants 8", "sfproxy_cache_variant_evictions_total 13"):
            check(line in m.splitlines(), "/metrics has %r" % line)
