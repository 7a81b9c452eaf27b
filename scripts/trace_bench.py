#!/usr/bin/env python3
"""trace_bench: what sfproxy's eviction policy saves on a realistic trace, beside an exact
LRU of the same size on the same trace, in the same run (issue 23, part 3).

  scripts/trace_bench.py [path/to/sfproxy]

Builds a reproducible trace (scripts/tracesim.py: Zipf(0.9) popularity over TRACE_KEYS
keys, bounded lognormal sizes 1 KiB .. 1 MiB with a 4 KiB median, a share of one-hit
wonders, and a scan of TRACE_SCAN keys never seen again in the middle), starts
tests/origin/trace_origin.py and the real sfproxy with cache.max_bytes TRACE_CACHE_PCT % of
the trace's footprint, and replays the trace in order on one keep-alive connection. It
prints origin fetches and the byte miss ratio for sfproxy, for an exact LRU (an
OrderedDict) and for lib/evict.c's policy (size-aware S3-FIFO) simulated on the same trace, each object
charged what sfproxy charges it (measured from the binary first: the body, the stored
head, the key and a fixed overhead); the ratio to LRU; and the hit ratio of the hot set
(the TRACE_HOT most popular keys) in the TRACE_WINDOW requests just before the scan and
just after it. Also a JSON line in build/trace_bench.jsonl. By default a million requests
over a catalog of a million keys with a scan of 200,000 (about 4-5 minutes on 2 cores; the
replay, one request at a time in order, is most of it); TRACE_REQUESTS=300000
TRACE_KEYS=100000 gives a smaller trace of the same shape (about a minute).
Not part of make test; no test asserts a speed or a ratio from here."""
import json
import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(ROOT, "build", "release", "sfproxy"))
os.environ["SF_BIN"] = BIN
from harness import Origin, Proxy, wait_for  # noqa: E402
import tracesim  # noqa: E402

REQUESTS = int(os.environ.get("TRACE_REQUESTS", "1000000"))
KEYS = int(os.environ.get("TRACE_KEYS", "1000000"))
SCAN = int(os.environ.get("TRACE_SCAN", str(KEYS // 5)))
ONE_HIT = float(os.environ.get("TRACE_ONE_HIT", "0.2"))
CACHE_PCT = float(os.environ.get("TRACE_CACHE_PCT", "5"))
HOT = int(os.environ.get("TRACE_HOT", "1000"))
WINDOW = int(os.environ.get("TRACE_WINDOW", "20000"))
JSON_OUT = os.environ.get("BENCH_JSON", os.path.join(ROOT, "build", "trace_bench.jsonl"))
TRACE_ORIGIN = os.path.join(ROOT, "tests", "origin", "trace_origin.py")


def target(key, size):
    return "/k/%d?s=%d" % (key, size)


class Client:
    """One keep-alive connection; get() sends a request and reads its whole response."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.sink = bytearray(1 << 20)

    def get(self, path):
        """(status, X-Cache, body length)."""
        self.s.sendall(b"GET %s HTTP/1.1\r\nHost: trace\r\n\r\n" % path.encode())
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            data = self.s.recv(65536)
            if not data:
                raise ConnectionError("sfproxy closed the connection")
            buf += data
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[:end + 4]
        status = int(head[0].split()[1])
        length, xcache = 0, ""
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "x-cache":
                xcache = value.strip()
        left = length - len(buf)
        if left <= 0:
            del buf[:length]
        else:
            buf.clear()
            view = memoryview(self.sink)
            while left > 0:
                n = self.s.recv_into(view[:min(left, len(self.sink))])
                if n == 0:
                    raise ConnectionError("sfproxy closed the connection mid-body")
                left -= n
        return status, xcache, length

    def close(self):
        self.s.close()


def measure_charge(origin):
    """What sfproxy charges an object: (charge(size, key) as a function, samples checked).
    Stores objects of several sizes and key lengths in a fresh proxy and reads cache.bytes
    after each: a charge is the body's and the key's allocations as malloc holds them (the
    parts that differ) plus one constant; checked on every sample."""
    proxy = Proxy(origin.url, {"access_log": {"path": None}, "log_level": "info",
                               "cache": {"max_bytes": "1GiB"}}, test_clock=False)
    try:
        c = Client(proxy.port)
        samples = [(7, 1024), (123456, 1500), (9, 65536), (4242, 999999), (1000001, 1048576),
                   (55, 4096)]
        seen = []
        before = 0
        for i, (k, size) in enumerate(samples):
            t = target(10 ** 9 + k, size)
            c.get(t)
            wait_for(lambda: proxy.stats()["cache"]["objects"] == i + 1, "sample %d stored" % i)
            now = proxy.stats()["cache"]["bytes"]
            seen.append((t, size, now - before))
            before = now
        c.close()
    finally:
        proxy.stop()
    # The cache charges each allocation as glibc holds it (lib/held.c: the request plus 8,
    # rounded up to 16, at least 32): the body's segment (16 + size) and the key (the
    # absolute URL fetched, origin.url + the target, and its NUL) differ per object; the
    # rest is one constant.
    def held(n):
        return max(32, (n + 8 + 15) & ~15)

    prefix = len(origin.url.rstrip("/"))
    consts = [ch - held(16 + size) - held(len(t) + prefix + 1) for t, size, ch in seen]
    if any(x != consts[0] for x in consts):
        print("  charge model off by up to %d bytes: %s" % (max(consts) - min(consts), seen))
    const = consts[0]
    return (lambda key, size: held(16 + size) + held(len(target(key, size)) + prefix + 1)
            + const), const


def simulate(cache, keys, sizes, charge):
    hits = []
    fetches = fetched = 0
    for k in keys:
        s = sizes[k]
        h = cache.get(k, charge(k, s))
        hits.append(h)
        if not h:
            fetches += 1
            fetched += s
    return fetches, fetched, hits


def hot_ratio(keys, hits, start, end):
    """Hit ratio of the requests for hot keys among keys[start:end]."""
    n = h = 0
    for i in range(max(start, 0), min(end, len(keys))):
        if keys[i] < HOT:
            n += 1
            h += hits[i]
    return h / n if n else 0.0, n


def main():
    if not os.path.exists(BIN):
        sys.exit("trace_bench: %s not found; run make first" % BIN)
    t0 = time.monotonic()
    keys, sizes, scan_start, scan_end = tracesim.trace(REQUESTS, KEYS, one_hit_share=ONE_HIT,
                                                       scan_keys=SCAN)
    distinct = set(keys)
    footprint = sum(sizes[k] for k in distinct)
    asked = sum(sizes[k] for k in keys)
    origin = Origin(TRACE_ORIGIN)
    try:
        charge, const = measure_charge(origin)
        max_bytes = int(sum(charge(k, sizes[k]) for k in distinct) * CACHE_PCT / 100)
        print("trace_bench: %d requests, %d distinct keys (Zipf 0.9 over %d, %.0f%% one-hit "
              "wonders, a scan of %d at request %d), bodies %.0f MiB distinct (median 4 KiB, "
              "1 KiB .. 1 MiB), %.0f MiB asked; cache.max_bytes %d (%.1f%% of the charged "
              "footprint); charge = held(16 + body) + held(key + 1) + %d"
              % (len(keys), len(distinct), KEYS, ONE_HIT * 100, SCAN, scan_start,
                 footprint / 2**20, asked / 2**20, max_bytes, CACHE_PCT, const))
        sims = {}
        for name, cache in (("LRU", tracesim.Lru(max_bytes)),
                            ("evict.c (simulated)", tracesim.S3Fifo(max_bytes))):
            sims[name] = simulate(cache, keys, sizes, charge)
        before = origin.stats()
        proxy = Proxy(origin.url, {"access_log": {"path": None}, "log_level": "info",
                                   "cache": {"max_bytes": max_bytes,
                                             "max_object_bytes": 1 << 20}}, test_clock=False)
        try:
            client = Client(proxy.port)
            hits = []
            replay_t0 = time.monotonic()
            for k in keys:
                status, xcache, length = client.get(target(k, sizes[k]))
                if status != 200 or length != sizes[k]:
                    sys.exit("trace_bench: %s answered %d with %d bytes"
                             % (target(k, sizes[k]), status, length))
                hits.append(xcache == "HIT")
            replay_s = time.monotonic() - replay_t0
            client.close()
            cache_stats = proxy.stats()["cache"]
        finally:
            proxy.stop()
        after = origin.stats()
        sims["sfproxy"] = (after["total"] - before["total"], after["bytes"] - before["bytes"],
                           hits)
    finally:
        origin.stop()
    lru_fetches = sims["LRU"][0]
    rows = []
    print("  %-20s %10s %8s %10s %12s %12s" % ("", "fetches", "/ LRU", "byte miss",
                                              "hot before", "hot after"))
    for name in ("LRU", "evict.c (simulated)", "sfproxy"):
        fetches, fetched, h = sims[name]
        pre, npre = hot_ratio(keys, h, scan_start - WINDOW, scan_start)
        post, npost = hot_ratio(keys, h, scan_end, scan_end + WINDOW)
        print("  %-20s %10d %8.3f %10.3f %12.3f %12.3f"
              % (name, fetches, fetches / lru_fetches, fetched / asked, pre, post))
        rows.append(dict(scenario="trace", cache=name, fetches=fetches,
                         of_lru=fetches / lru_fetches, byte_miss_ratio=fetched / asked,
                         hot_hit_before_scan=pre, hot_hit_after_scan=post))
    print("  compulsory misses (distinct keys) %d = %.3f of LRU's fetches; hot set: the %d "
          "most popular keys, %d requests for them in the %d before the scan, %d in the %d "
          "after it" % (len(distinct), len(distinct) / lru_fetches, HOT, npre, WINDOW, npost,
                        WINDOW))
    print("  sfproxy's cache: %s" % json.dumps({k: cache_stats.get(k) for k in (
        "objects", "bytes", "evictions", "evictions_small", "evictions_main", "promotions",
        "ghost_hits", "small_bytes")}))
    print("  replay %.0f s (%.0f req/s, one connection), %.0f s in all"
          % (replay_s, len(keys) / replay_s, time.monotonic() - t0))
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "w") as f:
        for r in rows:
            f.write(json.dumps(dict(r, requests=len(keys), keys=KEYS, scan=SCAN,
                                    one_hit_share=ONE_HIT, max_bytes=max_bytes)) + "\n")


if __name__ == "__main__":
    main()
