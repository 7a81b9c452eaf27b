"""t54: byte ranges (RFC 9110 §14): of stored responses, 206 for one range, 416 when none
of it exists, the whole 200 when If-Range no longer holds; on a miss or a join, the 206
slice streamed from the live flight as soon as its bytes arrive."""
import threading

from harness import Env, eq, check, parallel, request, wait_for


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


CYCLE = bytes((i * 7 + 13) % 251 for i in range(251))  # the origin's fixed body (fixed=1)


def fixed_body(size, seed=0):
    return bytes(CYCLE[(i + seed) % 251] for i in range(size))


SLICED = {"cache": {"max_object_bytes": "64KiB", "slice_bytes": "16KiB"}}
S = 16384


def mark_sliced(env, t):
    """The first request for t, fetched whole; the key is then read from slices."""
    first = env.get(t)
    wait_for(lambda: env.proxy.stats()["cache"]["sliced"] == 1, "the key marked sliced")
    return first


def slice_ranges(first_index, last_index, size):
    return ["bytes=%d-%d" % (i * S, min(size, (i + 1) * S) - 1)
            for i in range(first_index, last_index + 1)]


def test_a_response_too_large_to_store_is_kept_in_slices():
    # RFC 9111 §3.3, §3.4: a 200 over cache.max_object_bytes is kept as 16 KiB partial
    # responses, each fetched with a Range of its own and stored; a range a client asks is
    # combined from the slices it spans, fetching only those not stored yet.
    with Env(SLICED) as env:
        size = 200000
        t = "/big?size=%d&ranges=1&cc=max-age=600&etag=b1&hdr=Content-Type:video/mp4" % size
        full = fixed_body(size)
        first = mark_sliced(env, t)
        eq((first.status, first.header("X-Cache"), first.body), (200, "MISS", full),
           "the first request streams the whole response")
        eq(env.origin.stats()["ranges"].get(t), None, "the first fetch asked for it all")

        r = env.get(t, {"Range": "bytes=100000-120000"})
        eq((r.status, r.header("X-Cache"), r.header("Content-Range"), r.body),
           (206, "MISS", "bytes 100000-120000/%d" % size, full[100000:120001]),
           "a range from two new slices")
        eq((r.header("ETag"), r.header("Content-Type"), r.header("Accept-Ranges")),
           ('"b1"', "video/mp4", "bytes"), "the representation's fields")
        eq(sorted(env.origin.stats()["ranges"][t]), sorted(slice_ranges(6, 7, size)),
           "only the two slices it spans were fetched")
        env.wait_stored(2)
        r = env.get(t, {"Range": "bytes=100000-120000"})
        eq((r.status, r.header("X-Cache"), r.body), (206, "HIT", full[100000:120001]),
           "the same range again, from the stored slices")
        r = env.get(t, {"Range": "bytes=110000-140000"})
        eq((r.status, r.body), (206, full[110000:140001]), "a range over stored and new slices")
        eq(sorted(env.origin.stats()["ranges"][t]), sorted(slice_ranges(6, 8, size)),
           "only the slice it lacked was fetched")

        whole = env.get(t)
        eq((whole.status, whole.header("Content-Length"), whole.header("Content-Range"),
            whole.body), (200, str(size), None, full), "the whole response from the slices")
        env.wait_stored(13)
        eq(sorted(env.origin.stats()["ranges"][t]), sorted(slice_ranges(0, 12, size)),
           "every slice fetched once")
        eq(env.origin.count(t), 14, "one whole fetch, then one per slice")
        eq(env.proxy.stats()["cache"]["slice_fetches"], 13, "slice fetches counted")

        cases = [("bytes=-500", size - 500, size - 1), ("bytes=0-0", 0, 0),
                 ("bytes=16383-16384", 16383, 16384), ("bytes=%d-" % (size - 1), size - 1, size - 1)]
        for spec, a, b in cases:
            r = env.get(t, {"Range": spec})
            eq((r.status, r.header("X-Cache"), r.header("Content-Range"), r.body),
               (206, "HIT", "bytes %d-%d/%d" % (a, b, size), full[a:b + 1]), spec)
        r = env.get(t, {"Range": "bytes=%d-" % size})
        eq((r.status, r.header("Content-Range"), r.body), (416, "bytes */%d" % size, b""),
           "a range past the end")
        r = env.get(t, {"Range": "bytes=10-19", "If-Range": '"b1"'})
        eq((r.status, r.body), (206, full[10:20]), "If-Range with the current ETag")
        for whole_asked in ({"Range": "bytes=10-19", "If-Range": '"old"'},
                            {"Range": "bytes=0-4, 100-104"}):
            r = env.get(t, whole_asked)
            eq((r.status, r.body), (200, full), "the whole response for %r" % whole_asked)
        r = env.get(t, {"If-None-Match": '"b1"'})
        eq((r.status, r.body, r.header("ETag")), (304, b"", '"b1"'), "a conditional request")
        r = env.get(t, method="HEAD")
        eq((r.status, r.header("Content-Length"), r.body), (200, str(size), b""), "HEAD")
        eq(env.origin.count(t), 14, "all of these from the stored slices")


def test_only_if_cached_is_served_from_stored_slices():
    # RFC 9111 §5.2.1.7: only-if-cached on a key kept in slices is answered from the
    # slices when every slice it spans is stored, and is 504 when one is not; either way
    # nothing is fetched.
    with Env(SLICED) as env:
        size = 200000
        t = "/oic?size=%d&ranges=1&cc=max-age=600&etag=o1" % size
        full = fixed_body(size)
        mark_sliced(env, t)
        oic = {"Cache-Control": "only-if-cached"}

        def ask(spec=None, method="GET"):
            return env.get(t, dict(oic, **({"Range": spec} if spec else {})), method=method)

        for spec, method in (("bytes=100000-120000", "GET"), (None, "GET"), (None, "HEAD")):
            eq(ask(spec, method).status, 504, "%s %s before its slices are stored" % (method, spec))
        eq(env.origin.count(t), 1, "only-if-cached fetched nothing")
        env.get(t, {"Range": "bytes=100000-120000"})  # stores slices 6 and 7
        env.wait_stored(2)
        r = ask("bytes=100000-120000")
        eq((r.status, r.header("X-Cache"), r.header("Content-Range"), r.body),
           (206, "HIT", "bytes 100000-120000/%d" % size, full[100000:120001]),
           "a range over two stored slices")
        r = ask("bytes=110000-140000")
        eq(r.status, 504, "a range that needs slice 8, not stored")
        eq(ask().status, 504, "the whole response: most slices are not stored")
        eq(sorted(env.origin.stats()["ranges"][t]), sorted(slice_ranges(6, 7, size)),
           "no slice fetched for an only-if-cached request")
        eq(env.origin.count(t), 3, "origin requests: the whole one, then slices 6 and 7")

        env.get(t)  # every slice stored
        env.wait_stored(13)
        fetched = env.origin.count(t)
        r = ask()
        eq((r.status, r.header("X-Cache"), r.header("Content-Length"), r.body),
           (200, "HIT", str(size), full), "the whole response from the stored slices")
        r = ask("bytes=-500")
        eq((r.status, r.body), (206, full[-500:]), "a suffix range")
        r = ask(method="HEAD")
        eq((r.status, r.header("Content-Length"), r.body), (200, str(size), b""), "HEAD")
        eq(env.origin.count(t), fetched, "none of these fetched anything")


def test_clients_of_one_slice_share_its_fetch():
    with Env(SLICED) as env:
        size = 300000
        t = "/bigc?size=%d&ranges=1&cc=max-age=600&etag=c1&delay_ms=300" % size
        mark_sliced(env, t)
        full = fixed_body(size)
        got = parallel(20, lambda i: env.get(t, {"Range": "bytes=%d-%d" % (40000 + i, 60000)}))
        for i, r in enumerate(got):
            eq((r.status, r.body), (206, full[40000 + i:60001]), "client %d" % i)
        eq(sorted(env.origin.stats()["ranges"][t]), sorted(slice_ranges(2, 3, size)),
           "20 clients, one fetch per slice")


def test_slices_of_another_version_are_never_combined():
    # Each origin response has a new ETag and other bytes: a fetched slice that is not of
    # the representation the key was marked with ends slicing, and the client gets its
    # range from one whole response instead; its bytes all belong to the ETag it carries.
    with Env(SLICED) as env:
        size = 100000
        t = "/bigv?size=%d&ranges=1&cc=max-age=600&etag_changes=1" % size
        mark_sliced(env, t)
        for attempt in range(3):
            r = env.get(t, {"Range": "bytes=20000-40000"})
            eq(r.status, 206, "a range (%d)" % attempt)
            seed = int(r.header("ETag").strip('"')[1:])
            eq(r.body, fixed_body(size, seed)[20000:40001],
               "every byte of one version, the one its ETag names (%d)" % attempt)
            eq(env.origin.stats()["ranges"][t], slice_ranges(1, 1, size) * (attempt + 1),
               "a slice tried each time (%d)" % attempt)


def test_a_partial_response_shorter_than_its_content_range_never_fits():
    # Its Content-Range names a whole slice, its body (and Content-Length) is half of it:
    # not stored, not combined; the client's range comes from a whole response instead.
    with Env(SLICED) as env:
        size = 100000
        t = "/bigl?size=%d&ranges=1&range_lies=1&cc=max-age=600&etag=l1" % size
        mark_sliced(env, t)
        r = env.get(t, {"Range": "bytes=30000-30099"})  # in the half that is not sent
        eq((r.status, r.header("Content-Range"), r.body),
           (206, "bytes 30000-30099/%d" % size, fixed_body(size)[30000:30100]),
           "the range, from one whole response")
        eq(env.origin.stats()["ranges"][t], slice_ranges(1, 1, size), "the slice was tried")
        eq(env.proxy.stats()["cache"]["objects"], 0, "nothing of it stored")


def test_an_origin_that_ignores_ranges():
    # It says Accept-Ranges: bytes but answers a slice's Range with the whole 200: the
    # slice does not fit, and the client's range comes from that whole response instead.
    # Without Accept-Ranges, a large response is not kept in slices at all.
    with Env(SLICED) as env:
        size = 100000
        full = fixed_body(size)
        liar = "/bigi?size=%d&fixed=1&cc=max-age=600&etag=i1&hdr=Accept-Ranges:bytes" % size
        mark_sliced(env, liar)
        r = env.get(liar, {"Range": "bytes=50000-50099"})
        eq((r.status, r.header("Content-Range"), r.body),
           (206, "bytes 50000-50099/%d" % size, full[50000:50100]), "the range, whole-fetched")
        eq((env.origin.stats()["ranges"][liar], env.origin.count(liar)),
           (slice_ranges(3, 3, size), 3), "the slice tried, then the whole response")
        silent = "/bign?size=%d&fixed=1&cc=max-age=600&etag=n1" % size
        env.get(silent)
        r = env.get(silent, {"Range": "bytes=50000-50099"})
        eq((r.status, r.body), (206, full[50000:50100]), "a range of a response without slices")
        eq(env.origin.stats()["ranges"].get(silent), None, "no slice asked of it")


def test_a_new_version_met_mid_response_cuts_it():
    # Slices 0-1 are stored from generation 0; the origin then changes. A range over slices
    # 1-3 reads stored slice 1, then fetches slice 2 of the new version: it cannot be
    # combined with what was sent, so the client is cut off (a short body it can detect),
    # the key is fetched whole again, and from then on only the new version is served.
    with Env(SLICED) as env:
        size = 100000
        t = "/bigg?size=%d&ranges=1&cc=max-age=600&generational=1" % size
        mark_sliced(env, t)
        old = fixed_body(size, 0)
        r = env.get(t, {"Range": "bytes=0-%d" % (2 * S - 1)})
        eq((r.status, r.body), (206, old[:2 * S]), "slices 0-1 of generation 0")
        env.wait_stored(2)
        eq(request(env.origin.port, "POST", "/_origin/generation?n=5").status, 200, "a new version")
        cut = env.get(t, {"Range": "bytes=%d-%d" % (S + 10, 3 * S + 10)})
        eq((cut.status, cut.header("ETag"), cut.error), (206, '"g0"', "truncated"),
           "cut where the new version begins")
        check(old[S + 10:].startswith(cut.body) and len(cut.body) == S - 10,
              "what it got is generation 0's slice 1, whole")
        new = fixed_body(size, 5)
        r = env.get(t, {"Range": "bytes=%d-%d" % (S + 10, 3 * S + 10)})
        eq((r.status, r.header("ETag"), r.body), (206, '"g5"', new[S + 10:3 * S + 11]),
           "the next request: the new version, fetched whole")
        wait_for(lambda: env.proxy.stats()["cache"]["sliced"] == 1, "marked again")
        r = env.get(t)
        eq((r.status, r.header("ETag"), r.body), (200, '"g5"', new),
           "the whole response, from slices of the new version alone")


def test_the_next_slice_is_asked_for_while_one_is_read():
    # Read-ahead: once a slice's head is in, the next slice the response reaches into is
    # fetched too, so that a client reading on finds it coming.
    with Env(SLICED) as env:
        size = 100000
        t = "/bigr?size=%d&ranges=1&cc=max-age=600&etag=r1&hold_body=RA" % size
        whole = threading.Thread(target=env.get, args=(t,))
        whole.start()
        wait_for(lambda: env.origin.count(t) == 1, "the whole fetch held")
        env.origin.release("RA")
        whole.join()
        wait_for(lambda: env.proxy.stats()["cache"]["sliced"] == 1, "the key marked sliced")
        eq(request(env.origin.port, "POST", "/_origin/reset").status, 200, "holds armed again")
        got = []
        reader = threading.Thread(target=lambda: got.append(
            env.get(t, {"Range": "bytes=20000-40000"})))
        reader.start()
        wait_for(lambda: len(env.origin.stats()["ranges"].get(t, [])) == 2,
                 "slice 2 asked for while slice 1 is held half sent")
        check(not got, "the client is still reading slice 1")
        env.origin.release("RA")
        reader.join()
        eq((got[0].status, got[0].body), (206, fixed_body(size)[20000:40001]), "its range")
