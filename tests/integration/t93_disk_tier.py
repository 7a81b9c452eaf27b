"""t93: the disk tier holds a working set larger than the memory cache (issue 22): after
one pass over keys that overflow cache.max_bytes (and fit cache.disk.max_bytes), a second
pass makes no origin request: what memory evicted, the disk answers."""
from diskharness import DiskEnv
from harness import check, eq

KEYS = 48
SIZE = 16 * 1024


def target(i):
    return "/t/%d?cc=max-age=3600&size=%d" % (i, SIZE)


def test_a_working_set_larger_than_memory_is_served_from_disk():
    memory = {"max_bytes": "256KiB", "max_object_bytes": "64KiB"}
    with DiskEnv(cache=memory) as env:
        bodies = {}
        for i in range(KEYS):
            r = env.get(target(i))
            eq(r.status, 200, "first pass %d" % i)
            bodies[i] = r.body
        env.wait_written(KEYS)
        st = env.proxy.stats()["cache"]
        check(st["objects"] < KEYS // 2, "memory holds a part only: %d of %d" % (st["objects"], KEYS))
        for lap in range(2):
            for i in range(KEYS):  # cyclic: the worst order for the memory cache
                r = env.get(target(i))
                eq(r.status, 200, "lap %d, %d" % (lap, i))
                check(r.body == bodies[i], "lap %d, %d: the stored body" % (lap, i))
            for i in range(KEYS):
                eq(env.origin.count(target(i)), 1, "origin requests for %d after lap %d" % (i, lap))
        check(env.disk()["hits"] >= KEYS, "disk hits: %d" % env.disk()["hits"])
