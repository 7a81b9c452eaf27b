"""t93: slices after a restart (issue 22, docs/disk.md "Sliced responses after a restart"):
each stored slice of a response too large to store whole is written to disk like any
response; after a restart the first request is fetched whole (it marks the key sliced
again), and every later one is answered from the slices on disk, a range too, with no
slice fetched again."""
from diskharness import DiskEnv
from harness import check, eq, wait_for

SIZE = 200000
SLICES = 13  # of 16 KiB
T = "/big?size=%d&ranges=1&cc=max-age=600&etag=b1" % SIZE


def sliced(env, n):
    wait_for(lambda: env.proxy.stats()["cache"]["sliced"] == n, "the key marked sliced")


def test_slices_come_back_after_a_restart():
    with DiskEnv(cache={"max_object_bytes": "64KiB", "slice_bytes": "16KiB"}) as env:
        full = env.get(T).body  # fetched whole; the key is read from slices from now on
        eq(len(full), SIZE, "the whole body")
        sliced(env, 1)
        r = env.get(T)
        eq((r.status, r.body == full), (200, True), "the whole response from its slices")
        env.wait_written(SLICES)
        eq(env.proxy.stats()["cache"]["slice_fetches"], SLICES, "every slice fetched once")
        eq(env.origin.count(T), 1 + SLICES, "one whole fetch, then one per slice")
        env.restart()
        r = env.get(T)
        eq((r.status, r.body == full), (200, True), "the first request after the restart")
        eq(env.origin.count(T), 2 + SLICES, "fetched whole again: nothing says it is sliced")
        sliced(env, 1)
        r = env.get(T)
        eq((r.status, r.header("X-Cache"), r.body == full), (200, "HIT", True),
           "the whole response from the slices on disk")
        r = env.get(T, {"Range": "bytes=100000-120000"})
        eq((r.status, r.header("X-Cache"), r.body), (206, "HIT", full[100000:120001]),
           "a range from the slices on disk")
        eq(env.origin.count(T), 2 + SLICES, "no slice fetched again")
        eq(env.proxy.stats()["cache"]["slice_fetches"], 0, "no slice fetches after the restart")
        # Each slice read from the disk once (by the request, or by its read-ahead, which
        # then finds it in memory).
        eq(env.disk()["reads"], SLICES, "disk reads")
