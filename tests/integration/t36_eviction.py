"""t36: the cache evicts by S3-FIFO (lib/evict.c): a hot set asked for several times
survives a scan of keys asked for once, more bytes than the whole cache (an LRU loses
every hot key to it), and the policy's counters in /stats and /metrics say what it did;
the bytes charged stay within cache.max_bytes throughout; a large body leaves small before
the older small ones."""
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


def test_a_large_body_leaves_small_before_older_small_ones():
    """Fetches are counted per request: small evicts the oldest node of the size class
    whose oldest has the largest charge^4 * age, so a 256 KiB body leaves before the 8 KiB
    ones stored before it (a plain FIFO would evict the oldest, /small/0)."""
    with Env({"cache": {"max_bytes": MAX_BYTES, "max_object_bytes": 1 << 20}}) as env:
        def small(k):
            return "/small/%d?size=%d&cc=max-age=600" % (k, SIZE)
        big = "/big?size=%d&cc=max-age=600" % (256 * 1024)
        for k in range(10):
            eq(env.get(small(k)).status, 200, "small key %d" % k)
        wait_for(lambda: env.proxy.stats()["cache"]["stores"] == 10, "the first ten stored")
        eq(len(env.get(big).body), 256 * 1024, "the large body")
        wait_for(lambda: env.proxy.stats()["cache"]["stores"] == 11, "the large body stored")
        k = 10
        while env.proxy.stats()["cache"]["evictions"] == 0:
            eq(env.get(small(k)).status, 200, "small key %d" % k)
            wait_for(lambda: env.proxy.stats()["cache"]["stores"] == k + 2, "key %d stored" % k)
            k += 1
        st = env.proxy.stats()["cache"]
        eq((st["evictions"], st["evictions_small"]), (1, 1), "one eviction, from small: %s" % st)
        eq(env.get(small(0)).header("X-Cache"), "HIT", "the oldest small body, still cached")
        eq(env.get(big).header("X-Cache"), "MISS", "the large body, evicted")
        eq(env.origin.count(small(0)), 1, "origin fetches of /small/0")
        eq(env.origin.count(big), 2, "origin fetches of the large body")
