"""t50: responses that belong to one user are never shared: private, Set-Cookie,
credentials in the key; hit-for-pass keeps later requests from queueing."""
import threading
from urllib.parse import quote

from harness import Env, eq, check, parallel, wait_for


def concurrent_followers(env, t, n=5):
    out = [None] * n

    def one(i):
        out[i] = env.get(t)
    first = threading.Thread(target=one, args=(0,))
    first.start()
    wait_for(lambda: env.origin.count(t) == 1, "the leader's fetch")
    rest = [threading.Thread(target=one, args=(i,)) for i in range(1, n)]
    for th in rest:
        th.start()
    wait_for(lambda: env.proxy.stats()["waiters_now"] >= n, "all clients parked")
    env.origin.release(t.split("hold=")[1].split("&")[0])
    for th in [first] + rest:
        th.join()
    return out


def check_each_own(env, out, t, n=5):
    eq([r.status for r in out], [200] * n, "statuses")
    eq(len(set(r.body for r in out)), n, "distinct bodies (each its own origin response)")
    eq(env.origin.count(t), n, "origin requests")
    eq(out[0].header("X-Cache"), "MISS", "leader X-Cache")
    eq(sorted(r.header("X-Cache") for r in out[1:]), ["PASS"] * (n - 1), "followers X-Cache")


def test_private_followers_fetch_their_own():
    with Env() as env:
        t = "/priv?hold=P1&cc=private"
        out = concurrent_followers(env, t)
        check_each_own(env, out, t)
        # Hit-for-pass: the next request does not wait behind a flight (the hold is
        # released, so the origin answers at once).
        r = env.get(t)
        eq(r.header("X-Cache"), "PASS", "request during hit-for-pass")


def test_set_cookie_followers_fetch_their_own():
    with Env() as env:
        t = "/cookie?hold=C1&set_cookie=1&cc=max-age=60"
        out = concurrent_followers(env, t)
        check_each_own(env, out, t)
        cookies = set(r.header("Set-Cookie") for r in out)
        eq(len(cookies), 5, "distinct Set-Cookie values")
        eq(env.proxy.stats()["cache"]["objects"], 0, "nothing cached")


def test_authorization_values_never_share():
    with Env() as env:
        t = "/auth?delay_ms=500&cc=max-age=60&echo=1"
        res = parallel(6, lambda i: env.get(t, {"Authorization": "Bearer user%d" % (i % 2)}))
        eq(env.origin.count(t), 2, "origin requests for two credentials")
        for i, r in enumerate(res):
            check(b"Bearer user%d" % (i % 2) in r.body, "client %d got its own user's response" % i)
        # max-age alone does not make a response to Authorization storable (RFC 9111 §3.5).
        eq(env.get(t, {"Authorization": "Bearer user0"}).header("X-Cache"), "MISS",
           "response to Authorization not stored")


def test_cookie_request_keyed_by_cookie():
    with Env() as env:
        t = "/ck?delay_ms=500&cc=max-age=60&echo=1"
        res = parallel(4, lambda i: env.get(t, {"Cookie": "id=%d" % (i % 2)}))
        eq(env.origin.count(t), 2, "origin requests for two cookies")
        for i, r in enumerate(res):
            check(b"id=%d" % (i % 2) in r.body, "client %d got its own cookie's response" % i)


def test_vary_star_not_shared():
    with Env() as env:
        t = "/vary?hold=V1&vary=*&cc=max-age=60"
        out = concurrent_followers(env, t, 3)
        check_each_own(env, out, t, 3)


def test_qualified_private_withholds_only_the_named_fields():
    """RFC 9111 §5.2.2.7: private="Set-Cookie" keeps the cookie to the client whose request
    brought the response; the rest is shared and stored."""
    with Env() as env:
        t = "/qpriv?hold=Q1&set_cookie=1&cc=" + quote('private="Set-Cookie", max-age=60') + \
            "&hdr=" + quote('X-Secret:s1') + "&hdr=" + quote('Cache-Control:no-cache="X-Secret"')
        out = concurrent_followers(env, t, 4)
        eq([r.status for r in out], [200] * 4, "statuses")
        eq(env.origin.count(t), 1, "one origin request")
        eq(len(set(r.body for r in out)), 1, "one shared body")
        eq(out[0].header("Set-Cookie"), "session=1; Path=/", "the leader gets its cookie")
        eq(out[0].header("X-Secret"), "s1", "and the no-cache field")
        eq([(r.header("Set-Cookie"), r.header("X-Secret")) for r in out[1:]], [(None, None)] * 3,
           "followers get neither")
        env.wait_stored()
        hit = env.get(t)
        eq((hit.header("X-Cache"), hit.header("Set-Cookie"), hit.header("X-Secret")),
           ("HIT", None, None), "the stored response has neither")
