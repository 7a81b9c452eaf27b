"""t45: hostile origins. A raw-socket origin (tests/origin/hostile_origin.py) answers with
framing faults; every waiter of the flight gets 502, nothing is stored, no client ever
sees a split header, and the next ordinary request is served (RFC 9112 §4-§6)."""
import socket

from harness import (Env, HOSTILE_ORIGIN, MULT, eq, check, parallel, raw_connect, raw_get,
                     read_response, read_until, rss_kib, wait_for)


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


def test_transfer_codings_other_than_chunked_are_502():
    # sfproxy sends no TE, so a conforming origin applies no coding but chunked (RFC 9112
    # §7.4, RFC 9110 §10.1.4); nginx answers such a response 502 too.
    with hostile() as env:
        for case in ("te_gzip_close", "te_gzip_chunked"):
            refused_for_all(env, case)
        eq(env.proxy.stats()["cache"]["objects"], 1, "stored: the ordinary response only")


def test_a_transfer_coding_bomb_costs_no_memory():
    """Transfer-Encoding: gzip, gzip, chunked: 2 KB on the wire, 1 GiB decoded. Before,
    libcurl decoded it: a client that did not read left ~80 MiB of decoded bytes in the
    paused transfer's buffer, and a reader's stream was cut at ~16 MiB. Now the head is
    refused before a body byte is decoded: 502 for every client, nothing stored, and
    sfproxy's memory does not move."""
    with hostile() as env:
        origin = raw_connect(env.origin.port, raw_get("/r?case=bomb&warm=1"))
        wire = len(read_response(origin)[1])  # the origin builds its bomb (once, ~3 s)
        origin.close()
        check(wire < 4096, "the bomb is small on the wire: %d bytes" % wire)
        pid = env.proxy.proc.pid
        eq(env.get("/r?case=ok").status, 200, "warm-up")
        before = rss_kib(pid)
        idle = []
        for i in range(6):  # clients that read nothing, each on a flight of its own
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            s.connect(("127.0.0.1", env.proxy.port))
            s.sendall(raw_get("/r?case=bomb&n=%d" % i))
            idle.append(s)
        reader = raw_connect(env.proxy.port, raw_get("/r?case=bomb&n=reader"))
        reader.settimeout(30 * MULT)
        got = read_until(reader, 64 << 20)  # more than any refusal: a decoded stream
        reader.close()
        wait_for(lambda: cases(env).get("bomb", 0) >= 8, "every flight at the origin")
        # What a decoding fetch would keep, it would have by the end of its flight (one
        # that decoded for the clients that read nothing would never end).
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "every bomb's flight ended")
        grown = rss_kib(pid) - before
        print("bomb: %d bytes on the wire; sfproxy RSS %d KiB before, grew %d KiB with 7 "
              "clients" % (wire, before, grown))
        check(got.startswith(b"HTTP/1.1 502"), "the reading client: %r" % got[:40])
        check(len(got) < 4096, "the reading client got %d bytes, not a refusal" % len(got))
        for i, s in enumerate(idle):
            s.settimeout(10 * MULT)
            head = read_until(s, 12)
            s.close()
            check(head.startswith(b"HTTP/1.1 502"), "non-reading client %d: %r" % (i, head))
        check(grown < 4096, "sfproxy RSS grew %d KiB for 7 clients of a bomb" % grown)
        eq(env.proxy.stats()["bytes_from_upstream"], 5, "body bytes: the warm-up's alone")
        eq(env.proxy.stats()["cache"]["objects"], 1, "stored: the warm-up only")
        eq(env.get("/r?case=bomb&n=0").status, 502, "the next request")
        eq(cases(env)["bomb"], 9, "not stored: the next request asked the origin again")


def test_same_content_length_twice_is_one_length():
    with hostile() as env:
        r = env.get("/r?case=cl_same_twice")
        eq((r.status, r.body), (200, b"hello"), "response")
        env.wait_stored(1)  # the response can be whole a moment before it is stored
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
        for want in ("MISS", "HIT", "HIT"):
            r = env.get("/r?case=big_head")
            eq((r.status, r.header("X-Cache"), r.body), (200, want, b"hello"), "big head")
            eq(len(r.header("X-F23")), 400, "last big field")
            if want == "MISS":  # a client can have it all before the flight ends
                wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flight stored")
