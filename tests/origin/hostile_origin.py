#!/usr/bin/env python3
"""hostile_origin: an origin that answers with exactly the bytes a test asks for, framing
faults included, over a raw socket (no HTTP library would send them).

GET /r?case=NAME[&delay_ms=N] answers with the canned response NAME (below), after delay_ms;
the connection is then closed. case=bomb answers "Transfer-Encoding: gzip, gzip, chunked"
with a body of about 2 KB that decodes to 1 GiB of zeros (built at the first request). GET /_origin/stats answers JSON: total and per-case counts.
The first line on stdout is "origin listening on 127.0.0.1:PORT"."""
import gzip
import json
import socket
import socketserver
import sys
import threading
import time
import zlib
from urllib.parse import parse_qs, urlsplit

BODY = b"hello"
GZIP_BODY = gzip.compress(BODY, mtime=0)
CC = b"Cache-Control: max-age=60\r\n"


def head(status, *lines):
    return b"HTTP/1.1 " + status + b"\r\n" + CC + b"".join(l + b"\r\n" for l in lines) + b"\r\n"


CASES = {
    "ok": head(b"200 OK", b"Content-Length: 5") + BODY,
    "cl_te": head(b"200 OK", b"Content-Length: 5", b"Transfer-Encoding: chunked") +
    b"5\r\nhello\r\n0\r\n\r\n",
    "cl_differ": head(b"200 OK", b"Content-Length: 5", b"Content-Length: 3") + BODY,
    "cl_same_twice": head(b"200 OK", b"Content-Length: 5", b"Content-Length: 5") + BODY,
    "cl_junk": head(b"200 OK", b"Content-Length: 5x") + BODY,
    "te_unknown": head(b"200 OK", b"Transfer-Encoding: x-unknown, chunked") +
    b"5\r\nhello\r\n0\r\n\r\n",
    # RFC 9112 §6.3: a transfer coding libcurl decodes, ended by the close or by chunked.
    "te_gzip_close": head(b"200 OK", b"Transfer-Encoding: gzip", b"Connection: close") +
    GZIP_BODY,
    "te_gzip_chunked": head(b"200 OK", b"Transfer-Encoding: gzip, chunked") +
    b"%x\r\n%s\r\n0\r\n\r\n" % (len(GZIP_BODY), GZIP_BODY),
    "status_1000": b"HTTP/1.1 1000 Big\r\n" + CC + b"Content-Length: 5\r\n\r\n" + BODY,
    "status_099": b"HTTP/1.1 099 Small\r\n" + CC + b"Content-Length: 5\r\n\r\n" + BODY,
    "bare_cr": head(b"200 OK", b"X-A: a\rSet-Cookie: injected=1", b"Content-Length: 5") + BODY,
    "nul": head(b"200 OK", b"X-A: a\x00b", b"Content-Length: 5") + BODY,
    "space_colon": head(b"200 OK", b"X-A : a", b"Content-Length: 5") + BODY,
    "no_colon": head(b"200 OK", b"X-A", b"Content-Length: 5") + BODY,
    "folded": head(b"200 OK", b"X-A: a", b" b", b"Content-Length: 5") + BODY,
    "fold_first": b"HTTP/1.1 200 OK\r\n folded, no colon\r\n" + CC + b"Content-Length: 5\r\n\r\n"
    + BODY,
    "huge_head": head(b"200 OK", *[b"X-F%d: %s" % (i, b"v" * 400) for i in range(48)],
                      b"Content-Length: 5") + BODY,
    "big_head": head(b"200 OK", *[b"X-F%d: %s" % (i, b"v" * 400) for i in range(24)],
                     b"Content-Length: 5") + BODY,
    "fields_100": head(b"200 OK", *[b"X-F%d: v" % i for i in range(98)], b"Content-Length: 5")
    + BODY,  # with Cache-Control: 100 fields, the most passed on
    "many_fields": head(b"200 OK", *[b"X-F%d: v" % i for i in range(120)],
                        b"Content-Length: 5") + BODY,
}

lock = threading.Lock()
counts = {}
BOMB_DECODED = 1 << 30
bomb = []


def gzip_of(chunks):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    return b"".join([c.compress(x) for x in chunks] + [c.flush()])


def bomb_response():
    """A double-gzip bomb: small on the wire, BOMB_DECODED bytes once both codings are
    undone (about 1 MiB after the first)."""
    with lock:
        if not bomb:
            zeros = bytes(1 << 20)
            inner = gzip_of(zeros for _ in range(BOMB_DECODED >> 20))
            outer = gzip_of([inner])
            bomb.append(head(b"200 OK", b"Transfer-Encoding: gzip, gzip, chunked") +
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(outer), outer))
        return bomb[0]


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        target = data.split(b" ", 2)[1].decode()
        url = urlsplit(target)
        q = parse_qs(url.query)
        if url.path == "/_origin/stats":
            with lock:
                body = json.dumps({"total": sum(counts.values()), "cases": counts}).encode()
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close"
                                 b"\r\n\r\n%s" % (len(body), body))
            return
        case = q.get("case", ["ok"])[0]
        with lock:
            counts[case] = counts.get(case, 0) + 1
        time.sleep(int(q.get("delay_ms", ["0"])[0]) / 1000)
        self.request.sendall(bomb_response() if case == "bomb" else CASES[case])
        self.request.shutdown(socket.SHUT_WR)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print("origin listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
