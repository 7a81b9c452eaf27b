"""t92_pool_retry: the edges of a pool's retries (issue 21), each found by reading the code:
a retry onto a server a reload has since removed (it aborted the process), the fetch's one
first-byte budget not held against the server that gets what is left of it, a failed
attempt's 103 never reaching a client, and a 503 from the last primary moving the fetch to
a backup."""
import socket
import threading
import time

from harness import Origin, Proxy, check, eq, request
from poolharness import PoolEnv, PoolOrigin, origins, pool, served_by


def test_a_retry_onto_a_server_a_reload_removed():
    """The retry's server is chosen on the pool version the fetch started on; the transfer
    that carries it out must run on that version too, though a reload has dropped the
    server from the current pools and the fetcher has moved to the new config."""
    a, b = origins(2, "rr")
    a.mode("status=503")
    settings = {"retries": 1, "passive": {"statuses": [503], "max_fails": 0}}
    with PoolEnv([(a, {"weight": 5}), b], settings) as env:
        out = {}
        t = threading.Thread(target=lambda: out.setdefault(
            "r", request(env.proxy.port, "GET", "/slow?delay=1500", timeout=15)))
        t.start()
        time.sleep(0.4)  # on a (weight 5), which answers 503 after its delay
        cfg = dict(env.proxy.cfg)
        cfg["upstreams"] = {"api": pool([(a, {"weight": 5})], **settings)}
        env.proxy.reload(cfg)
        eq(env.get("/after-reload").status, 503, "a fetch under the new config (only a)")
        t.join(20)
        eq(env.proxy.proc.poll(), None, "sfproxy still running")
        eq((out["r"].status, served_by(out["r"])), (200, "rr2"),
           "the first fetch's retry went to b, as its own config said")


def test_the_budget_left_to_a_retry_does_not_mark_its_server_down():
    """a hangs and spends the fetch's first-byte time; b, asked with what is left, cannot
    answer within it: 504, but b is not held to have failed (it answers in 0.5 s)."""
    a, b = origins(2, "bud")
    a.mode("action=hang")
    with PoolEnv([(a, {"weight": 5}), b], {"retries": 1},
                 {"timeouts": {"connect": "300ms", "first_byte": "1s"}}) as env:
        eq(env.get("/x?delay=500").status, 504, "the budget spent on a")
        servers = env.servers()
        eq(servers[a.name]["state"], "down (passive)", "a, which hung")
        eq((servers[b.name]["state"], servers[b.name]["failures"]), ("up", 0),
           "b, given only what a left")
        r = env.get("/y?delay=500")
        eq((r.status, served_by(r)), (200, "bud2"), "the next fetch: b, up, in time")


def test_a_failed_attempts_early_hints_never_reach_a_client():
    """a sends a 103 and then a 503 the pool retries on b: the client sees b's 200 only."""
    a = Origin()  # slow_origin: a 103 (early_hints=1), then the status asked for
    b = PoolOrigin("good")
    cfg = {"upstream": "api", "upstreams": {"api": {
        "servers": [{"url": a.url, "weight": 5}, {"url": b.url}],
        "retries": 1, "passive": {"statuses": [503], "max_fails": 0}}}}
    proxy = Proxy(None, cfg)
    try:
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        s.sendall(b"GET /h?early_hints=1&status=503 HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        check(data.startswith(b"HTTP/1.1 200 "), "b's answer first: %r" % data[:200])
        # A 103 passed on would come before the 200 (checked above); its fields must not
        # reach the 200 either. (A search for "103" in the head once matched a request id.)
        check(b"x-hint-only" not in data.lower() and b"style.css" not in data,
              "nothing of a's 103: %r" % data[:300])
        eq(proxy.stats()["upstreams"]["api"]["servers"]["127.0.0.1:%d" % b.port]["requests"], 1,
           "the retry on b")
    finally:
        proxy.stop()
        a.stop()
        b.kill()


def test_a_503_from_the_last_primary_goes_to_a_backup():
    """The refused head's server is told first, so when it was the last primary up the
    backup is a candidate for the retry."""
    a, c = origins(2, "bk")
    a.mode("status=503")
    settings = {"retries": 1, "passive": {"statuses": [503], "max_fails": 1}}
    with PoolEnv([a, (c, {"backup": True})], settings) as env:
        r = env.get("/b?cc=no-store")
        eq((r.status, served_by(r)), (200, "bk2"), "the backup answered")
        eq(env.servers()[a.name]["state"], "down (passive)", "a, marked by its 503")
