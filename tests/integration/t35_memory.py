"""t35: memory stays bounded for bodies that are not stored: a pass-through download is
held upstream while its client does not read, and bytes every reader has passed are
freed; a stored body of unknown length costs its size, not its first segment's."""
import http.client
import socket
import struct
import threading
import time

from harness import (Env, eq, check, parallel, wait_for, raw_connect, raw_get, read_until, rss_kib,
                     MULT)


def test_pass_download_with_stalled_reader_is_held_upstream():
    with Env() as env:
        size = 64 * 1024 * 1024
        t = "/huge?size=%d&cc=private" % size
        s = raw_connect(env.proxy.port, raw_get(t))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        before = rss_kib(env.proxy.proc.pid)
        # The client reads nothing: the fetch must pause instead of buffering 64 MiB.
        wait_for(lambda: env.proxy.stats()["bytes_from_upstream"] > 0, "the download to start")
        stalled = wait_for(lambda: stable_bytes(env), "the fetch to pause", timeout=20)
        check(stalled < 8 * 1024 * 1024,
              "fetched %d bytes for a reader that read nothing" % stalled)
        grown = rss_kib(env.proxy.proc.pid) - before
        check(grown < 16 * 1024, "RSS grew by %d KiB while the client stalled" % grown)
        s.settimeout(60 * MULT)
        data = read_until(s)
        s.close()
        body = data.partition(b"\r\n\r\n")[2]
        eq(len(body), size, "body length after reading")
        check(body.startswith(b"serial="), "body from the origin")
        eq(env.proxy.stats()["upstream_errors"]["truncated"], 0, "no stall timeout fired")


def stable_bytes(env):
    """The upstream byte count once it has stopped growing for half a second."""
    n = env.proxy.stats()["bytes_from_upstream"]
    time.sleep(0.5)
    return n if n == env.proxy.stats()["bytes_from_upstream"] else None


def test_shared_body_past_object_limit_streams_and_is_not_stored():
    with Env({"cache": {"max_object_bytes": "1MiB", "max_bytes": "8MiB"}}) as env:
        size = 6 * 1024 * 1024
        t = "/big?hold=B1&chunked=1&chunks=12&size=%d&cc=max-age=60" % size
        out = {}
        threads = [threading.Thread(target=lambda k=k: out.update({k: env.get(t)}))
                   for k in "ab"]
        for th in threads:
            th.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "both clients on the flight")
        env.origin.release("B1")
        for th in threads:
            th.join()
        a, b = out["a"], out["b"]
        eq((len(a.body), a.error), (size, None), "first client's body")
        check(a.body == b.body, "both clients got the same %d bytes" % size)
        eq(env.proxy.stats()["cache"]["objects"], 0, "not stored")
        c = env.get(t)
        eq(len(c.body), size, "a later request gets the whole body")
        eq(env.origin.count(t), 2, "origin requests (the later one fetched again)")


def test_shared_download_waits_for_a_stalled_reader_within_bounds():
    """Two clients on one flight whose body is not stored: one reads, one stalls. The
    reader runs ahead by a bounded amount, then the transfer waits instead of holding the
    whole 64 MiB for the stalled one; once it reads, both get every byte."""
    with Env({"cache": {"max_object_bytes": "1MiB"}}) as env:
        size = 64 * 1024 * 1024
        t = "/huge2?hold=H2&size=%d" % size  # no Cache-Control: shared, not stored
        stalled = raw_connect(env.proxy.port, raw_get(t))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        fast = raw_connect(env.proxy.port, raw_get(t))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "both clients on the flight")
        env.origin.release("H2")
        got = {}
        reader = threading.Thread(target=lambda: got.update(fast=read_until(fast)))
        reader.start()
        held = wait_for(lambda: stable_bytes(env), "the fetch to pause", timeout=30)
        check(held < 32 * 1024 * 1024, "fetched %d bytes while one reader stalled" % held)
        check(reader.is_alive(), "the fast reader waits for the stalled one")
        stalled.settimeout(60 * MULT)
        slow_body = read_until(stalled).partition(b"\r\n\r\n")[2]
        reader.join(60 * MULT)
        fast_body = got["fast"].partition(b"\r\n\r\n")[2]
        stalled.close()
        fast.close()
        eq((len(fast_body), len(slow_body)), (size, size), "both bodies whole")
        check(fast_body == slow_body, "the same bytes")
        eq(env.origin.count(t), 1, "one origin request")


def test_a_reader_that_stops_reading_is_dropped_after_client_idle():
    """The transfer waits for a stalled reader only until timeouts.client_idle drops it;
    then the others go on to the end."""
    with Env({"cache": {"max_object_bytes": "1MiB"}, "timeouts": {"client_idle": "2s"}}) as env:
        size = 48 * 1024 * 1024
        t = "/huge3?hold=H3&size=%d" % size
        stalled = raw_connect(env.proxy.port, raw_get(t))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        fast = raw_connect(env.proxy.port, raw_get(t))
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 2, "both clients on the flight")
        env.origin.release("H3")
        fast.settimeout(60 * MULT)
        body = read_until(fast).partition(b"\r\n\r\n")[2]
        fast.close()
        eq(len(body), size, "the reading client got everything")
        stalled.settimeout(10 * MULT)
        rest = read_until(stalled)
        stalled.close()
        check(len(rest) < size, "the stalled client was cut off (%d bytes)" % len(rest))


def test_private_urls_do_not_grow_past_the_cache():
    # Every URL answers private: each leaves a hit-for-pass marker. Before, markers were
    # neither charged nor evicted, and 20,000 such URLs grew memory without bound.
    limit = 64 << 10
    with Env({"cache": {"max_bytes": limit, "max_object_bytes": 1024,
                        "hit_for_pass": "1h"}}) as env:
        def client(i):
            conn = http.client.HTTPConnection("127.0.0.1", env.proxy.port, timeout=30 * MULT)
            for j in range(750):
                conn.request("GET", "/priv/%d/%d?cc=private&size=10" % (i, j))
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    return r.status
            conn.close()
            return 200
        eq(parallel(4, client), [200] * 4, "statuses")
        cache = env.proxy.stats()["cache"]
        check(cache["bytes"] <= limit, "charged %d bytes, over cache.max_bytes %d"
              % (cache["bytes"], limit))
        check(0 < cache["pass_markers"] < 3000, "pass markers kept: %d" % cache["pass_markers"])
        check(cache["evictions"] >= 3000 - cache["pass_markers"],
              "evictions %d for %d markers" % (cache["evictions"], cache["pass_markers"]))
        eq(env.origin.stats()["total"], 3000, "origin requests")


def test_pass_markers_expire():
    with Env({"cache": {"hit_for_pass": "1s"}}) as env:
        for i in range(10):
            eq(env.get("/exp/%d?cc=private" % i).status, 200, "status")
        check(env.proxy.stats()["cache"]["pass_markers"] > 0, "markers after private URLs")
        wait_for(lambda: env.proxy.stats()["cache"]["pass_markers"] == 0,
                 "the markers to expire without further requests")
        eq(env.proxy.stats()["cache"]["bytes"], 0, "bytes charged after expiry")


def sanitized(pid):
    """Whether sfproxy runs under a sanitizer, whose quarantine keeps freed memory in RSS:
    then RSS says nothing about what sfproxy holds, and only the counters are checked."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    return "libasan" in maps or "libtsan" in maps


def rss_peak(pid, stop, out):
    """Samples sfproxy's RSS every 10 ms until stop is set; out["peak"] is the highest."""
    while not stop.is_set():
        out["peak"] = max(out.get("peak", 0), rss_kib(pid))
        time.sleep(0.01)


def test_clients_that_never_read_cannot_pin_memory_past_the_budget():
    """Issue 18, item 3: 40 connections, each asking for a different 4 MiB object and
    reading nothing, with a 4 MiB cache. Each held its object after eviction: RSS grew by
    168 MB, for timeouts.client_idle. Now what readers pin outside the cache is charged,
    and past cache.max_pinned_bytes the most idle are shed (their connections closed, the
    responses cut): 30 arrive at once, then 10 more one by one while a client that reads
    fetches its own 4 MiB object, which it gets whole. RSS grows by at most twice the
    budget (a burst is let through that far before its clients can be told idle), the
    cache, and a fixed slack."""
    size, burst, paced, budget = 4000000, 30, 10, 9 << 20  # two objects, with room
    n = burst + paced
    with Env({"cache": {"max_bytes": "4MiB", "max_object_bytes": "4MiB",
                        "max_pinned_bytes": budget}}) as env:
        pid = env.proxy.proc.pid
        eq(env.get("/warm?size=%d&cc=max-age=60" % size).status, 200, "warm-up")
        before = rss_kib(pid)
        stop, seen = threading.Event(), {}
        sampler = threading.Thread(target=rss_peak, args=(pid, stop, seen))
        sampler.start()
        idle, got = [], {}
        reader = threading.Thread(target=lambda: got.update(
            r=env.get("/pin/reader?size=%d&cc=max-age=60" % size)))

        def no_reader(i):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            s.connect(("127.0.0.1", env.proxy.port))
            s.sendall(raw_get("/pin/%d?size=%d&cc=max-age=60" % (i, size)))
            idle.append(s)
        for i in range(burst):
            no_reader(i)
        wait_for(lambda: env.proxy.stats()["memory"]["shed_readers"] >= burst - 3,
                 "the burst's idle clients shed")
        reader.start()
        for i in range(burst, n):
            no_reader(i)
            time.sleep(0.25)
        reader.join(60 * MULT)
        wait_for(lambda: env.origin.stats()["total"] == n + 2, "every object asked for")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "every fetch done or given up")
        # Readers idle for SF_PINNED_IDLE_MIN_MS (200 ms) are shed down to the budget.
        wait_for(lambda: env.proxy.stats()["memory"]["pinned_bytes"] <= budget,
                 "what is pinned to come down to the budget")
        time.sleep(0.5)
        after = rss_kib(pid)
        stop.set()
        sampler.join()
        memory = env.proxy.stats()["memory"]
        # Twice the budget, the cache, and slack for 41 connections and transfers, shed
        # objects not yet let go by libmicrohttpd, and the allocator: 32 MiB (the peak
        # measured 18-44 MiB over the whole in 20 runs on 2 shared cores) (KiB).
        bound = 2 * budget // 1024 + 4096 + 32768
        print("pinned: RSS %d KiB before, peak +%d KiB, after +%d KiB (bound +%d KiB); %s"
              % (before, seen["peak"] - before, after - before, bound, memory))
        r = got["r"]
        eq((r.status, len(r.body), r.error), (200, size, None), "the reading client's response")
        check(memory["shed_readers"] > 0, "readers shed: %s" % memory)
        check(seen["peak"] - before < bound or sanitized(pid),
              "RSS grew by %d KiB at its peak, over %d KiB" % (seen["peak"] - before, bound))
        whole = cut = 0
        for s in idle:
            s.settimeout(30 * MULT)
            body = read_until(s).partition(b"\r\n\r\n")[2]
            s.close()
            whole += len(body) == size
            cut += len(body) < size
        eq(whole + cut, n, "every non-reading client got a whole body or a short one")
        eq(cut, env.proxy.stats()["memory"]["shed_readers"],
           "the shed clients are the ones whose response was cut")
        wait_for(lambda: env.proxy.stats()["memory"]["pinned_bytes"] == 0,
                 "nothing pinned once every client is done")


def test_clients_that_never_read_a_hit_cannot_pin_it_once_evicted():
    """The same with hits: each 12 MB object is fetched and stored, then a client that
    reads nothing asks for it (a HIT, sent whole from the stored body), then the next
    object evicts it. Each such client held its evicted object, uncharged: now a stored body of
    64 KiB or more sent whole is watched like a read one (its progress is what its socket
    acknowledged), so they are shed past the budget too."""
    size, n, budget = 12000000, 10, 8 << 20  # larger than the socket buffers can take
    with Env({"cache": {"max_bytes": "16MiB", "max_object_bytes": "16MiB",
                        "max_pinned_bytes": budget}}) as env:
        pid = env.proxy.proc.pid
        eq(env.get("/warm?size=%d&cc=max-age=60" % size).status, 200, "warm-up")
        before = rss_kib(pid)
        stop, seen = threading.Event(), {}
        sampler = threading.Thread(target=rss_peak, args=(pid, stop, seen))
        sampler.start()
        idle = []
        for i in range(n):
            t = "/hitpin/%d?size=%d&cc=max-age=60" % (i, size)
            r = env.get(t)
            eq((r.status, len(r.body)), (200, size), "object %d fetched" % i)
            wait_for(lambda: env.proxy.stats()["cache"]["objects"] == 1 and
                     env.proxy.stats()["cache"]["stores"] == i + 2, "object %d stored" % i)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            s.connect(("127.0.0.1", env.proxy.port))
            s.sendall(raw_get(t))
            idle.append(s)
            # Answered from the store before the next object evicts this one (a moment
            # later it would be a MISS of its own, and not the case this test is about).
            wait_for(lambda: env.proxy.stats()["hits"] == i + 1, "object %d's HIT" % i)
        wait_for(lambda: env.proxy.stats()["memory"]["shed_readers"] >= n - 2,
                 "the idle hits shed")
        time.sleep(0.5)
        after = rss_kib(pid)
        stop.set()
        sampler.join()
        st = env.proxy.stats()
        bound = 2 * budget // 1024 + 16384 + 24576
        print("pinned hits: RSS %d KiB before, peak +%d KiB, after +%d KiB (bound +%d KiB); %s"
              % (before, seen["peak"] - before, after - before, bound, st["memory"]))
        eq(st["hits"], n, "every non-reading client was answered from the store")
        check(seen["peak"] - before < bound or sanitized(pid),
              "RSS grew by %d KiB at its peak, over %d KiB" % (seen["peak"] - before, bound))
        cut = 0
        for s in idle:
            s.settimeout(30 * MULT)
            body = read_until(s).partition(b"\r\n\r\n")[2]
            s.close()
            cut += len(body) < size
        eq(cut, st["memory"]["shed_readers"], "the shed clients are the ones whose response was cut")
        wait_for(lambda: env.proxy.stats()["memory"]["pinned_bytes"] == 0,
                 "nothing pinned once every client is done")


def test_flights_their_clients_left_are_charged_and_given_up_past_the_budget():
    """Clients that ask for 20 different 3 MB objects from a slow origin and reset at once:
    each flight goes on to fill the cache, holding its body whole until it is stored. Those
    bodies are charged too (as readers idle SF_PINNED_IDLE_MIN_MS), and past the budget the
    fetches are given up rather than held."""
    size, n, budget = 3000000, 20, 4 << 20
    with Env({"cache": {"max_bytes": "4MiB", "max_object_bytes": "4MiB",
                        "max_pinned_bytes": budget}}) as env:
        pid = env.proxy.proc.pid
        eq(env.get("/warm?size=%d&cc=max-age=60" % size).status, 200, "warm-up")
        before = rss_kib(pid)
        stop, seen = threading.Event(), {}
        sampler = threading.Thread(target=rss_peak, args=(pid, stop, seen))
        sampler.start()
        gone = [raw_connect(env.proxy.port, raw_get(
            "/fill/%d?size=%d&cc=max-age=60&chunks=20&chunk_delay_ms=150&hold=F"
            % (i, size))) for i in range(n)]
        wait_for(lambda: env.origin.stats()["total"] == n + 1, "every object asked for")
        for s in gone:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # a reset: the client is gone, its flight goes on for the cache
        wait_for(lambda: env.proxy.stats()["client_hangups"] == n, "every client gone")
        env.origin.release("F")
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "every fetch done or given up",
                 timeout=30)
        stop.set()
        sampler.join()
        st = env.proxy.stats()
        bound = 2 * budget // 1024 + 4096 + 32768
        print("pinned fills: RSS %d KiB before, peak +%d KiB (bound +%d KiB); %s, cancelled %d,"
              " stores %d" % (before, seen["peak"] - before, bound, st["memory"],
                              st["upstream_cancelled"], st["cache"]["stores"]))
        check(st["memory"]["shed_objects"] > 0, "flights given up: %s" % st["memory"])
        eq(st["memory"]["shed_readers"], 0, "no reader to shed")
        check(st["upstream_cancelled"] >= st["memory"]["shed_objects"],
              "their fetches cancelled: %d" % st["upstream_cancelled"])
        check(seen["peak"] - before < bound or sanitized(pid),
              "RSS grew by %d KiB at its peak, over %d KiB" % (seen["peak"] - before, bound))
        r = env.get("/fill/0?size=%d&cc=max-age=60" % size)
        eq((r.status, len(r.body)), (200, size), "a request after it is answered whole")


def test_a_stored_body_of_unknown_length_is_charged_its_size_not_its_first_segment():
    # A body without Content-Length (chunked) arrives in a first segment of 4 KiB. It was
    # stored in it, 1 KiB in 4 KiB, and charged the 4 KiB (issue 23: 5,408 bytes held per
    # chunked 1 KiB response). Now it is copied to a segment of its own size as it
    # completes, while its client is still attached and reading (the old segment stays
    # until that client is done with it), so it costs what the same body with a length
    # does; the client and the hits after it get every byte.
    with Env() as env:
        known = env.get("/k?size=1024&cc=max-age=60")
        eq((known.status, len(known.body)), (200, 1024), "with Content-Length")
        env.wait_stored(1)
        one = env.proxy.stats()["cache"]["bytes"]
        t = "/c?size=1024&chunked=1&cc=max-age=60"
        first = env.get(t)
        eq((first.status, len(first.body)), (200, 1024), "chunked")
        env.wait_stored(2)
        two = env.proxy.stats()["cache"]["bytes"]
        # The same size, the same fields but Transfer-Encoding (not stored) and the URL.
        check(abs((two - one) - one) < 256,
              "charged %d for the chunked 1 KiB response, %d for the one with a length"
              % (two - one, one))
        hit = env.get(t)
        eq((hit.header("X-Cache"), hit.body), ("HIT", first.body), "the stored bytes")
