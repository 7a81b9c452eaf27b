#!/usr/bin/env python3
"""objmem: what one stored small response costs sfproxy (docs/performance.md, "Memory per
stored response"). Usage: scripts/objmem.py [path/to/sfproxy]

Starts tests/origin/trace_origin.py and the real sfproxy with cache.max_bytes large
enough to keep everything, stores OBJMEM_WARM responses (so the allocator's arenas and
the first table and ghost growths exist), reads VmRSS and the cache's charged bytes, stores
OBJMEM_N more, and reads them again: per object, what the cache charged and what the
process grew, both over the same N. Bodies are OBJMEM_SIZE bytes (default 1024), keys
/k/<id>?s=<size> on two keep-alive connections; with OBJMEM_CHUNKED=1 the origin sends them
chunked, without Content-Length. Not part of make test; asserts nothing.
With OBJMEM_PRELOAD naming an allocation counter (a library for sfproxy's LD_PRELOAD that
writes "live-allocations usable-bytes" to $MCOUNT_FILE), also prints allocations per object."""
import http.client
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
os.environ["SF_BIN"] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                                       os.path.join(ROOT, "build", "release", "sfproxy"))
from harness import Origin, Proxy, rss_kib, wait_for  # noqa: E402
from trace_bench import Client, TRACE_ORIGIN  # noqa: E402

N = int(os.environ.get("OBJMEM_N", "100000"))
WARM = int(os.environ.get("OBJMEM_WARM", "5000"))
SIZE = int(os.environ.get("OBJMEM_SIZE", "1024"))
MCOUNT = os.environ.get("MCOUNT_FILE")
PRELOAD = os.environ.get("OBJMEM_PRELOAD")
CHUNKED = "&c=1" if os.environ.get("OBJMEM_CHUNKED") == "1" else ""


class ChunkedClient:
    """trace_bench's Client's get for responses a miss sends chunked (http.client reads
    them; slower, so use a smaller OBJMEM_N)."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path):
        self.c.request("GET", path)
        r = self.c.getresponse()
        return r.status, r.getheader("X-Cache", ""), len(r.read())

    def close(self):
        self.c.close()


def store(port, first, count):
    """Asks for keys first .. first+count-1 on two connections; every one must be 200."""
    errors = []

    def run(part):
        c = ChunkedClient(port) if CHUNKED else Client(port)
        for k in range(first + part, first + count, 2):
            status, _, length = c.get("/k/%d?s=%d%s" % (k, SIZE, CHUNKED))
            if status != 200 or length != SIZE:
                errors.append("key %d answered %d with %d bytes" % (k, status, length))
                break
        c.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:  # a thread cannot exit the process: the main thread does
        sys.exit("objmem: " + "; ".join(errors))


def snapshot(proxy, objects):
    wait_for(lambda: proxy.stats()["cache"]["objects"] == objects, "%d stored" % objects, 60)
    time.sleep(0.5)  # the counter file is rewritten every 0.2 s
    alloc = None
    if PRELOAD and MCOUNT:
        with open(MCOUNT) as f:
            alloc = [int(x) for x in f.read().split()]
    return rss_kib(proxy.proc.pid) * 1024, proxy.stats()["cache"]["bytes"], alloc


def main():
    origin = Origin(TRACE_ORIGIN)
    try:
        if PRELOAD:
            os.environ["LD_PRELOAD"] = PRELOAD  # sfproxy's alone: the origin is running
        proxy = Proxy(origin.url, {"access_log": {"path": None}, "log_level": "info",
                                   "cache": {"max_bytes": "4GiB"}}, test_clock=False)
        os.environ.pop("LD_PRELOAD", None)
        try:
            store(proxy.port, 0, WARM)
            rss0, charged0, alloc0 = snapshot(proxy, WARM)
            t0 = time.monotonic()
            store(proxy.port, WARM, N)
            secs = time.monotonic() - t0
            rss1, charged1, alloc1 = snapshot(proxy, WARM + N)
            stats = proxy.stats()["cache"]
        finally:
            proxy.stop()
    finally:
        origin.stop()
    print("objmem: %d objects of %d body bytes stored after %d (%.0f s); cache %s"
          % (N, SIZE, WARM, secs, {k: stats.get(k) for k in ("objects", "bytes")}))
    print("  charged per object:     %8.1f bytes" % ((charged1 - charged0) / N))
    print("  RSS growth per object:  %8.1f bytes (VmRSS %d -> %d KiB)"
          % ((rss1 - rss0) / N, rss0 // 1024, rss1 // 1024))
    print("  charge / RSS growth:    %8.3f" % ((charged1 - charged0) / (rss1 - rss0)))
    if alloc0 and alloc1:
        print("  live allocations per object: %.2f, usable bytes per object: %.1f"
              % ((alloc1[0] - alloc0[0]) / N, (alloc1[1] - alloc0[1]) / N))


if __name__ == "__main__":
    main()
