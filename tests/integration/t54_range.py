"""t54: byte ranges (RFC 9110 §14) of stored responses: 206 for one range, 416 when none
of it exists, the whole 200 when If-Range no longer holds or on a miss."""
from harness import Env, eq, check


def test_ranges_of_a_stored_response():
    with Env() as env:
        size = 200000  # several segments
        t = "/rng?size=%d&cc=max-age=600&etag=r1" % size
        miss = env.get(t, {"Range": "bytes=0-9"})
        eq((miss.status, len(miss.body)), (200, size), "a miss sends the whole response")
        env.wait_stored()
        full = miss.body
        cases = [("bytes=0-9", 0, 9), ("bytes=100-", 100, size - 1),
                 ("bytes=-500", size - 500, size - 1), ("bytes=65530-70000", 65530, 70000),
                 ("bytes=%d-" % (size - 1), size - 1, size - 1)]
        for spec, first, last in cases:
            r = env.get(t, {"Range": spec})
            eq((r.status, r.header("X-Cache")), (206, "HIT"), "status for %s" % spec)
            eq(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, size),
               "Content-Range for %s" % spec)
            eq(r.body, full[first:last + 1], "bytes for %s" % spec)
            check(r.header("ETag") == '"r1"', "the stored fields come along")
        r = env.get(t, {"Range": "bytes=%d-" % size})
        eq((r.status, r.header("Content-Range"), r.body), (416, "bytes */%d" % size, b""),
           "a range past the end")
        for ignored in ({"Range": "bytes=0-1,5-6"}, {"Range": "bytes=0-9", "If-Range": '"old"'},
                        {"Range": "bytes=0-9", "If-Range": 'W/"r1"'}):
            r = env.get(t, ignored)
            eq((r.status, len(r.body)), (200, size), "the whole response for %r" % ignored)
        r = env.get(t, {"Range": "bytes=0-9", "If-Range": '"r1"'})
        eq((r.status, r.body), (206, full[:10]), "If-Range with the current ETag")
        r = env.get(t, {"Range": "bytes=0-9"}, method="HEAD")
        eq(r.status, 200, "HEAD ignores Range")
        eq(env.origin.count(t), 1, "every range from the one stored response")
