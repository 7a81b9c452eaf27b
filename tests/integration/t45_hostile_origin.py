"""t45: hostile origins. A raw-socket origin (tests/origin/hostile_origin.py) answers with
framing faults; every waiter of the flight gets 502, nothing is stored, no client ever
sees a split header, and the next ordinary request is served (RFC 9112 §4-§6)."""
from harness import (Env, HOSTILE_ORIGIN, eq, check, parallel, raw_connect, raw_get,
                     read_response)


def hostile():
    return Env(origin_script=HOSTILE_ORIGIN)


def cases(env):
    return env.origin.stats()["cases"]


def refused_for_all(env, case, clients=5):
    """Every client of one flight gets 502; then again (nothing was stored)."""
    t = "/r?case=%s&delay_ms=300" % case
    res = parallel(clients, lambda i: env.get(t))
    eq([r.status for r in res], [502] * clients, "%s: statuses of the flight's clients" % case)
    for r in res:
        check(r.header("Set-Cookie") is None and r.header("X-A") is None,
              "%s: no field of the refused head reached a client: %r" % (case, r.headers))
    eq(cases(env).get(case), 1, "%s: origin requests for the collapsed flight" % case)
    eq(env.get(t).status, 502, "%s: the next request" % case)
    eq(cases(env).get(case), 2, "%s: not stored: the next request asked again" % case)
    ok = env.get("/r?case=ok")
    eq((ok.status, ok.body), (200, b"hello"), "%s: an ordinary response after it" % case)


def test_ambiguous_framing_is_502():
    with hostile() as env:
        for case in ("cl_te", "cl_differ", "cl_junk", "te_unknown"):
            refused_for_all(env, case)
        eq(env.proxy.stats()["cache"]["objects"], 1, "stored: the ordinary response only")


def test_decodable_transfer_codings_are_read_and_decoded():
    # RFC 9112 §6.3: gzip as the last coding means the body ends at the close; either way
    # libcurl decodes it, and what is served and stored is the plain body, without the
    # hop-by-hop Transfer-Encoding.
    with hostile() as env:
        for n, case in enumerate(("te_gzip_close", "te_gzip_chunked"), 1):
            t = "/r?case=" + case
            r = env.get(t)
            eq((r.status, r.body), (200, b"hello"), "%s: the decoded body" % case)
            check(r.header("Transfer-Encoding") in (None, "chunked"),
                  "%s: the origin's coding is not passed on: %r" % (case, r.headers))
            env.wait_stored(n)
            hit = env.get(t)
            eq((hit.header("X-Cache"), hit.body), ("HIT", b"hello"), "%s: stored decoded" % case)


def test_same_content_length_twice_is_one_length():
    with hostile() as env:
        r = env.get("/r?case=cl_same_twice")
        eq((r.status, r.body), (200, b"hello"), "response")
        eq(env.get("/r?case=cl_same_twice").header("X-Cache"), "HIT", "stored")


def test_status_outside_100_599_is_502():
    with hostile() as env:
        for case in ("status_1000", "status_099"):
            refused_for_all(env, case)


def test_fields_that_would_split_are_502():
    with hostile() as env:
        for case in ("bare_cr", "nul", "space_colon", "no_colon", "fold_first"):
            refused_for_all(env, case)


def test_obs_fold_from_origin_becomes_a_space():
    with hostile() as env:
        r = env.get("/r?case=folded")
        eq((r.status, r.header("X-A")), (200, "a b"), "folded field (RFC 9112 §5.2)")


def test_head_too_large_is_502_and_a_large_one_is_served_from_the_store():
    with hostile() as env:
        refused_for_all(env, "huge_head", clients=3)
        refused_for_all(env, "many_fields", clients=3)
        # Read raw: with sfproxy's own fields this is more than http.client takes.
        sock = raw_connect(env.proxy.port, raw_get("/r?case=fields_100"))
        head, body = read_response(sock)
        sock.close()
        check(head.startswith(b"HTTP/1.1 200") and b"\r\nX-F97: v" in head and body == b"hello",
              "a head of exactly 100 fields, passed on: %r" % head[:60])
        # 10 KiB of fields: passed on, stored, and served on every hit.
        stored = env.proxy.stats()["cache"]["objects"]
        for want in ("MISS", "HIT", "HIT"):
            r = env.get("/r?case=big_head")
            eq((r.status, r.header("X-Cache"), r.body), (200, want, b"hello"), "big head")
            eq(len(r.header("X-F23")), 400, "last big field")
            if want == "MISS":
                env.wait_stored(stored + 1)  # a client can have it all before it is stored
