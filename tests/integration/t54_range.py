"""t54: byte ranges (RFC 9110 §14) of stored responses: 206 for one range, 416 when none
of it exists, the whole 200 when If-Range no longer holds or on a miss."""
from harness import Env, eq, check


def test_ranges_of_a_stored_response():
    with Env() as env:
        size = 200000  # one segment, sized from its Content-Length
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


def test_ranges_across_segments_of_a_chunked_response():
    # Without a Content-Length the body is stored in segments of 4, 8, 16, 32, 64 and
    # 128 KiB: ranges that cross their edges, and whole hits served from all of them
    # (the zero-copy iovec path), must give the bytes the origin sent.
    with Env() as env:
        size = 200000
        t = "/rngc?size=%d&chunked=1&chunks=7&cc=max-age=600" % size
        full = env.get(t).body
        eq(len(full), size, "the whole response")
        env.wait_stored()
        edges = [4096, 4096 + 8192, 28672, 61440, 126976]
        cases = [(e - 10, e + 10) for e in edges] + [(4000, 130000), (0, size - 1),
                                                     (126976, size - 1), (4096, 4096)]
        for first, last in cases:
            r = env.get(t, {"Range": "bytes=%d-%d" % (first, last)})
            eq((r.status, r.header("X-Cache")), (206, "HIT"), "status for %d-%d" % (first, last))
            eq(r.body, full[first:last + 1], "bytes %d-%d across segments" % (first, last))
        for _ in range(2):
            r = env.get(t)
            eq((r.status, r.header("X-Cache"), r.body), (200, "HIT", full), "a whole hit")
        eq(env.origin.count(t), 1, "one origin request")
