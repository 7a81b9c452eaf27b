"""t93: a damaged store never serves a wrong byte (issue 22): bytes flipped in the middle of
the written part of <path>/store while sfproxy is stopped; after the start every response
equals the origin's, the damaged records are misses, and they are counted."""
import os

from diskharness import DiskEnv
from harness import check, eq, request

N = 32
SIZE = 8000


def target(i):
    # fixed=1: the origin sends the same bytes every time, so a refetch equals the first.
    return "/d/%d?cc=max-age=3600&fixed=1&size=%d" % (i, SIZE + i)


def flip(path, offsets):
    with open(path, "r+b") as f:
        for off in offsets:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x5A]))


def test_flipped_bytes_are_misses_never_wrong_bytes():
    with DiskEnv() as env:
        want = {}
        for i in range(N):
            r = env.get(target(i))
            eq(r.status, 200, "first request of %d" % i)
            want[i] = r.body
        env.wait_written(N)
        written = env.disk()["write_bytes"]
        env.stop()
        store = os.path.join(env.dir, "store")
        check(os.path.getsize(store) >= written, "the store file holds what was written")
        # Eight flips across the middle half of what was written (the log starts after
        # the store's 4 KiB superblock).
        start = 4096 + written // 4
        flip(store, [start + k * (written // 16) for k in range(8)])
        env.start()
        hits = misses = 0
        for i in range(N):
            r = env.get(target(i))
            eq(r.status, 200, "after the damage: %s" % target(i))
            check(r.body == want[i], "%s: the origin's bytes (%d, got %d)"
                  % (target(i), len(want[i]), len(r.body)))
            if r.header("X-Cache") == "HIT":
                hits += 1
                eq(env.origin.count(target(i)), 1, "a hit asked the origin nothing")
            else:
                eq(r.header("X-Cache"), "MISS", "%s: a hit or a miss" % target(i))
                misses += 1
                eq(env.origin.count(target(i)), 2, "a damaged record was fetched again")
        check(misses >= 1, "some records were damaged (misses: %d, hits %d)" % (misses, hits))
        check(hits >= N // 2, "the undamaged ones are hits (hits: %d of %d)" % (hits, N))
        d = env.disk()
        check(d["checksum_failures"] >= 1, "checksum failures counted: %s" % d)
        eq(d["hits"], hits, "disk hits")
        m = request(env.proxy.admin_port, "GET", "/metrics").body.decode()
        check("sfproxy_disk_checksum_failures_total %d" % d["checksum_failures"] in m,
              "/metrics has the checksum failures")
