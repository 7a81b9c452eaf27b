"""t51: a small response already whole when its one client is answered (a miss, as a rule)
goes out as a hit does, head and body in one write (respond.c, whole_now): every byte and
its framing on a kept-alive connection, the bytes counted and logged, a range of it, a HEAD,
and what keeps the streamed path (a body of unknown length, one over 16 KiB, followers)."""
import json
import os
import tempfile
import threading

from harness import Env, eq, check, raw_connect, read_until, wait_for

CYCLE = bytes((i * 7 + 13) % 251 for i in range(251))


def fixed_body(size):
    return (CYCLE * (size // 251 + 1))[:size]


def read_one(sock, buf):
    """One response off a kept-alive connection (buf: bytes already read past the last
    one): (head text, body, the rest). Content-Length or chunked framing."""
    while b"\r\n\r\n" not in buf:
        more = sock.recv(1 << 16)
        check(more, "the connection closed before a response head")
        buf += more
    head, _, rest = buf.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
              for l in text.split("\r\n")[1:]}
    if "content-length" in fields:
        n = int(fields["content-length"])
        while len(rest) < n:
            rest += sock.recv(1 << 16)
        return text, fields, rest[:n], rest[n:]
    check(fields.get("transfer-encoding") == "chunked", "framed: %s" % text)
    body = b""
    while True:
        while b"\r\n" not in rest:
            rest += sock.recv(1 << 16)
        line, _, rest = rest.partition(b"\r\n")
        n = int(line, 16)
        while len(rest) < n + 2:
            rest += sock.recv(1 << 16)
        body, rest = body + rest[:n], rest[n + 2:]
        if n == 0:
            return text, fields, body, rest


def get_line(target, method="GET", extra=""):
    return ("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, target, extra)).encode()


def test_small_misses_pipelined_on_one_connection_every_byte():
    with Env() as env:
        sizes = [0, 1, 100, 4000, 16384, 16385, 70000]
        targets = ["/sm%d?fixed=1&size=%d&cc=no-store" % (i, n) for i, n in enumerate(sizes)]
        targets.append("/smc?fixed=1&size=300&cc=max-age%3D60")  # cacheable: stored too
        sizes.append(300)
        before = env.proxy.stats()["bytes_to_clients"]
        sock = raw_connect(env.proxy.port, b"".join(get_line(t) for t in targets))
        rest = b""
        for t, n in zip(targets, sizes):
            text, fields, body, rest = read_one(sock, rest)
            check(text.startswith("HTTP/1.1 200 "), "%s: status line %r" % (t, text[:40]))
            eq(fields.get("content-length"), str(n), "%s: Content-Length" % t)
            eq(body, fixed_body(n), "%s: the body" % t)
            eq(fields.get("x-cache"), "MISS", "%s: X-Cache" % t)
            eq(fields.get("via"), "1.1 sfproxy", "%s: Via" % t)
        sock.settimeout(0.3)
        eq(read_until(sock), b"", "nothing after the last response")
        sock.close()
        eq(env.proxy.stats()["bytes_to_clients"] - before, sum(sizes), "bytes counted")
        eq(env.get(targets[-1]).header("X-Cache"), "HIT", "the cacheable one was stored")


def test_small_miss_range_head_and_chunked_origin():
    with Env() as env:
        t = "/smr?fixed=1&size=1000&cc=max-age%3D60"
        sock = raw_connect(env.proxy.port, get_line(t, extra="Range: bytes=100-199\r\n") +
                           get_line("/smh?fixed=1&size=500&cc=no-store", "HEAD") +
                           get_line("/smk?fixed=1&size=700&chunked=1&cc=no-store"))
        text, fields, body, rest = read_one(sock, b"")
        check(text.startswith("HTTP/1.1 206 "), "a range of a miss: %r" % text[:40])
        eq(fields.get("content-range"), "bytes 100-199/1000", "Content-Range")
        eq(body, fixed_body(1000)[100:200], "the range's bytes")
        # A HEAD: its length, no body (the next response follows at once).
        while b"\r\n\r\n" not in rest:
            rest += sock.recv(1 << 16)
        head, _, rest = rest.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 500\r\n" in head + b"\r\n",
              "HEAD's head: %r" % head)
        # Unknown length at the origin: still sent chunked, as it came.
        text, fields, body, rest = read_one(sock, rest)
        eq(fields.get("transfer-encoding"), "chunked", "a chunked origin's miss")
        eq(body, fixed_body(700), "its body")
        sock.close()


def test_small_miss_access_log_bytes():
    fd, path = tempfile.mkstemp(prefix="sfproxy-t51-", suffix=".log")
    os.close(fd)
    try:
        with Env({"access_log": {"path": path, "format": "json"}}) as env:
            eq(len(env.get("/sml?fixed=1&size=321&cc=no-store").body), 321, "body")
            eq(env.get("/smlh?fixed=1&size=99&cc=no-store", method="HEAD").body, b"", "HEAD")
            wait_for(lambda: len(open(path).read().splitlines()) >= 2, "two log lines")
            lines = [json.loads(l) for l in open(path).read().splitlines()]
            eq([(l["status"], l["bytes"]) for l in lines], [(200, 321), (200, 0)],
               "status and body bytes logged")
    finally:
        os.unlink(path)


def test_followers_of_a_small_miss_get_every_byte():
    """Followers keep the streamed path (their head at once); all get the same bytes."""
    with Env() as env:
        t = "/smf?hold=F1&fixed=1&size=2000&cc=max-age%3D60"
        out = [None] * 4

        def one(i):
            out[i] = env.get(t)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        for th in threads:
            th.start()
        wait_for(lambda: env.proxy.stats()["waiters_now"] >= 4, "all clients parked")
        env.origin.release("F1")
        for th in threads:
            th.join()
        eq(env.origin.count(t), 1, "one origin fetch")
        eq([r.body for r in out], [fixed_body(2000)] * 4, "every client's body")
