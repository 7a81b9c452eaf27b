"""t40: upstream faults fan out to every waiter, and nothing failed is cached."""
import http.client
import json
import time

from harness import (Env, Proxy, eq, check, parallel, request, wait_for, raw_connect, raw_get,
                     read_response, read_until, free_port, MULT)


def test_connection_refused_is_502_for_all():
    p = Proxy("http://127.0.0.1:%d" % free_port())
    try:
        res = parallel(20, lambda i: request(p.port, "GET", "/x?cc=max-age=60"))
        eq(sorted(set(r.status for r in res)), [502], "statuses")
        st = p.stats()
        check(st["upstream_errors"]["connect"] >= 1, "connect errors counted")
        check(st["upstream_requests"] < 20, "waiters shared the failing fetch (%d fetches)"
              % st["upstream_requests"])
        eq(st["cache"]["objects"], 0, "cached objects")
    finally:
        eq(p.stop(), 0, "exit code")


def test_header_deadline_is_504():
    with Env({"timeouts": {"first_byte": "300ms"}}) as env:
        t = "/late?delay_ms=3000&cc=max-age=60"
        res = parallel(5, lambda i: env.get(t))
        eq([r.status for r in res], [504] * 5, "statuses")
        eq(env.origin.count(t), 1, "origin requests")
        eq(env.proxy.stats()["upstream_errors"]["timeout"], 1, "timeouts counted")


def test_reset_mid_body_is_detectable_and_not_cached():
    with Env() as env:
        for chunked in ("0", "1"):
            t = "/reset?size=100000&reset_after=5000&cc=max-age=60&chunked=" + chunked
            res = parallel(3, lambda i: env.get(t))
            for r in res:
                eq(r.status, 200, "status (headers came before the reset)")
                check(r.error is not None, "client can tell the body is cut off: %r" % r)
                check(len(r.body) < 100000, "short body")
            eq(env.proxy.stats()["cache"]["objects"], 0, "cached objects")
            again = env.get(t)
            eq(again.header("X-Cache"), "MISS", "next request fetches again")
            eq(env.origin.count(t), 2, "origin requests")


def test_502_not_cached_next_request_refetches():
    # cache.store_server_errors off: the old rule, for origins that mark errors fresh by
    # mistake (with it on, the default, this 503 would be stored: t55).
    with Env({"cache": {"store_server_errors": False}}) as env:
        t = "/err?status=503&cc=max-age=60"
        a = env.get(t)
        eq(a.status, 503, "upstream status passes through")
        # The client can have its whole response a moment before the fetcher lets go of
        # the finished flight; a request in between would join that complete response.
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the flight to end")
        b = env.get(t)
        eq(b.header("X-Cache"), "MISS", "a 503 is not stored")
        eq(env.origin.count(t), 2, "origin requests")


def test_stalled_body_is_cut_after_upstream_idle():
    with Env({"timeouts": {"upstream_idle": "1s"}}) as env:
        t = "/stall?hold_body=ST&size=20000&cc=max-age=60"
        r = env.get(t)
        eq(r.status, 200, "status")
        check(r.error is not None, "stalled body detectably truncated: %r" % r)
        eq(len(r.body), 10000, "the bytes that arrived")
        eq(env.proxy.stats()["upstream_errors"]["truncated"], 1, "truncated counted")
        env.origin.release("ST")
        eq(env.proxy.stats()["cache"]["objects"], 0, "nothing cached")


def test_reset_or_garbage_before_headers_is_502():
    with Env() as env:
        for t in ("/rb?reset_before=1&cc=max-age=60", "/gb?garbage=1&cc=max-age=60"):
            res = parallel(5, lambda i: env.get(t))
            eq([r.status for r in res], [502] * 5, "statuses for %s" % t)
        eq(env.proxy.stats()["cache"]["objects"], 0, "nothing cached")


def test_interim_1xx_is_consumed_final_response_forwarded():
    # The origin's 103 goes on as a 103 of sfproxy's own (test below); the final response
    # keeps none of its fields.
    with Env() as env:
        s = raw_connect(env.proxy.port, raw_get("/eh?early_hints=1&cc=max-age=60&size=10"
                                                "&hdr=X-Final:yes"))
        s.settimeout(30 * MULT)
        data = read_until(s)
        s.close()
        final = data[data.index(b"HTTP/1.1 200"):]
        head, _, body = final.partition(b"\r\n\r\n")
        check(b"X-Final: yes" in head, "final response's fields: %r" % head)
        check(b"Link:" not in head, "no field of the interim response in the final one")
        eq(len(body), 10, "body")


def test_early_hints_reach_every_waiting_client():
    # RFC 8297: the origin's 103 goes on at once, with its Link fields only, to each
    # HTTP/1.1 client waiting for the head (leader and follower alike); an HTTP/1.0 client
    # gets none; then the final response, and the 103 is never stored.
    with Env() as env:
        t = "/hints?hold=H1&early_hints=1&early_hints_ms=1500&cc=max-age=60&size=10"
        leader = raw_connect(env.proxy.port, raw_get(t))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the leader waiting")
        follower = raw_connect(env.proxy.port, raw_get(t))
        old = raw_connect(env.proxy.port, ("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % t).encode())
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 3, "all three waiting")
        env.origin.release("H1")  # now the origin sends its 103, then, 1.5 s later, the 200
        wait_for(lambda: env.proxy.stats()["early_hints"] == 1, "the 103 passed on")
        late = raw_connect(env.proxy.port, raw_get(t))  # joins after the 103: caught up
        for sock in (leader, follower, old, late):
            sock.settimeout(30 * MULT)
        for name, got in (("leader", read_until(leader)), ("follower", read_until(follower)),
                          ("late follower", read_until(late))):
            check(got.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload"
                                 b"\r\n\r\nHTTP/1.1 200 OK"),
                  "%s: the 103, then the 200: %r" % (name, got[:120]))
            check(b"X-Hint-Only" not in got, "%s: only Link goes on" % name)
        old_head = read_until(old)
        check(old_head.startswith(b"HTTP/1.0 200") or old_head.startswith(b"HTTP/1.1 200"),
              "HTTP/1.0: no 103: %r" % old_head[:40])
        for s in (leader, follower, old, late):
            s.close()
        eq(env.proxy.stats()["early_hints"], 1, "counted")
        env.wait_stored()
        hit = raw_connect(env.proxy.port, raw_get(t))
        check(read_response(hit)[0].startswith(b"HTTP/1.1 200"), "a hit has no 103")
        hit.close()


def test_first_byte_runs_from_the_request_not_the_connect():
    # Before, the deadline was connect (2 s by default) + first_byte: an origin that took
    # 1.5 s to answer got through a 1 s first_byte.
    with Env({"timeouts": {"first_byte": "1s"}}) as env:
        r = env.get("/fb?delay_ms=1500")
        eq(r.status, 504, "status after first_byte with the origin at 1.5 s")
        eq(env.get("/fb2?delay_ms=200").status, 200, "an origin within first_byte")


def test_first_byte_starts_after_a_slow_upload():
    # The client takes ~1.5 s to send its content; the origin answers at once after it.
    with Env({"timeouts": {"first_byte": "1s"}}) as env:
        def slow_body():
            for _ in range(6):
                time.sleep(0.25)
                yield b"x" * 100
        conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=30 * MULT)
        conn.request("POST", "/up?digest=1", body=slow_body(),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        r = conn.getresponse()
        eq(r.status, 200, "status of a slow upload answered at once")
        eq(json.loads(r.read())["length"], 600, "bytes the origin received")
        conn.close()
