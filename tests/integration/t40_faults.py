"""t40: upstream faults fan out to every waiter, and nothing failed is cached."""
import http.client
import json
import socket
import time

from harness import Env, Proxy, eq, check, parallel, request, wait_for, MULT


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
    with Env() as env:
        r = env.get("/eh?early_hints=1&cc=max-age=60&size=10&hdr=X-Final:yes")
        eq(r.status, 200, "final status")
        eq(r.header("X-Final"), "yes", "final response's fields")
        eq(r.header("Link"), None, "no field of the interim response")
        eq(len(r.body), 10, "body")


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
