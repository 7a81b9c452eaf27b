"""t93: an unsafe request's invalidation (RFC 9111 §4.4) reaches every disk copy of its
URL, whatever else its key holds, when memory holds none of them (after a restart): a
response stored under a key with credentials (Authorization, with `public`) or a route's
key fields (key.headers) is revalidated after a POST to its URL, never served from the
disk as it was. Each is checked across the three ways a start finds the records: the
checkpoint (SIGTERM), the records written after it (kill -9), the whole log (no
checkpoint). POSTs to URLs the disk holds nothing of still write nothing.

On the code before the store could tell whether it holds any key of a URL (main at
03cfec7), each test here failed: the GET after the POST was a disk HIT."""
import os
import signal

from diskharness import DiskEnv
from harness import check, eq, wait_for

ROUTES = [{"name": "dev", "match": {"path_prefix": "/dev/"}, "key": {"headers": ["X-Device"]}}]


def restart(env, how):
    """Starts sfproxy again on the store: from the checkpoint (SIGTERM), from the records
    written after the creation's checkpoint (kill -9), or from the whole log."""
    if how == "kill":
        env.restart(signal.SIGKILL)
        return
    env.stop()
    if how == "scan":
        os.unlink(os.path.join(env.dir, "index.ckpt"))
    env.start()
    wait_for(lambda: "records in" in env.proxy.output(), "the store's load logged")
    loaded = "(checkpoint, then" in env.proxy.output()
    eq(loaded, how == "checkpoint", "loaded from the checkpoint (log:\n%s)" % env.proxy.output())


def invalidated_after_restart(env, t, headers, how):
    first = env.get(t, headers)
    eq(first.header("X-Cache"), "MISS", "first request")
    wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the fetch over")
    eq(env.get(t, headers).header("X-Cache"), "HIT", "stored (a shared response)")
    env.wait_written(1)
    restart(env, how)
    writes = env.disk()["writes"]
    eq(env.get(t, method="POST", body=b"x").status, 200, "the POST")  # RFC 9111 §4.4
    # POSTs to URLs nothing holds write nothing to the disk (no tombstone each).
    for i in range(50):
        eq(env.get("/nothing/%d" % i, method="POST", body=b"x").status, 200, "POST %d" % i)
    wait_for(lambda: env.disk()["writes_queued"] == 0, "the writer idle")
    after = env.disk()["writes"] - writes
    r = env.get(t, headers)
    eq((r.status, r.header("X-Cache")), (200, "REVALIDATED"),
       "%s: invalidated by the POST (memory held none of its keys)" % how)
    check(after == 1, "one tombstone, for %s's URL: %d writes" % (t, after))
    eq(r.body, first.body, "the stored body, confirmed by a 304")
    eq(env.origin.count(t), 3, "the first fetch, the POST, one conditional request")


def test_a_credentials_key_is_invalidated_after_a_restart():
    for how in ("checkpoint", "kill", "scan"):
        with DiskEnv() as env:
            t = "/auth/%s?etag=v1&cc=public,max-age%%3D3600" % how
            invalidated_after_restart(env, t, {"Authorization": "Bearer a"}, how)


def test_a_route_key_is_invalidated_after_a_restart():
    for how in ("checkpoint", "kill", "scan"):
        with DiskEnv(top={"routes": ROUTES}) as env:
            t = "/dev/%s?etag=v1&cc=max-age%%3D3600" % how
            invalidated_after_restart(env, t, {"X-Device": "mobile"}, how)
