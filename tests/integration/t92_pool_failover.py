"""t92_pool_failover: an upstream pool's servers failing under real clients (issue 21). Three
real origins behind round_robin with health probes, one killed and started again while
clients make 600 requests: no client sees an error, the dead one gets no attempt once
probes found it down, and requests again soon after it is back. A hash pool whose owner of
a cold key is dead: 500 clients, one origin request, on the key's next server. Retries
before the head: a 503 the pool counts as failing, a reset, a refused connection, each
moved to the next server unseen by any waiter; a POST only when nothing of it was sent.
Passive marking: max_fails failures take a server out for fail_timeout, then it is tried
again."""
import threading
import time

from harness import MULT, check, eq, free_port, parallel, request
from poolharness import PoolEnv, expected_body, origins, served_by

# fall 3, not 2: a live origin (Python) starved of CPU for a probe's timeout by the tests
# running beside it (under sanitizers above all) must not be taken for a dead one, which
# would leave every server down at once, and then all are tried (seen with fall 2).
INTERVAL, FALL, RISE = 0.2, 3, 2
# Scheduling: the prober's and this test's threads on a shared machine (stretched, as every
# wait is, under sanitizers; the window checked stays over half a second long).
TOLERANCE = 0.3 * min(MULT, 3)


def stamp(t):
    """time.time() t as the log's ISO timestamps write it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (t % 1 * 1000)


def state_lines(env, o):
    return [l for l in env.proxy.output().splitlines()
            if "upstream api: server %s " % o.name in l]


def test_a_killed_server_gets_nothing_once_down_and_traffic_again_once_up():
    o1, o2, o3 = origins(3)
    # timeout as long as the interval allows, for the same reason as fall 3.
    settings = {"balance": "round_robin", "retries": 2,
                "health": {"path": "/healthz", "interval": "200ms", "timeout": "200ms",
                           "fall": FALL, "rise": RISE, "status": [200]},
                # Off, so that only the probes decide (passive marking is test_f's).
                "passive": {"max_fails": 0}}
    with PoolEnv([o1, o2, o3], settings) as env:
        for o in (o1, o2, o3):
            env.wait_state(o, "up")
        # 600 requests over 6 s, and on (at that pace) until 2 s after o2's return, however
        # late a loaded machine lets it start again.
        size = 2000
        results = {}
        start = time.time() + 0.2
        marks = {"stop_after": start + 6.0}
        nxt = [0]
        lock = threading.Lock()

        def target(i):
            if i % 2:  # pass-through: the same no-store target, each a fetch of its own
                return "/a/pass?size=%d" % size
            return "/a/c%d?size=%d&cc=max-age%%3D60" % (i, size)  # cacheable, cold

        def client():
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= 600 and time.time() > marks["stop_after"]:
                    return
                delay = start + i * 0.01 - time.time()
                if delay > 0:
                    time.sleep(delay)
                t = target(i)
                sent = time.time()
                try:
                    r = request(env.proxy.port, "GET", t, {"X-Request-Id": "a-%d" % i})
                    results[i] = (t, sent, time.time(), r.status, r.body, r.error)
                except Exception as e:  # a refused or cut connection is a client's error
                    results[i] = (t, sent, time.time(), None, b"", repr(e))

        def chaos():
            time.sleep(max(0, start + 2.0 - time.time()))
            o2.kill()
            marks["dead"] = time.time()
            # From fall x interval after its death on, o2 is down: no attempt reaches it.
            time.sleep(max(0, marks["dead"] + FALL * INTERVAL + TOLERANCE - time.time()))
            marks["window"] = time.time()
            marks["requests_at_window"] = env.servers()[o2.name]["requests"]
            time.sleep(max(0, start + 4.0 - time.time()))
            marks["requests_at_return"] = env.servers()[o2.name]["requests"]
            marks["state_at_return"] = env.servers()[o2.name]["state"]
            marks["before_return"] = time.time()
            o2.start()
            marks["back"] = time.time()
            marks["stop_after"] = max(marks["stop_after"], marks["back"] + 2.0)

        threads = [threading.Thread(target=client) for _ in range(12)]
        threads.append(threading.Thread(target=chaos))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * MULT)
        check(len(results) >= 600, "requests made: %d" % len(results))
        bad = [(r[0], r[3], len(r[4]), r[5]) for r in results.values()
               if r[3] != 200 or r[5] or r[4] not in [expected_body(o.id, r[0], size)
                                                       for o in (o1, o2, o3)]]
        eq(bad[:5], [], "clients that saw an error or a body not whole (of %d)" % len(results))
        eq(state_lines(env, o1) + state_lines(env, o3), [],
           "state lines of o1 and o3, which stayed up (else every server may have been down "
           "at once, and then all are tried)")
        eq(marks["requests_at_return"], marks["requests_at_window"],
           "attempts on o2 from %.1f s after its death to its return (stats requests; "
           "the log's state lines, o2 dead at %s: %r)"
           % (FALL * INTERVAL + TOLERANCE, stamp(marks["dead"]), state_lines(env, o2)))
        eq(marks["state_at_return"], "down (probes)", "o2's state just before it returned")

        lines = env.log.by_rid(["a-%d" % i for i in results])
        window, after_death, back = [], [], []
        for i, (t, sent, done, status, body, err) in sorted(results.items()):
            tries, addr = env.log.upstream(lines["a-%d" % i])
            if not addr:
                continue  # a follower of a flight: the leader's line has the fields
            eq(tries, len(addr), "upstream_tries against upstream_addr in %r" % lines["a-%d" % i])
            if sent >= marks["window"] and done <= marks["before_return"]:
                window.append(addr)
            if marks["dead"] <= sent and done <= marks["window"]:
                after_death.append(addr)
            if sent >= marks["back"] + RISE * INTERVAL + TOLERANCE:
                back.append(addr)
        check(len(window) >= 10, "requests that fetched while o2 was down: %d" % len(window))
        eq([a for a in window if o2.name in a], [], "upstream_addr naming o2 while it was down")
        check(any(a[0] == o2.name and len(a) == 2 for a in after_death),
              "a fetch tried the dead o2 before the probes found it, then another server: %r"
              % after_death[:20])
        check(all(o2.name not in a[1:] and len(set(a)) == len(a) for a in after_death),
              "a retry never goes back to the server it left: %r" % after_death[:20])
        arrived = [a for a in o2.arrivals() if a[1] == "GET"]
        check(arrived, "o2 got requests again after its return")
        first = arrived[0][0] - marks["back"]
        check(first <= RISE * INTERVAL + TOLERANCE,
              "o2's first request came %.3f s after its return (rise x interval %.1f s + %.1f s)"
              % (first, RISE * INTERVAL, TOLERANCE))
        check(sum(o2.name in a for a in back) >= 10,
              "o2 in the rotation again: %d of %d fetches" % (sum(o2.name in a for a in back),
                                                            len(back)))
        eq(env.servers()[o2.name]["state"], "up", "o2's state at the end")
        # Each change of state is one log line (h-poolrt's wording: "upstream api: server
        # NAME down (probes: ...)", "... up (probes: ...)").
        o2_said = state_lines(env, o2)
        eq(len(o2_said), 2, "o2's state lines: %r" % o2_said)
        check(" down " in o2_said[0] and " up " in o2_said[1], "down, then up: %r" % o2_said)


def test_b_hash_owner_dead_500_clients_one_fetch_on_the_next_server():
    servers = origins(4)
    settings = {"balance": "hash", "retries": 3,
                # No probes: the owner's death is learnt by the fetch that tries it.
                "passive": {"max_fails": 1, "fail_timeout": "1s"}}
    with PoolEnv(servers, settings) as env:
        size = 50000
        k = "/b/cold?size=%d&cc=max-age%%3D60&delay=1000" % size
        owner_id = served_by(env.get(k), k)
        owner = [o for o in servers if o.id == owner_id][0]
        rest = [o for o in servers if o is not owner]
        eq(env.purge(k).get("purged"), 1, "the key purged: cold again")
        owner.kill()
        res = parallel(500, lambda i: env.get(k, {"X-Request-Id": "b-%d" % i}))
        bad = [r for r in res if isinstance(r, Exception) or r.status != 200 or r.error]
        eq(bad[:3], [], "clients that did not get a 200 whole")
        eq(len(set(r.body for r in res)), 1, "every client the same body")
        nxt = served_by(res[0], k)
        check(nxt != owner.id, "served by another server than the dead owner")
        eq(res[0].body, expected_body(nxt, k, size), "the whole body")
        eq(sum(o.count()["targets"].get(k, 0) for o in rest), 1,
           "origin requests for 500 clients, all servers left together")
        lines = env.log.by_rid(["b-%d" % i for i in range(500)])
        led = [env.log.upstream(l) for l in lines.values() if env.log.upstream(l)[1]]
        nxt_name = [o.name for o in rest if o.id == nxt][0]
        eq(led, [(2, [owner.name, nxt_name])],
           "the one line with upstream fields: the dead owner tried, then the next server")
        # The next server is the key's second choice, not a chance one: with the owner
        # still dead (and now known so), the key goes there again.
        eq(env.purge(k).get("purged"), 1, "purged again")
        eq(served_by(env.get(k), k), nxt, "the key's server while its owner is dead")
        # And the owner back, its passive down over: the key goes to it again.
        owner.start()
        time.sleep(1.1)  # passive.fail_timeout since its last failure (and more)
        eq(env.purge(k).get("purged"), 1, "purged once more")
        eq(served_by(env.get(k), k), owner.id, "the key's own server once it is back")


def test_f_503_reset_and_refused_are_retried_unseen():
    o1, o2 = origins(2)
    o1.mode("status=503")
    settings = {"balance": "round_robin", "retries": 1,
                "passive": {"max_fails": 0, "statuses": [503]}}
    with PoolEnv([o1, o2], settings) as env:
        # Pass-through GETs: whichever starts on o1 gets its 503, then o2's 200.
        rids = []
        for i in range(6):
            t = "/f/pass%d?size=300" % i
            r = env.get(t, {"X-Request-Id": "f-%d" % i})
            eq((r.status, r.body), (200, expected_body("o2", t, 300)), "GET %s" % t)
            rids.append("f-%d" % i)
        ups = [env.log.upstream(l) for l in env.log.by_rid(rids).values()]
        for u in ups:
            check(u in ((1, [o2.name]), (2, [o1.name, o2.name])), "upstream fields %r" % (u,))
        retried = sum(u[0] == 2 for u in ups)
        check(retried >= 2, "GETs that went to o1 first and were retried: %d of 6" % retried)
        eq(o1.total(), retried, "o1's requests: one per retried GET")
        # Shared fetches: ten waiters on each of four cold keys; a flight that met o1's
        # 503 is retried on o2, and none of its waiters sees the 503.
        keys = ["/f/shared%d?size=5000&cc=max-age%%3D60&delay=500" % j for j in range(4)]
        before = o1.total()
        res = parallel(40, lambda i: env.get(keys[i % 4]))
        for i, r in enumerate(res):
            check(not isinstance(r, Exception), "client %d: %r" % (i, r))
            eq((r.status, r.body), (200, expected_body("o2", keys[i % 4], 5000)),
               "client %d of %s" % (i, keys[i % 4]))
        eq([o2.count()["targets"].get(k, 0) for k in keys], [1] * 4, "one fetch per key on o2")
        check(o1.total() - before >= 1, "some flight started on o1 and was retried")

    # A refused connection: nothing was sent, so a POST is retried too.
    dead = "http://127.0.0.1:%d" % free_port()
    (o3,) = origins(1, "p")
    with PoolEnv([dead, o3], {"balance": "round_robin", "retries": 1,
                              "passive": {"max_fails": 0}}) as env:
        rids = []
        for i in range(4):
            t = "/f/post%d" % i
            r = env.get(t, {"X-Request-Id": "fp-%d" % i}, method="POST", body=b"x" * 1000)
            eq((r.status, r.body), (200, expected_body("p1", t, 0)), "POST %s" % t)
            eq(o3.count()["targets"].get(t), 1, "the POST reached the live server once")
            rids.append("fp-%d" % i)
        ups = [env.log.upstream(l) for l in env.log.by_rid(rids).values()]
        dead_name = dead[len("http://"):]
        check(all(u in ((1, [o3.name]), (2, [dead_name, o3.name])) for u in ups),
              "upstream fields %r" % ups)
        check(any(u[0] == 2 for u in ups), "a POST tried the refusing server first: %r" % ups)

    # A server that took the POST whole and reset (or hangs): the POST may have done its
    # work there, so it is not sent again; a GET is.
    for action in ("reset", "hang"):
        bad, good = origins(2, action[0])
        bad.mode("action=" + action)
        with PoolEnv([bad, good], {"balance": "round_robin", "retries": 1,
                                   "passive": {"max_fails": 0}},
                     {"timeouts": {"first_byte": "1s", "upstream_idle": "2s"}}) as env:
            sent_bad = 0
            for i in range(4):
                t = "/f/%s%d" % (action, i)
                r = env.get(t, method="POST", body=b"y" * 1000)
                on_bad = bad.count()["targets"].get(t, 0)
                on_good = good.count()["targets"].get(t, 0)
                eq(on_bad + on_good, 1, "POST %s sent to one server only" % t)
                if on_bad:
                    sent_bad += 1
                    check(r.status in (502, 504), "POST %s after a %s: %r" % (t, action, r))
                else:
                    eq((r.status, r.body), (200, expected_body(good.id, t, 0)), "POST %s" % t)
            check(sent_bad >= 1, "a POST went to the %s server first" % action)
            if action == "reset":  # a hung attempt may use all of timeouts.first_byte
                for i in range(4):
                    t = "/f/%sget%d?size=100" % (action, i)
                    eq(env.get(t).body, expected_body(good.id, t, 100), "GET %s retried" % t)


def test_l_passive_failures_take_a_server_out_for_fail_timeout():
    o1, o2 = origins(2)
    o1.mode("status=503")
    settings = {"balance": "round_robin", "retries": 1,
                "passive": {"max_fails": 2, "fail_timeout": "2s", "statuses": [503]}}
    with PoolEnv([o1, o2], settings) as env:
        for i in range(20):
            t = "/l/a%d?size=10" % i
            eq(env.get(t).body, expected_body("o2", t, 10), "GET %s, o1's 503 retried" % t)
            if env.servers()[o1.name]["state"] != "up":
                break
        down_at = time.monotonic()
        s = env.servers()[o1.name]
        eq((s["state"], s["failures"], o1.total()), ("down (passive)", 2, 2),
           "o1 after max_fails failures")
        for i in range(10):
            t = "/l/b%d?size=10" % i
            eq(env.get(t).body, expected_body("o2", t, 10), "GET " + t)
        eq(o1.total(), 2, "requests reaching o1 while it is down (passive)")
        o1.mode("status=200")
        time.sleep(max(0, down_at + 2.2 - time.monotonic()))  # fail_timeout over
        back = spread_ids(env, "/l/c", 10)
        check("o1" in back, "o1 tried again after fail_timeout: %s" % back)
        eq(env.servers()[o1.name]["state"], "up", "o1's state")


def spread_ids(env, prefix, n):
    out = []
    for i in range(n):
        t = "%s%d?size=10" % (prefix, i)
        r = env.get(t)
        eq(r.status, 200, "GET " + t)
        out.append(served_by(r, t))
    return out
