"""t54: byte ranges (RFC 9110 §14): of stored responses, 206 for one range, 416 when none
of it exists, the whole 200 when If-Range no longer holds; on a miss or a join, the 206
slice streamed from the live flight as soon as its bytes arrive."""
import threading

from harness import Env, eq, check, parallel, wait_for


def test_ranges_of_a_stored_response():
    with Env() as env:
        size = 200000  # one segment, sized from its Content-Length
        t = "/rng?size=%d&cc=max-age=600&etag=r1" % size
        miss = env.get(t, {"Range": "bytes=0-9"})
        eq((miss.status, miss.header("Content-Range"), len(miss.body)),
           (206, "bytes 0-9/%d" % size, 10), "a miss gets its slice of the shared fetch")
        env.wait_stored()
        full = env.get(t).body
        eq(full[:10], miss.body, "the slice is the stored response's start")
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
        many = ",".join("%d-%d" % (i * 10, i * 10 + 1) for i in range(17))
        for ignored in ({"Range": "bytes=0-5,3-9"}, {"Range": "bytes=" + many},
                        {"Range": "bytes=0-9", "If-Range": '"old"'},
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


def test_a_range_on_a_miss_streams_before_the_whole_body():
    # The origin sends its head and the first half, then holds: a client whose range lies
    # in that half gets its 206 now; one whose range lies in the rest, and one past the
    # end, join the same flight; one origin request serves them all.
    with Env() as env:
        size = 400000
        t = "/rmiss?size=%d&cc=max-age=600&hold_body=RM" % size
        early = env.get(t, {"Range": "bytes=1000-1999"})
        eq((early.status, early.header("X-Cache"), early.header("Content-Range"),
            len(early.body)), (206, "MISS", "bytes 1000-1999/%d" % size, 1000),
           "the slice while the origin still holds the second half")
        late = []
        waiters = threading.Thread(target=lambda: late.extend(parallel(2, lambda i: env.get(
            t, {"Range": ["bytes=-100", "bytes=%d-" % size][i]}))))
        waiters.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] >= 1, "a slice waiting for its bytes")
        env.origin.release("RM")
        waiters.join(30)
        env.wait_stored()
        full = env.get(t).body
        eq(early.body, full[1000:2000], "the early slice's bytes")
        tail, past = late
        eq((tail.status, tail.header("Content-Range"), tail.body),
           (206, "bytes %d-%d/%d" % (size - 100, size - 1, size), full[-100:]),
           "a slice of the second half, after it arrived")
        eq((past.status, past.header("Content-Range")), (416, "bytes */%d" % size),
           "a range past the end")
        eq(env.origin.count(t), 1, "one origin request")


def test_a_range_of_unknown_length_gets_the_whole_response():
    with Env() as env:
        t = "/rchunked?size=5000&chunked=1&cc=max-age=600"
        r = env.get(t, {"Range": "bytes=0-9"})
        eq((r.status, len(r.body)), (200, 5000), "without a length the slice cannot be known")


def parts_of(r):
    """The parts of a multipart/byteranges response r: [(Content-Range, bytes)]."""
    ctype = r.header("Content-Type")
    check(ctype.startswith("multipart/byteranges; boundary="), "Content-Type %r" % ctype)
    boundary = ctype.split("boundary=", 1)[1].encode()
    body = r.body
    check(body.startswith(b"--" + boundary + b"\r\n"), "the first delimiter")
    check(body.endswith(b"\r\n--" + boundary + b"--\r\n"), "the closing delimiter")
    inner = body[len(boundary) + 4:-(len(boundary) + 8)]
    parts = []
    for chunk in inner.split(b"\r\n--" + boundary + b"\r\n"):
        head, data = chunk.split(b"\r\n\r\n", 1)
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        parts.append((fields[b"Content-Range"].decode(), fields.get(b"Content-Type"), data))
    return parts


def test_several_ranges_of_a_stored_response():
    # RFC 9110 §14.6: one part per range, in the order asked, each with the representation's
    # Content-Type; ranges past the end are left out; one left is a plain 206.
    with Env() as env:
        size = 300000
        t = "/rmany?size=%d&cc=max-age=600&hdr=Content-Type:video/mp4&chunked=1" % size
        full = env.get(t).body
        env.wait_stored()
        r = env.get(t, {"Range": "bytes=100000-100009, 0-4, -3, 999999-"})
        eq((r.status, r.header("X-Cache")), (206, "HIT"), "several ranges")
        eq(r.header("Content-Range"), None, "no Content-Range on the whole")
        parts = parts_of(r)
        eq([(cr, data) for cr, _, data in parts],
           [("bytes 100000-100009/%d" % size, full[100000:100010]),
            ("bytes 0-4/%d" % size, full[:5]),
            ("bytes %d-%d/%d" % (size - 3, size - 1, size), full[-3:])],
           "the parts, in the order asked, the unsatisfiable one left out")
        check(all(ct == b"video/mp4" for _, ct, _ in parts), "each part's Content-Type")
        one = env.get(t, {"Range": "bytes=5-9, 999999-"})
        eq((one.status, one.header("Content-Range"), one.body),
           (206, "bytes 5-9/%d" % size, full[5:10]), "one satisfiable range: a plain 206")
