"""t82: a reload that swaps routes under load (issue 20). While clients are parked on a
slow flight of a cached route and on slow requests of a pass route, a SIGHUP puts in
force a file where the two paths swap rules: every parked client gets its whole response
by the route it started with (the cached route's flight still one origin fetch, stored
by its ttl; the pass route's requests still one fetch each), new requests follow the new
routes (X-Cache, origin counts), and a keep-alive load loop across the reload loses
nothing."""
import copy
import threading

from harness import Env, MULT, check, eq, request, wait_for
from t81_reload import LoadLoop

TTL = {"cache": {"ttl": "60s"}}
PASS = {"pass": True}
PARKED_SHARED = 20  # on one flight of the cached route
PARKED_PASS = 5  # each on its own request of the pass route


def routes(slow, acct, suffix=""):
    """Routes for /slow/ and /acct/ with these rules (TTL or PASS); suffix renames them."""
    return [dict({"name": "slow" + suffix, "match": {"path_prefix": "/slow/"}}, **slow),
            dict({"name": "acct" + suffix, "match": {"path_prefix": "/acct/"}}, **acct)]


def quiet(env):
    """Waits until no flight runs: a request after a response stored by its flight then
    finds it stored (the client can have its last byte before the fetcher stores it)."""
    wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "every flight ended")


def cached_twice(env, target, what):
    """Two GETs of target on a cached route: a MISS, then a HIT with Age; one origin fetch."""
    before = env.origin.count(target)
    first = env.get(target)
    eq((first.status, first.header("X-Cache")), (200, "MISS"), "%s: the first GET" % what)
    # The client can have its last byte a moment before the fetcher stores the response,
    # and flights of the load loop come and go meanwhile: ask with only-if-cached, which
    # never goes upstream (a 504 until it is stored), until it is a HIT.
    wait_for(lambda: env.get(target, {"Cache-Control": "only-if-cached"}).header("X-Cache")
             == "HIT", "%s: the response stored by the route's ttl (the origin sent no "
             "caching fields; only-if-cached GETs answered from the cache)" % what)
    second = env.get(target)
    eq(second.header("X-Cache"), "HIT", "%s: X-Cache of the next GET" % what)
    check(second.header("Age") is not None, "%s: the HIT has an Age" % what)
    eq(second.body, first.body, "%s: the HIT is the stored response" % what)
    eq(env.origin.count(target) - before, 1, "%s: origin fetches" % what)


def passed_twice(env, target, what):
    """Two GETs of target on a pass route: both PASS, two origin fetches."""
    before = env.origin.count(target)
    got = [env.get(target) for _ in range(2)]
    eq([(r.status, r.header("X-Cache")) for r in got], [(200, "PASS")] * 2,
       "%s: both GETs of a pass route" % what)
    eq(env.origin.count(target) - before, 2, "%s: origin fetches" % what)


def test_a_reload_swaps_routes_under_load_while_clients_are_parked():
    with Env({"routes": routes(TTL, PASS)}) as env:
        p = env.proxy
        cached_twice(env, "/slow/warm?size=100", "before the reload, /slow/ (ttl)")
        passed_twice(env, "/acct/a?size=100", "before the reload, /acct/ (pass)")
        # Parked: clients on one flight of /slow/, and on requests of /acct/ of their own,
        # all held by the origin until released.
        shared = "/slow/held?hold=t82s&size=300000"
        own = "/acct/held?hold=t82p&size=1000"
        port = p.port
        parked = {shared: [None] * PARKED_SHARED, own: [None] * PARKED_PASS}

        def park(target, i):
            parked[target][i] = request(port, "GET", target, timeout=60)
        threads = [threading.Thread(target=park, args=(t, i))
                   for t in (shared, own) for i in range(len(parked[t]))]
        for t in threads:
            t.start()
        wait_for(lambda: p.stats()["waiters_now"] >= PARKED_SHARED - 1,
                 "the /slow/ clients parked on one flight")
        wait_for(lambda: env.origin.count(own) == PARKED_PASS,
                 "%d requests of the pass route at the origin, each its own" % PARKED_PASS)
        eq(env.origin.count(shared), 1, "the /slow/ clients share one origin request")
        load = LoadLoop(p, lambda i: (("/load%d?size=100&cc=max-age%%3D600" % i, 100),
                                      ("/slow/l%d?size=200" % i, 200),
                                      ("/acct/l%d?size=300" % i, 300))[i % 3])
        try:
            load.wait_answered(20, "the load loop under way before the reload")
            cfg = copy.deepcopy(p.cfg)
            cfg["routes"] = routes(PASS, TTL, "-swapped")
            lines = p.reload(cfg)
            check(any("routes (changed, 2 routes)" in line for line in lines),
                  "the reload put the swapped routes in force: %r" % lines)
            # New requests take the new routes: /slow/ passes (although a fresh response
            # of it is stored), /acct/ is cached.
            passed_twice(env, "/slow/warm?size=100", "after the reload, /slow/ (now pass)")
            cached_twice(env, "/acct/b?size=100", "after the reload, /acct/ (now ttl)")
            load.wait_answered(20, "the load loop going on after the reload")
        finally:
            load.stop()
        eq(load.failures, [], "every request of the load loop was answered whole")
        check(load.done > 40, "the load loop ran (%d requests)" % load.done)
        env.origin.release("t82s")
        env.origin.release("t82p")
        for t in threads:
            t.join(60 * MULT)
        got = parked[shared]
        eq(sorted(set((r.status, len(r.body), r.error) for r in got)), [(200, 300000, None)],
           "every client parked on the /slow/ flight got the whole response")
        eq(len(set(r.body for r in got)), 1, "all of them the same one")
        eq(env.origin.count(shared), 1, "from one origin fetch: the route they started with "
           "collapses, although /slow/ passes now")
        got = parked[own]
        eq(sorted(set((r.status, len(r.body), r.error) for r in got)), [(200, 1000, None)],
           "every client of the pass route got its whole response")
        eq(len(set(r.body for r in got)), PARKED_PASS, "each its own one (the origin's serial)")
        eq(env.origin.count(own), PARKED_PASS, "one origin fetch each")
        # The /slow/ flight ended under the new routes, where /slow/ passes, but was stored
        # by the ttl of the route it started with: under the first routes again, a HIT.
        quiet(env)
        cfg = copy.deepcopy(p.cfg)
        cfg["routes"] = routes(TTL, PASS)
        p.reload(cfg)
        r = env.get(shared)
        eq((r.status, r.header("X-Cache"), len(r.body)), (200, "HIT", 300000),
           "the parked flight's response, stored by its route's ttl")
        eq(env.origin.count(shared), 1, "no second origin fetch")
