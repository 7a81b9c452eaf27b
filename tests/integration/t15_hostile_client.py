"""t15: hostile requests. Each sends crafted bytes over a raw socket and checks what the
client got (a 4xx/5xx and a closed connection), what the origin received (nothing of
it), and that the next ordinary request is served correctly (RFC 9112 §5, §6, §11)."""
import json
import re
import socket
import time

from harness import Env, eq, check, read_until, wait_for, MULT

H = b"Host: a\r\n"


def exchange(port, data, timeout=5):
    """Sends data on a fresh connection; returns everything received until the proxy
    closes (or the timeout: then the last element says so)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * MULT)
    try:
        s.sendall(data)
        out = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return bytes(out), "open"
            except ConnectionError:
                return bytes(out), "reset"
            if not chunk:
                return bytes(out), "closed"
            out += chunk
    finally:
        s.close()


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else None


def statuses(resp):
    """The status of each response in resp, walked by their Content-Length."""
    out = []
    while resp.startswith(b"HTTP/1.1 "):
        head, _, rest = resp.partition(b"\r\n\r\n")
        out.append(int(head.split(b" ", 2)[1]))
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        resp = rest[int(m.group(1)) if m else len(rest):]
    return out


def head_watchdog_passed(env, cut_before):
    """Waits on sfproxy's own clock instead of sleeping: opens a connection that sends
    nothing and waits until the head watchdog cuts it (request_head_timeouts passes
    cut_before). The watchdog cuts every connection in one scan against one time, so by
    then it has looked at every other connection at least timeouts.request_head after
    this call began, however slowly a sanitizer or a loaded machine runs it."""
    w = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10 * MULT)
    try:
        wait_for(lambda: env.proxy.stats()["request_head_timeouts"] > cut_before,
                 "the head watchdog to cut a connection that sent nothing")
        eq(read_until(w), b"", "what the silent connection got before it was cut")
    finally:
        w.close()


def read_one(sock):
    """Reads one response with a Content-Length from a connection that stays open."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = int(re.search(rb"\r\ncontent-length: *(\d+)", head, re.I).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def refused(env, data, want, what):
    """data is answered `want` (one status or a tuple of them) and the connection closed;
    the origin saw none of it; then an ordinary request works."""
    before = env.origin.stats()["total"]
    resp, end = exchange(env.proxy.port, data)
    wants = want if isinstance(want, tuple) else (want,)
    check(status_of(resp) in wants, "%s: expected a %s, got %r" % (what, wants, resp[:120]))
    eq(len(statuses(resp)), 1, "%s: responses on the connection" % what)
    eq(end, "closed", "%s: the connection after the refusal" % what)
    eq(env.origin.stats()["total"], before, "%s: requests that reached the origin" % what)
    ok = env.get("/after?cc=max-age=60")
    eq(ok.status, 200, "%s: the next ordinary request" % what)


def test_content_length_and_transfer_encoding_is_400():
    with Env() as env:
        # The classic CL.TE smuggle: a front that reads Content-Length forwards 4 bytes;
        # a back end that reads chunked sees a second request, /admin, on the same line.
        smuggle = (b"POST /up HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                   b"GET /admin?cc=max-age=60 HTTP/1.1\r\n" + H + b"\r\n")
        refused(env, smuggle, 400, "CL+TE")
        eq(env.origin.count("/admin?cc=max-age=60"), 0, "smuggled requests at the origin")
        te_cl = (b"POST /up HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                 b"Content-Length: 3\r\n\r\n0\r\n\r\n")
        refused(env, te_cl, 400, "TE+CL")


def test_transfer_encoding_other_than_chunked_is_refused():
    with Env() as env:
        for te in (b"gzip", b"gzip, chunked", b"chunked, gzip", b"Chunked", b"chunked;x",
                   b"\"chunked\"", b"identity"):
            refused(env, b"POST /te HTTP/1.1\r\n" + H + b"Transfer-Encoding: " + te +
                    b"\r\n\r\n0\r\n\r\n", (400, 501), "Transfer-Encoding: %r" % te)
        refused(env, b"POST /te HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "two TE lines")
        refused(env, b"POST /te HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400, "TE in HTTP/1.0")
        eq(env.proxy.stats()["bad_requests"], 9, "bad_requests")


def test_content_length_must_be_one_number():
    with Env() as env:
        for cl in (b"Content-Length: 3\r\nContent-Length: 4\r\n",
                   b"Content-Length: 3\r\nContent-Length: 3\r\n",
                   b"Content-Length: 3, 3\r\n", b"Content-Length: +3\r\n",
                   b"Content-Length: 0x3\r\n", b"Content-Length: 3 3\r\n"):
            refused(env, b"POST /cl HTTP/1.1\r\n" + H + cl + b"\r\nabc", 400, repr(cl))


def test_malformed_fields_are_400():
    with Env() as env:
        cases = {
            "space before colon": b"GET /f HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n",
            "obs-fold": b"GET /f HTTP/1.1\r\nHo: x\r\n st\r\n\r\n",
            "obs-fold after Host": b"GET /f HTTP/1.1\r\n" + H + b"X-A: 1\r\n\tCookie: s=1\r\n\r\n",
            "name not a token": b"GET /f HTTP/1.1\r\n" + H + b"X{y}: 1\r\n\r\n",
            "bare CR in a value": b"GET /f HTTP/1.1\r\n" + H + b"X: a\rb\r\n\r\n",
            "NUL in a value": b"GET /f HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n",
            "bare LF line end": b"GET /f HTTP/1.1\n" + H + b"\r\n",
            "control in target": b"GET /f\x01 HTTP/1.1\r\n" + H + b"\r\n",
            "no Host": b"GET /f HTTP/1.1\r\nX: y\r\n\r\n",
            "two Hosts": b"GET /f HTTP/1.1\r\n" + H + b"Host: b\r\n\r\n",
        }
        for what, data in cases.items():
            refused(env, data, 400, what)
        eq(env.origin.stats()["total"], 1, "origin requests (the one ordinary URL)")


def test_get_with_body_stays_get_and_head_with_body_is_refused():
    with Env() as env:
        r = env.get("/m?echo=1", method="GET", body=b"hello")
        eq(r.status, 200, "GET with content")
        echo = json.loads(r.body)
        eq(echo["method"], "GET", "method the origin received")
        eq(echo["body"], "hello", "content the origin received")
        eq(r.header("X-Cache"), "PASS", "a GET with content is not shared")
        refused(env, b"HEAD /m HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello", 400,
                "HEAD with content")


def test_chunked_body_with_a_lying_size_is_not_forwarded_whole():
    with Env() as env:
        # The chunk says 3 bytes and carries 8: what follows must not become a request,
        # nor the upload end as if it were whole.
        data = (b"POST /lie?digest=1 HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabcGET /x HTTP/1.1\r\n\r\n0\r\n\r\n")
        resp, end = exchange(env.proxy.port, data)
        check(status_of(resp) in (None, 400), "client got %r" % resp[:80])
        check(end in ("closed", "reset"), "connection after the bad chunk: %s" % end)
        eq(env.origin.count("/x"), 0, "smuggled request at the origin")
        # The abort is counted when the fetcher gets to it, a moment after the client's end.
        aborted = lambda s: s["upstream_errors"]["connect"] + s["upstream_cancelled"]
        wait_for(lambda: aborted(env.proxy.stats()) >= 1, "the upstream request aborted")
        eq(aborted(env.proxy.stats()), 1, "upstream requests aborted")
        eq(env.get("/after").status, 200, "the next ordinary request")


def test_pipelined_good_then_bad():
    with Env() as env:
        data = (b"GET /p1?cc=max-age=60 HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /p2 HTTP/1.1\r\n" + H + b"X : y\r\n\r\n")
        resp, end = exchange(env.proxy.port, data)
        eq(statuses(resp), [200, 400], "statuses on the connection")
        eq(end, "closed", "connection after the bad request")
        eq(env.origin.count("/p2"), 0, "the bad request at the origin")


def test_every_credential_line_is_keyed():
    with Env() as env:
        # The first client sends its session as a second Cookie line; the second sends only
        # the first line. Before, both were keyed on the first line alone and the second
        # client was handed the first one's response.
        t = "/cred?hold=CR&cc=max-age=60&echo=1"
        first = (b"GET " + t.encode() + b" HTTP/1.1\r\n" + H + b"Cookie: theme=dark\r\n"
                 b"Cookie: session=victim\r\nConnection: close\r\n\r\n")
        second = (b"GET " + t.encode() + b" HTTP/1.1\r\n" + H + b"Cookie: theme=dark\r\n"
                  b"Connection: close\r\n\r\n")
        socks = [socket.create_connection(("127.0.0.1", env.proxy.port)) for _ in range(2)]
        socks[0].sendall(first)
        wait_for(lambda: env.origin.count(t) >= 1, "the first request at the origin")
        socks[1].sendall(second)
        wait_for(lambda: env.origin.count(t) == 2, "a second origin request (not collapsed)")
        env.origin.release("CR")
        bodies = []
        for s in socks:
            s.settimeout(10 * MULT)
            bodies.append(json.loads(read_until(s).partition(b"\r\n\r\n")[2]))
            s.close()
        eq([[v for k, v in b["headers"] if k.lower() == "cookie"] for b in bodies],
           [["theme=dark", "session=victim"], ["theme=dark"]],
           "Cookie lines each origin request carried")
        eq(len(set(b["serial"] for b in bodies)), 2, "distinct origin responses")


def test_slow_head_is_cut_and_idle_keepalive_is_not():
    with Env({"timeouts": {"request_head": "1s"}}) as env:
        s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10 * MULT)
        s.sendall(b"GET /slow HTTP/1.1\r\n")
        closed = False
        deadline = time.monotonic() + 8 * MULT
        s.settimeout(0.3)
        while time.monotonic() < deadline:  # a byte every 300 ms never completes the head
            try:
                s.sendall(b"X")
                if s.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except ConnectionError:
                closed = True
                break
        s.close()
        check(closed, "a head trickled for %.0fs was not cut" % (8 * MULT))
        eq(env.proxy.stats()["request_head_timeouts"], 1, "request_head_timeouts")
        eq(env.origin.stats()["total"], 0, "origin requests")
        # A keep-alive connection that is idle between requests is not in a head.
        k = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10 * MULT)
        k.sendall(b"GET /k1?cc=max-age=60 HTTP/1.1\r\n" + H + b"\r\n")
        eq(statuses(read_one(k)), [200], "first response")
        # Idle past request_head, as the watchdog counts it: a silent connection opened
        # now is cut first. Were k's idle wait counted as a head, the same scan (or an
        # earlier one) would have cut k, and its second request would get nothing.
        head_watchdog_passed(env, 1)
        k.sendall(b"GET /k1?cc=max-age=60 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        second = read_until(k)
        k.close()
        check(second.startswith(b"HTTP/1.1 200"),
              "after an idle wait longer than request_head: %r" % second[:40])
        eq(env.proxy.stats()["request_head_timeouts"], 2,
           "request_head_timeouts (the trickled head and the silent connection)")


def test_bad_request_pipelined_behind_a_slow_download_does_not_cut_it():
    # request_head is twice the watchdog's grace for a bad head (BAD_GRACE_MS, 1 s, in
    # lib/conn.c): the silent connection below is cut only after the grace has run out.
    with Env({"timeouts": {"request_head": "2s"}}) as env:
        size = 4 << 20
        target = "/big?size=%d&cc=max-age=60" % size
        data = (b"GET %s HTTP/1.1\r\n" % target.encode() + H + b"\r\n"
                b"GET /p2 HTTP/1.1\r\n" + H + b"X : y\r\n\r\n")
        s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10 * MULT)
        s.sendall(data)
        # The first request reached the origin: sfproxy has read both heads (one segment),
        # and the download is under way, 4 MiB not yet read. Then the grace runs out on
        # sfproxy's clock: a watchdog that timed the bad head from its arrival, not from
        # the end of the response before it, cuts this connection in that scan.
        wait_for(lambda: env.origin.count(target) == 1, "the download's origin request")
        head_watchdog_passed(env, 0)
        resp = read_until(s)
        s.close()
        eq(statuses(resp), [200, 400], "statuses on the connection")
        eq(len(resp.partition(b"\r\n\r\n")[2].partition(b"HTTP/1.1 400")[0]), size,
           "the download before the bad request, whole")


def test_a_zero_length_is_zero_however_written():
    with Env() as env:
        for method in (b"GET", b"HEAD"):
            resp, end = exchange(env.proxy.port, method + b" /z?cc=max-age=60 HTTP/1.1\r\n" + H +
                                 b"Content-Length: 00\r\nConnection: close\r\n\r\n")
            eq(statuses(resp), [200], "%s with Content-Length: 00" % method.decode())


BUDGET = 16384  # SF_H1_HEAD_BUDGET (lib/h1scan.h): what docs/security.md promises is served
RECORD = 64  # a record in libmicrohttpd's pool: field line, query parameter, cookie
BIG = 15000  # the origin's response head is about this large (the cap is 16 KiB)


def head_cost(data):
    """What a request head costs against the budget, as docs/security.md states it;
    and whether its request line alone is over it."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    cost = len(head) + 4 + RECORD * (len(lines) - 1)
    target = lines[0].split(b" ")[1]
    parts = target.split(b"?", 1)[1].split(b"&") if b"?" in target else []
    parts = parts[:-1] if parts and parts[-1] == b"" else parts
    line_cost = len(lines[0]) + 2 + RECORD * len(parts)
    cookies = [line for line in lines[1:] if line.lower().startswith(b"cookie:")]
    if cookies:
        v = cookies[0].split(b":", 1)[1].lstrip(b" \t")
        cost += (len(v) + 16) // 16 * 16 + RECORD * (1 + v.count(b";") + v.count(b","))
    return cost + RECORD * len(parts), line_cost > BUDGET


class Conn:
    """A client connection whose answers are read one at a time."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10 * MULT)
        self.buf = b""

    def send(self, data):
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before all of it was sent: the answer is there to read

    def answer(self):
        """The status of the next response once it is whole, or how it ended."""
        try:
            while b"\r\n\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    return "closed without an answer" if not self.buf else "cut in its head"
                self.buf += chunk
            head, _, body = self.buf.partition(b"\r\n\r\n")
            length = int(re.search(rb"\r\ncontent-length: *(\d+)", head, re.I).group(1))
            while len(body) < length:
                chunk = self.s.recv(65536)
                if not chunk:
                    return "cut in its body"
                body += chunk
            self.buf = body[length:]
            return status_of(head)
        except ConnectionError:
            return "reset"
        except socket.timeout:
            return "no answer in time"

    def rest(self):
        return self.buf + read_until(self.s)

    def close(self):
        self.s.close()


def sweep_one(env, data, keep, what):
    """data on a fresh connection, or on one just answered with a BIG head (keep). Returns
    (what, the status wanted, what came, requests that reached the origin): served whole
    when its cost is within the budget; else 431 (414 for the request line), nothing
    forwarded, the connection closed; never a connection closed without a word."""
    cost, in_line = head_cost(data)
    target = data.split(b" ")[1].decode()
    # The last case's client can have its whole response before its flight ends: a miss of
    # the same target now would join that flight rather than reach the origin.
    wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "the last case's flight ended")
    before = env.origin.stats()["total"]
    want = 200 if cost <= BUDGET else 414 if in_line else 431
    what = "%s (cost %d, budget %d%s)" % (what, cost, BUDGET, ", kept alive" if keep else "")
    c = Conn(env.proxy.port)
    try:
        if keep:
            c.send(b"GET /big?cc=max-age=600&pad_head=%d HTTP/1.1\r\nHost: a\r\n\r\n" % BIG)
            eq(c.answer(), 200, "%s: the big-head response first" % what)
        c.send(data)
        got = c.answer()
        if got in (414, 431):
            eq(c.rest(), b"", "%s: the connection after the refusal" % what)
    finally:
        c.close()
    forwarded = env.origin.stats()["total"] - before
    return what, want, got, forwarded, 1 if want == 200 and "cc=" not in target else 0


def fields_head(target, n, v, cookie=None):
    lines = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * v) for i in range(n))
    c = b"Cookie: " + cookie + b"\r\n" if cookie is not None else b""
    return b"GET " + target.encode() + b" HTTP/1.1\r\n" + H + c + lines + b"\r\n"


def around_budget(make):
    """make(x) builds a head that grows with x; returns the heads whose cost is well
    within the budget, just within it, just over it and well over it."""
    lo, hi = 0, 1
    while head_cost(make(hi))[0] <= BUDGET:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if head_cost(make(mid))[0] <= BUDGET else (lo, mid)
    return [make(x) for x in sorted({lo * 3 // 4, lo, hi, hi + 1, hi * 5 // 4 + 1})]


def test_every_head_is_served_or_refused_within_the_pool():
    # libmicrohttpd keeps a request head (and a 64-byte record per field line, query
    # parameter and cookie) in one pool per connection, with the head of the response it
    # then builds. sfproxy's scanner refuses what would not fit beside the largest response
    # head (docs/security.md). Swept: field counts x sizes, long request lines, query
    # parameters, cookies; hits and misses; on fresh connections and on ones just answered
    # with a 15 KB head. Before the budget, such heads got the connection closed without an
    # answer (some after the request had been forwarded).
    with Env() as env:
        big = "/big?cc=max-age=600&pad_head=%d" % BIG
        r = env.get(big)
        eq(r.status, 200, "the big-head response")
        check(sum(len(k) + len(v) + 4 for k, v in r.headers) > BIG, "its head is over %d" % BIG)
        env.wait_stored()
        bad_before = env.proxy.stats()["bad_requests"]
        seq = [0]

        def miss(prefix):
            seq[0] += 1
            return "/%s%d?pad_head=%d" % (prefix, seq[0], BIG)
        cases = []
        for n in (1, 20, 100, 200):
            cases += [("%d fields, hit" % n, h)
                      for h in around_budget(lambda v, n=n: fields_head(big, n, v))]
        for n in (1, 60):
            t = miss("f")
            cases += [("%d fields, miss" % n, h)
                      for h in around_budget(lambda v, n=n, t=t: fields_head(t, n, v))]
        t = miss("line")
        cases += [("a long request line", h)
                  for h in around_budget(lambda k: fields_head(t + "&z=" + "a" * k, 0, 0))]
        t2 = miss("qs")
        cases += [("query parameters", h) for h in around_budget(
            lambda k: fields_head(t2 + "".join("&k%d=v" % i for i in range(k)), 0, 0))]
        t3 = miss("ck")
        cases += [("cookies", h) for h in around_budget(
            lambda k: fields_head(t3, 0, 0, b"; ".join(b"c%d=v" % i for i in range(k))))]
        runs = [sweep_one(env, data, keep, what) for keep in (False, True) for what, data in cases]
        silent = [(w, got) for w, _, got, _, _ in runs if got not in (200, 414, 431)]
        check(not silent, "%d of %d heads got no answer: %r" % (len(silent), len(runs), silent))
        lost = [w for w, _, got, n, _ in runs if got != 200 and n > 0]
        check(not lost, "forwarded, then refused or dropped: %r" % lost)
        for what, want, got, n, wanted_n in runs:
            eq(got, want, what)
            eq(n, wanted_n, "%s: requests that reached the origin" % what)
        refusals = len([r for r in runs if r[1] != 200])
        check(refusals >= 20 and len(runs) - refusals >= 20,
              "both sides swept: %d served, %d refused" % (len(runs) - refusals, refusals))
        eq(env.proxy.stats()["bad_requests"] - bad_before, refusals, "bad_requests")

        # A head at the budget with a refused one pipelined behind it in one write: the
        # first is answered whole, then the second refused, and it never reaches the origin.
        first = around_budget(lambda v: fields_head(big, 100, v))[1]
        for second in (fields_head(miss("p"), 2000, 1),
                       b"GET /?" + b"&" * 3000 + b" HTTP/1.1\r\n" + H + b"\r\n"):
            before = env.origin.stats()["total"]
            c = Conn(env.proxy.port)
            try:
                c.send(first + second)
                eq(c.answer(), 200, "the first of two pipelined heads")
                eq(c.answer(), 414 if head_cost(second)[1] else 431, "the second, refused")
                eq(c.rest(), b"", "the connection after the refusal")
            finally:
                c.close()
            eq(env.origin.stats()["total"], before, "requests that reached the origin")
