"""t30: clients that leave. The leader is not special; parked clients that hang up are
noticed; a cacheable fetch outlives its clients, an uncacheable one is cancelled."""
import socket
import threading
import time

from harness import Env, eq, check, wait_for, raw_connect, raw_get, read_until, MULT


def test_leader_leaves_followers_complete():
    with Env() as env:
        t = "/lead?hold=L1&size=3000&cc=max-age=60"
        leader = raw_connect(env.proxy.port, raw_get(t))
        wait_for(lambda: env.origin.count(t) == 1, "the leader's fetch")
        out = []
        threads = [threading.Thread(target=lambda: out.append(env.get(t))) for _ in range(5)]
        for th in threads:
            th.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 6, "6 parked clients")
        leader.close()
        wait_for(lambda: env.proxy.stats()["client_hangups"] == 1, "the leader's hangup noticed")
        # The hangup is counted on the fetcher as it wakes the leader; its worker then takes
        # it off the flight: waiters_now follows a moment later.
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 5, "5 parked after the leader left")
        env.origin.release("L1")
        for th in threads:
            th.join()
        eq(sorted(r.status for r in out), [200] * 5, "follower statuses")
        eq(len(set(r.body for r in out)), 1, "follower bodies identical")
        eq(len(out[0].body), 3000, "body length")
        eq(env.origin.count(t), 1, "origin requests")


def test_everyone_leaves_cacheable_still_cached():
    with Env() as env:
        t = "/gone?hold=G1&size=2000&cc=max-age=60"
        socks = [raw_connect(env.proxy.port, raw_get(t)) for _ in range(10)]
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 10, "10 parked clients")
        for s in socks:
            s.close()
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 0, "hangups noticed")
        eq(env.proxy.stats()["client_hangups"], 10, "client_hangups")
        env.origin.release("G1")
        env.wait_stored()
        r = env.get(t)
        eq(r.header("X-Cache"), "HIT", "X-Cache after everyone left")
        eq(len(r.body), 2000, "body length")
        eq(env.origin.count(t), 1, "origin requests")


def test_everyone_leaves_uncacheable_cancelled():
    with Env() as env:
        t = "/cancel?hold_body=C1&size=100000"
        s = raw_connect(env.proxy.port, raw_get(t))
        head = s.recv(100)
        check(head.startswith(b"HTTP/1.1 200"), "response started: %r" % head)
        s.close()
        wait_for(lambda: env.proxy.stats()["upstream_cancelled"] == 1, "the fetch to be cancelled")
        env.origin.release("C1")
        eq(env.proxy.stats()["cache"]["objects"], 0, "cached objects")
        eq(env.proxy.stats()["flights_now"], 0, "flights")


def test_hangups_before_the_watch_is_armed():
    # A parked client's hangup watch is armed SF_HANGUP_ARM_MS (10 ms) after it parks, by
    # the fetcher: a client that leaves sooner is noticed when it is. The leader leaves
    # within a poll of its fetch reaching the origin; a follower parks while the fetcher
    # sleeps with nothing to arm (the leader's watch long armed), so the fetcher is woken
    # for it, and it leaves at once too.
    with Env() as env:
        t = "/early?hold=E1&size=100"  # uncacheable: cancelled once both have gone
        leader = raw_connect(env.proxy.port, raw_get(t))
        wait_for(lambda: env.origin.count(t) == 1, "the leader's fetch")
        leader.close()
        wait_for(lambda: env.proxy.stats()["client_hangups"] == 1, "the leader's hangup")
        u = "/early2?hold=E2&size=100&cc=max-age=60"
        first = raw_connect(env.proxy.port, raw_get(u))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the first parked")
        time.sleep(0.2 * MULT)  # its watch armed; the fetcher asleep
        follower = raw_connect(env.proxy.port, raw_get(u))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "the follower parked")
        t0 = time.monotonic()
        follower.close()
        wait_for(lambda: env.proxy.stats()["client_hangups"] == 2, "the follower's hangup")
        # Noticed within its 10 ms and a wake-up, not at the fetcher's next deadline (up to
        # a second later when nothing wakes it for the new watch: measured 0.68-0.88 s).
        noticed = time.monotonic() - t0
        check(noticed < 0.4 * MULT, "the follower's hangup noticed after %.2f s" % noticed)
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "one parked after it left")
        env.origin.release("E2")
        data = read_all(first)
        first.close()
        check(data.startswith(b"HTTP/1.1 200"), "the first's response: %r" % data[:40])
        eq(len(data.partition(b"\r\n\r\n")[2]), 100, "the first's body")
        env.origin.release("E1")
        eq(env.origin.count(t), 1, "origin requests, leader")
        eq(env.origin.count(u), 1, "origin requests, follower's key")


def test_slow_reader_does_not_slow_others():
    # Shared but not stored (no-cache without a validator): the body is held only for its
    # readers, and the fetch would pause for the slowest once the others ran 8 MiB ahead.
    with Env() as env:
        t = "/slowr?size=3000000&cc=no-cache&delay_ms=300"
        slow = raw_connect(env.proxy.port, raw_get(t))  # never reads
        wait_for(lambda: env.origin.count(t) == 1, "the fetch")
        fast = env.get(t)
        eq(len(fast.body), 3000000, "fast client body")
        eq(fast.header("X-Cache"), "COLLAPSED", "fast X-Cache")
        eq(env.proxy.stats()["cache"]["objects"], 0, "stored responses")
        slow.close()
        eq(env.origin.count(t), 1, "origin requests")


def read_all(sock):
    sock.settimeout(10 * MULT)
    return read_until(sock)


def test_half_closed_client_is_still_answered():
    # RFC 9112 §9.6: a client that shuts its sending side after the request may still read.
    with Env() as env:
        t = "/half?hold=HC&size=3000&cc=max-age=60"
        waiting = socket.create_connection(("127.0.0.1", env.proxy.port))
        waiting.sendall(raw_get(t))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the client parked")
        waiting.shutdown(socket.SHUT_WR)
        wait_for(lambda: env.proxy.stats()["client_half_closes"] == 1, "the half-close seen")
        eq(env.proxy.stats()["waiters_now"], 1, "still parked after the half-close")
        env.origin.release("HC")
        data = read_all(waiting)
        waiting.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        eq(head, b"HTTP/1.1 100 Continue", "interim response (the probe)")
        check(rest.startswith(b"HTTP/1.1 200"), "final response: %r" % rest[:40])
        eq(len(rest.partition(b"\r\n\r\n")[2]), 3000, "whole body")
        eq(env.proxy.stats()["client_hangups"], 0, "client_hangups")
        # A hit, answered at once, to a client that half-closed right after its request.
        hit = socket.create_connection(("127.0.0.1", env.proxy.port))
        hit.sendall(raw_get(t))
        hit.shutdown(socket.SHUT_WR)
        data = read_all(hit)
        hit.close()
        check(data.startswith(b"HTTP/1.1 200"), "hit to a half-closed client: %r" % data[:40])
        eq(len(data.partition(b"\r\n\r\n")[2]), 3000, "whole hit body")
