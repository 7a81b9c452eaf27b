"""t20: the singleflight core: many clients, one origin request, identical bytes."""
import threading

from harness import Env, eq, check, parallel, wait_for, raw_connect, raw_get, read_until


def test_500_clients_one_cold_key():
    with Env() as env:
        t = "/cold?delay_ms=1000&size=20000&cc=max-age=60"
        res = parallel(500, lambda i: env.get(t))
        errors = [r for r in res if isinstance(r, Exception) or r.status != 200 or r.error]
        eq(errors[:3], [], "failed clients")
        eq(env.origin.count(t), 1, "origin requests for 500 concurrent clients")
        bodies = set(r.body for r in res)
        eq(len(bodies), 1, "distinct bodies")
        eq(len(res[0].body), 20000, "body length")
        kinds = sorted(set(r.header("X-Cache") for r in res))
        check(set(kinds) <= {"MISS", "COLLAPSED", "HIT"}, "X-Cache values %s" % kinds)
        eq(sum(r.header("X-Cache") == "MISS" for r in res), 1, "MISS count")
        st = env.proxy.stats()
        eq(st["upstream_requests"], 1, "upstream_requests in stats")


def test_200_keys_5_clients_each():
    with Env() as env:
        res = parallel(1000, lambda i: env.get("/k%d?delay_ms=1000&size=100&cc=max-age=60" % (i % 200)))
        bad = [r for r in res if isinstance(r, Exception) or r.status != 200]
        eq(bad[:3], [], "failed clients")
        eq(env.origin.stats()["total"], 200, "origin requests for 200 keys")
        for k in range(200):
            same = set(res[i].body for i in range(k, 1000, 200))
            eq(len(same), 1, "distinct bodies for key %d" % k)


def test_late_joiner_streams_while_leader_receives():
    with Env() as env:
        size = 400000
        t = "/stream?hold_body=s1&size=%d&cc=max-age=60" % size
        req = raw_get(t)
        leader = raw_connect(env.proxy.port, req)
        # The origin has sent half the body and holds the rest.
        wait_for(lambda: env.proxy.stats()["bytes_from_upstream"] >= size // 2,
                 "the first half to reach sfproxy")
        joiner = raw_connect(env.proxy.port, req)
        # While the origin still holds, the joiner receives headers and the first half.
        got = read_until(joiner, size // 2 + 100)
        check(b"X-Cache: COLLAPSED" in got, "joiner is COLLAPSED: %r" % got[:300])
        head, _, first = got.partition(b"\r\n\r\n")
        check(len(first) > 0, "joiner got body bytes before the origin finished")
        eq(env.origin.count(t), 1, "origin requests while streaming")
        env.origin.release("s1")
        rest_l = read_until(leader)
        rest_j = first + read_until(joiner)
        leader.close()
        joiner.close()
        body_l = rest_l.partition(b"\r\n\r\n")[2]
        eq(len(body_l), size, "leader body length")
        eq(rest_j, body_l, "joiner body equals leader body")
        eq(env.origin.count(t), 1, "origin requests")


def test_head_joins_get_flight():
    with Env() as env:
        t = "/hj?delay_ms=600&size=5000&cc=max-age=60"
        out = {}
        g = threading.Thread(target=lambda: out.update(g=env.get(t)))
        g.start()
        wait_for(lambda: env.proxy.stats()["flights_now"] == 1, "the GET flight")
        h = env.get(t, method="HEAD")
        g.join()
        eq(h.status, 200, "HEAD status")
        eq(h.header("X-Cache"), "COLLAPSED", "HEAD X-Cache")
        eq(h.header("Content-Length"), "5000", "HEAD Content-Length")
        eq(len(out["g"].body), 5000, "GET body")
        eq(env.origin.count(t), 1, "origin requests")
