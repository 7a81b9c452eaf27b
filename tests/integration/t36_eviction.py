"""t36: the cache evicts by S3-FIFO (lib/evict.c): a hot set asked for several times
survives a scan of keys asked for once, more bytes than the whole cache (an LRU loses
every hot key to it), and the policy's counters in /stats and /metrics say what it did;
the bytes charged stay within cache.max_bytes throughout."""
from harness import Env, eq, check, get_json, request, wait_for

MAX_BYTES = 1 << 20
SIZE = 8192
HOT = 20
SCAN = 300  # about 2.7 MiB of 8 KiB bodies: the cache's size well over twice


def hot(i):
    return "/hot/%d?size=%d&cc=max-age=600" % (i, SIZE)


def test_a_scan_does_not_flush_the_hot_set():
    with Env({"cache": {"max_bytes": MAX_BYTES, "max_object_bytes": 65536}}) as env:
        for i in range(HOT):
            eq(env.get(hot(i)).status, 200, "hot key %d fetched" % i)
            wait_for(lambda: env.proxy.stats()["cache"]["objects"] >= i + 1, "hot %d stored" % i)
        for _ in range(2):  # asked for again: no longer one-hit wonders
            for i in range(HOT):
                eq(env.get(hot(i)).header("X-Cache"), "HIT", "hot key %d asked again" % i)
        for k in range(SCAN):
            r = env.get("/scan/%d?size=%d&cc=max-age=600" % (k, SIZE))
            eq((r.status, len(r.body)), (200, SIZE), "scan key %d" % k)
            check(env.proxy.stats()["cache"]["bytes"] <= MAX_BYTES, "charged within the limit")
        wait_for(lambda: env.proxy.stats()["cache"]["stores"] == HOT + SCAN, "the scan stored")
        st = env.proxy.stats()["cache"]
        check(st["evictions"] >= SCAN - 100, "the scan evicted: %s" % st)
        after = [env.get(hot(i)).header("X-Cache") for i in range(HOT)]
        eq(after, ["HIT"] * HOT, "the hot set after the scan")
        for i in range(HOT):
            eq(env.origin.count(hot(i)), 1, "origin fetches of hot key %d" % i)
        st = env.proxy.stats()["cache"]
        # The scan left from the small FIFO; the hot set had moved to main and stayed.
        eq(st["evictions_main"], 0, "evictions from main")
        eq(st["evictions_small"], st["evictions"], "evictions from small")
        check(st["promotions"] >= HOT, "the hot keys moved to main: %s" % st)
        check(0 < st["small_bytes"] <= st["bytes"] <= MAX_BYTES, "bytes: %s" % st)
        metrics = request(env.proxy.admin_port, "GET", "/metrics").body.decode()
        for line in ("sfproxy_cache_evictions_small_total %d" % st["evictions_small"],
                     "sfproxy_cache_evictions_main_total 0",
                     "sfproxy_cache_promotions_total %d" % st["promotions"],
                     "sfproxy_cache_ghost_hits_total %d" % st["ghost_hits"]):
            check(line in metrics.splitlines(), "/metrics has %r" % line)


def test_a_key_evicted_from_small_and_asked_again_goes_to_main():
    """A key evicted from small before it was asked again is remembered (the ghost): its
    next store goes to main, and survives the next scan that small absorbs."""
    with Env({"cache": {"max_bytes": MAX_BYTES, "max_object_bytes": 65536}}) as env:
        back = "/back?size=%d&cc=max-age=600" % SIZE
        eq(env.get(back).status, 200, "the key fetched once")
        for k in range(SCAN):
            env.get("/scan-a/%d?size=%d&cc=max-age=600" % (k, SIZE))
        wait_for(lambda: env.proxy.stats()["cache"]["stores"] == 1 + SCAN, "the scan stored")
        eq(env.get(back).header("X-Cache"), "MISS", "evicted by the scan: asked only once")
        wait_for(lambda: env.proxy.stats()["cache"]["ghost_hits"] == 1, "a ghost hit")
        for k in range(SCAN):
            env.get("/scan-b/%d?size=%d&cc=max-age=600" % (k, SIZE))
        wait_for(lambda: env.proxy.stats()["cache"]["stores"] == 2 + 2 * SCAN, "scan b stored")
        eq(env.get(back).header("X-Cache"), "HIT", "in main, past the second scan")
        eq(env.origin.count(back), 2, "origin fetches of the key")
        st = get_json(env.proxy.admin_port, "/_sfproxy/stats")["cache"]
        eq(st["evictions_main"], 0, "evictions from main")
