"""t93: slices after a restart (issue 22, docs/disk.md "Sliced responses after a restart"):
each stored slice of a response too large to store whole is written to disk like any
response, and so is the memory cache's sliced marker; after a restart every request is
answered from the slices on disk, the first too, a range too, with nothing fetched again.
Slices of a response changed at the origin meanwhile: the disk forgets its SLICED
record, so only the first request is cut off."""
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
        env.wait_written(SLICES + 1)  # and the sliced record
        eq(env.proxy.stats()["cache"]["slice_fetches"], SLICES, "every slice fetched once")
        eq(env.origin.count(T), 1 + SLICES, "one whole fetch, then one per slice")
        env.restart()
        eq(env.proxy.stats()["cache"]["sliced"], 0, "memory knows of no slices")
        r = env.get(T)
        eq((r.status, r.header("X-Cache"), r.body == full), (200, "HIT", True),
           "the first request after the restart, from the slices on disk")
        eq(env.proxy.stats()["cache"]["sliced"], 1, "marked sliced from the disk's record")
        r = env.get(T, {"Range": "bytes=100000-120000"})
        eq((r.status, r.header("X-Cache"), r.body), (206, "HIT", full[100000:120001]),
           "a range from the slices")
        eq(env.origin.count(T), 1 + SLICES, "nothing fetched again")
        eq(env.proxy.stats()["cache"]["slice_fetches"], 0, "no slice fetches after the restart")
        # Each slice read from the disk once (by the request, or by its read-ahead, which
        # then finds it in memory).
        eq(env.disk()["reads"], SLICES + 1, "disk reads: the slices, and the sliced record")


def test_slices_of_a_changed_response_are_forgotten_on_disk_too():
    """After a restart, the origin's representation has changed: the slice fetched that
    does not fit the disk's SLICED record makes the key be fetched whole again, the disk
    forgetting that record too; before, it stayed, and every request was cut off (review
    #4). At most the first request is cut, as without a disk."""
    from harness import request
    from t54_range import fixed_body, S
    with DiskEnv(cache={"max_object_bytes": "64KiB", "slice_bytes": "16KiB"}) as env:
        size = 100000
        t = "/bigg?size=%d&ranges=1&cc=max-age=600&generational=1" % size
        env.get(t)
        sliced(env, 1)
        eq(env.get(t, {"Range": "bytes=0-%d" % (2 * S - 1)}).status, 206, "slices 0-1")
        env.wait_written(3)
        eq(request(env.origin.port, "POST", "/_origin/generation?n=5").status, 200,
           "a new version at the origin")
        env.restart()
        new = fixed_body(size, 5)
        got = [env.get(t) for _ in range(3)]
        for i, r in enumerate(got[1:], 1):
            eq((r.error, r.status, r.body == new), (None, 200, True),
               "request %d after the restart: the new version, whole" % (i + 1))
