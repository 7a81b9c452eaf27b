"""t93: responses that vary come back after a restart (issue 22): each variant is a hit for
the requests that select it, with its own body; a variant never stored is a miss."""
import json
import threading
import time

from diskharness import DiskEnv
from harness import check, eq

T = "/v?vary=Accept-Language&cc=max-age=3600&echo=1"


def lang(r):
    return dict((k.lower(), v) for k, v in json.loads(r.body)["headers"]).get("accept-language")


def test_variants_come_back_after_a_restart():
    with DiskEnv() as env:
        bodies = {}
        for value in ("en", "de", None):
            r = env.get(T, {"Accept-Language": value} if value else {})
            eq((r.header("X-Cache"), lang(r)), ("MISS", value), "first request for %s" % value)
            bodies[value] = r.body
        env.wait_written(4)  # three variants and the list of what they vary on
        env.restart()
        for value in ("de", "en", None, "en"):
            r = env.get(T, {"Accept-Language": value} if value else {})
            eq(r.header("X-Cache"), "HIT", "after restart, %s" % value)
            check(r.body == bodies[value], "the %s variant's body" % value)
            eq(r.header("Vary"), "Accept-Language", "Vary kept")
        eq(env.origin.count(T), 3, "origin requests: one per variant, before the restart")
        r = env.get(T, {"Accept-Language": "fr"})
        eq((r.header("X-Cache"), lang(r)), ("MISS", "fr"), "a variant never stored")
        eq(env.origin.count(T), 4, "origin requests")


def test_stale_while_revalidate_never_serves_another_variant():
    """After a restart memory has no vary marker: the first request's flight is listed
    under the URL's bare key, and a stale variant the disk gave it to revalidate must not
    be served (stale-while-revalidate) to a request for another variant (review #2)."""
    with DiskEnv() as env:
        t = ("/vswr?vary=Accept-Language&cc=max-age=1,stale-while-revalidate=600&echo=1"
             "&delay_ms=1500")
        for value in ("en", "de"):
            eq(lang(env.get(t, {"Accept-Language": value})), value, "first " + value)
        env.wait_written(3)
        env.restart()
        time.sleep(2.5)  # both variants stale on disk, within stale-while-revalidate
        out = {}
        th = threading.Thread(
            target=lambda: out.setdefault("en", env.get(t, {"Accept-Language": "en"})))
        th.start()
        time.sleep(0.4)  # en's flight is waiting on the slow origin
        de = env.get(t, {"Accept-Language": "de"})
        th.join()
        eq(lang(out["en"]), "en", "the en request gets the en variant")
        eq(lang(de), "de", "the de request gets the de variant, never en's")
