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


def get_with(target, fields):
    """The bytes of a GET for target with extra fields, on a connection that closes."""
    extra = "".join("%s: %s\r\n" % kv for kv in fields.items())
    return ("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
            % (target, extra)).encode()


def test_early_hints_reach_the_clients_that_share_the_response():
    # RFC 8297: the origin's 103 goes on at once, with its Link fields only, to each
    # HTTP/1.1 client waiting for the head that will share the final response: the leader,
    # whose request the origin answered, and the joiners of a flight known to share it (a
    # refresh of a response that did not vary). A follower of a first fetch gets none (the
    # response may vary, and the hints be another user's), nor does an HTTP/1.0 client;
    # the 103 is never stored.
    with Env() as env:
        t = "/hints?hold_header=X-Hold&early_hints=1&early_hints_ms=1500&cc=max-age=60&size=10"
        held = {"X-Hold": "H1"}
        leader = raw_connect(env.proxy.port, get_with(t, held))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the leader waiting")
        follower = raw_connect(env.proxy.port, get_with(t, held))
        old = raw_connect(env.proxy.port,
                          ("GET %s HTTP/1.0\r\nHost: x\r\nX-Hold: H1\r\n\r\n" % t).encode())
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 3, "all three waiting")
        env.origin.release("H1")  # now the origin sends its 103, then, 1.5 s later, the 200
        wait_for(lambda: env.proxy.stats()["early_hints"] == 1, "the 103 passed on")
        for sock in (leader, follower, old):
            sock.settimeout(30 * MULT)
        got = read_until(leader)
        check(got.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload"
                             b"\r\n\r\nHTTP/1.1 200 OK"),
              "leader: the 103, then the 200: %r" % got[:120])
        check(b"X-Hint-Only" not in got, "only Link goes on")
        got = read_until(follower)
        check(got.startswith(b"HTTP/1.1 200 OK"), "follower of a first fetch: %r" % got[:60])
        old_head = read_until(old)
        check(old_head.startswith(b"HTTP/1.0 200") or old_head.startswith(b"HTTP/1.1 200"),
              "HTTP/1.0: no 103: %r" % old_head[:40])
        for s in (leader, follower, old):
            s.close()
        eq(env.proxy.stats()["early_hints"], 1, "counted")
        env.wait_stored()
        hit = raw_connect(env.proxy.port, raw_get(t))
        check(read_response(hit)[0].startswith(b"HTTP/1.1 200"), "a hit has no 103")
        hit.close()
        # Expired, it is refreshed by a flight whose joiners share its head: a follower,
        # and a late joiner caught up, have the 103 the leader had.
        env.advance_clock(120)
        held = {"X-Hold": "H2"}
        leader = raw_connect(env.proxy.port, get_with(t, held))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the refresh's leader")
        follower = raw_connect(env.proxy.port, get_with(t, held))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "its follower")
        env.origin.release("H2")
        wait_for(lambda: env.proxy.stats()["early_hints"] == 2, "the refresh's 103")
        late = raw_connect(env.proxy.port, get_with(t, held))
        for name, sock in (("leader", leader), ("follower", follower), ("late joiner", late)):
            sock.settimeout(30 * MULT)
            got = read_until(sock)
            sock.close()
            check(got.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>"),
                  "refresh, %s: the 103 first: %r" % (name, got[:80]))


def test_early_hints_never_cross_variants():
    # A follower that joins a first fetch with another Accept-Language may end up with
    # another variant: it must never have the hints the origin built for the leader's
    # language (issue 18). Once the URL is known to vary, a variant's joiners share them.
    with Env() as env:
        t = ("/hv?hold_header=X-Hold&early_hints=1&early_hints_vary=1&early_hints_ms=1000"
             "&cc=max-age=60&size=10&vary=Accept-Language")
        en = raw_connect(env.proxy.port, get_with(t, {"Accept-Language": "en", "X-Hold": "V1"}))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the leader waiting")
        fr = raw_connect(env.proxy.port, get_with(t, {"Accept-Language": "fr", "X-Hold": "V1"}))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "both waiting")
        env.origin.release("V1")
        for sock in (en, fr):
            sock.settimeout(30 * MULT)
        got_en, got_fr = read_until(en), read_until(fr)
        en.close()
        fr.close()
        check(got_en.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style-en.css>"),
              "the leader's own hints: %r" % got_en[:80])
        check(b"style-en" not in got_fr, "the fr follower never sees en's hints: %r"
              % got_fr[:200])
        check(b"200 OK" in got_fr, "the fr follower's response")
        env.wait_stored(2)
        # A variant's flight: its joiners all selected it, so all have its hints.
        de = {"Accept-Language": "de", "X-Hold": "V2"}
        de1 = raw_connect(env.proxy.port, get_with(t, de))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "de leader")
        de2 = raw_connect(env.proxy.port, get_with(t, de))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "de follower")
        env.origin.release("V2")
        for sock in (de1, de2):
            sock.settimeout(30 * MULT)
            got = read_until(sock)
            sock.close()
            check(got.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style-de.css>"),
                  "de: %r" % got[:80])


def test_first_byte_runs_from_the_request_not_the_connect():
    # Before, the deadline was connect (2 s by default) + first_byte: an origin that took
    # 1.5 s to answer got through a 1 s first_byte.
    with Env({"timeouts": {"first_byte": "1s"}}) as env:
        r = env.get("/fb?delay_ms=1500")
        eq(r.status, 504, "status after first_byte with the origin at 1.5 s")
        eq(env.get("/fb2?delay_ms=200").status, 200, "an origin within first_byte")


def test_first_byte_clocks_a_post_with_a_declared_length():
    # curl asks for no more content once it has the declared length, so the end of the
    # upload was never seen: the wait for the head ran on upstream_idle (8 s here), not
    # first_byte (1 s). The same for empty content, sent with the head.
    with Env({"timeouts": {"first_byte": "1s", "upstream_idle": "8s"}}) as env:
        for body in (b"hello", b""):
            conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=30 * MULT)
            t0 = time.monotonic()
            conn.request("POST", "/fbpost?delay_ms=12000", body=body,
                         headers={"Content-Length": str(len(body))})
            r = conn.getresponse()
            r.read()
            took = time.monotonic() - t0
            conn.close()
            eq(r.status, 504, "a POST of %d bytes whose origin does not answer" % len(body))
            check(took < 6, "504 after %.1f s: first_byte (1 s), not upstream_idle (8 s)" % took)


def test_first_byte_starts_after_a_slow_upload():
    # The client takes ~1.5 s to send its content; the origin answers at once after it.
    with Env({"timeouts": {"first_byte": "1s"}}) as env:
        def slow_body():
            for _ in range(6):
                # The test's subject, not a wait for sfproxy: the upload lasts at least
                # 1.5 s, longer than first_byte, which is not scaled under sanitizers
                # (a slower sfproxy only makes the upload longer still).
                time.sleep(0.25)
                yield b"x" * 100
        conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=30 * MULT)
        conn.request("POST", "/up?digest=1", body=slow_body(),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        r = conn.getresponse()
        eq(r.status, 200, "status of a slow upload answered at once")
        eq(json.loads(r.read())["length"], 600, "bytes the origin received")
        conn.close()
