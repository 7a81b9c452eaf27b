#!/usr/bin/env python3
"""slow_origin: a real, scriptable HTTP/1.1 origin for sfproxy's tests and demo.

Each request says how to behave in its query string:
  delay_ms=N        wait N ms before the response headers
  status=N          response status (default 200)
  cc=VALUE          Cache-Control value
  size=N            body bytes (default 64); the body starts with "serial=<n>\\n", a number
                    that differs for every request the origin serves, so tests can tell
                    whether two clients got the same upstream response
  chunks=N          send the body in N pieces, chunk_delay_ms apart (default 1 piece)
  chunk_delay_ms=N
  chunked=1         Transfer-Encoding: chunked instead of Content-Length
  set_cookie=1      add Set-Cookie
  vary=VALUE        add Vary
  reset_after=N     send the headers and N body bytes, then reset the connection
  reset_before=1    reset the connection instead of answering
  garbage=1         answer with bytes that are not HTTP
  te_bomb=1         answer "Transfer-Encoding: gzip, gzip, chunked" with about 2 KB that
                    decode to 1 GiB (hostile_origin.py's bomb), then close
  early_hints=1     send a 103 Early Hints interim response first (Link and X-Hint-Only),
  early_hints_ms=N  and wait N ms after it
  fail_after=N      answer 500 once this target has been served N times
  status_if=F:N     answer status N when the request has the field F (a stand-in for a
                    cluster peer that answers differently than the origin)
  etag=V            send ETag: "V", and answer 304 to an If-None-Match that names it
  pad_304=N         a 304 carries fields X-Pad304-<i> of 1,000 bytes, N bytes of them in all
  etag_changes=1    send ETag: "s<serial>": a different one every time
  nodate=1          send no Date field
  hold=NAME         before reading the request content and answering, wait until
                    POST /_origin/release?name=NAME
  hold_header=NAME  like hold, with the value of the request field NAME as the name
  hold_body=NAME    send the headers and the first half of the body, then wait likewise
  hdr=Name:Value    add a response field (repeatable)
  pad_head=N        add fields X-Pad-<i> of up to 1,000 bytes each, N bytes of lines in all
  serial_hdr=1      add X-Origin-Serial: <serial> (a field that differs every time)
  self_location=1   add Content-Location: <the request target>
  fixed=1           the body is the same bytes every time (no serial line): byte i is
                    CYCLE[i % 251], or with etag_changes CYCLE[(i + serial) % 251]
  generational=1    ETag: "g<G>" and, with fixed or ranges, byte i is CYCLE[(i + G) % 251],
                    where G is the origin's generation (POST /_origin/generation?n=G; 0)
  ranges=1          a fixed body, and one byte range of it for a Range request: 206 with
                    Content-Range (416 when none of it exists), Accept-Ranges: bytes;
  range_lies=1      with ranges: a 206 carries half the bytes its Content-Range names
  echo=1            body is JSON of the request: method, path, headers, body
  digest=1          body is JSON of the request content's length and sha256
The request is counted when its head arrives, before its content is read (chunked
content is decoded), so a test can see an upload reach the origin while it is sent.
Control endpoints: GET /_origin/stats (JSON: total and per-target counts, the Range
fields each target was asked with, and the connections accepted),
POST /_origin/release?name=NAME, POST /_origin/generation?n=G, POST /_origin/reset.
The first line on stdout is "origin listening on 127.0.0.1:PORT".
"""
import argparse
import hashlib
import http.client
import json
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Requests with many fields are swept through sfproxy to here (t15).
http.client._MAXHEADERS = 10000
CYCLE = bytes((i * 7 + 13) % 251 for i in range(251))
lock = threading.Lock()
counts = {}
ranges_seen = {}  # target -> the Range fields it was asked with, in order
total = [0]
connections = [0]  # accepted, over the origin's life: keep-alive reuse shows here
serial = [0]
generation = [0]  # generational=1: the version of every such resource
clock_offset = [0]  # seconds the test moved this origin's clock (its Date) forward
holds = {}


def hold_event(name):
    with lock:
        return holds.setdefault(name, threading.Event())


def byte_range(value, body):
    """The status, body and Content-Range for one byte range of body (RFC 9110 §14)."""
    if not value or not value.startswith("bytes=") or "," in value:
        return 200, body, None
    first, _, last = value[6:].strip().partition("-")
    size = len(body)
    if first == "":
        a, b = max(0, size - int(last)), size - 1
    else:
        a = int(first)
        b = min(int(last), size - 1) if last else size - 1
    if a >= size:
        return 416, b"", "bytes */%d" % size
    return 206, body[a:b + 1], "bytes %d-%d/%d" % (a, b, size)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "slow_origin/1"
    disable_nagle_algorithm = True  # head and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *args):
        pass

    def send_response(self, code, message=None):
        """As the base class does, without Date when the request asked (nodate=1)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        sni = getattr(self.connection, "sni_name", None)
        if sni:
            self.send_header("X-Tls-Sni", sni)
        if "nodate=1" not in self.path:
            self.send_header("Date", self.date_time_string())

    def date_time_string(self, timestamp=None):
        """Date, on the clock the test may have moved forward with sfproxy's."""
        return super().date_time_string((timestamp or time.time()) + clock_offset[0])

    def reply_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self, path, q):
        if path == "/_origin/stats":
            with lock:
                self.reply_json({"total": total[0], "targets": dict(counts),
                                 "ranges": {k: list(v) for k, v in ranges_seen.items()},
                                 "connections": connections[0]})
        elif path == "/_origin/release":
            hold_event(q.get("name", [""])[0]).set()
            self.reply_json({"released": q.get("name", [""])[0]})
        elif path == "/_origin/generation":
            generation[0] = int(q.get("n", ["0"])[0])
            self.reply_json({"generation": generation[0]})
        elif path == "/_origin/clock":
            clock_offset[0] += int(q.get("advance", ["0"])[0])
            self.reply_json({"offset_s": clock_offset[0]})
        elif path == "/_origin/reset":
            with lock:
                counts.clear()
                ranges_seen.clear()
                total[0] = 0
                holds.clear()
            self.reply_json({"reset": True})
        else:
            self.reply_json({"error": "unknown control path"}, 404)

    def reset(self):
        """Drops the connection with a TCP reset, as a crashing origin would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def read_content(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        if url.path.startswith("/_origin/"):
            self.read_content()
            return self.control(url.path, q)
        with lock:
            total[0] += 1
            counts[self.path] = counts.get(self.path, 0) + 1
            if self.headers.get("Range") is not None:
                ranges_seen.setdefault(self.path, []).append(self.headers.get("Range"))
            serial[0] += 1
            n = serial[0]
        arg = lambda k, d=None: q.get(k, [d])[0]
        if arg("hold"):
            hold_event(arg("hold")).wait(60)
        if arg("hold_header"):
            hold_event(self.headers.get(arg("hold_header"), "")).wait(60)
        req_body = self.read_content()
        time.sleep(int(arg("delay_ms", 0)) / 1000)
        if arg("digest"):
            body = json.dumps({"length": len(req_body), "serial": n,
                               "sha256": hashlib.sha256(req_body).hexdigest(),
                               "transfer_encoding": self.headers.get("Transfer-Encoding"),
                               "content_length": self.headers.get("Content-Length")}).encode()
        elif arg("echo"):
            body = json.dumps({"method": self.command, "path": self.path,
                               "headers": [[k, v] for k, v in self.headers.items()],
                               "body": req_body.decode("latin-1"), "serial": n}).encode()
        elif arg("fixed") or arg("ranges"):
            size = int(arg("size", 64))
            seed = n if arg("etag_changes") else generation[0] if arg("generational") else 0
            turn = CYCLE[seed % 251:] + CYCLE[:seed % 251]
            body = (turn * (size // 251 + 1))[:size]
        else:
            size = int(arg("size", 64))
            head = b"serial=%d\n" % n
            need = max(0, size - len(head))
            filler = (CYCLE * (need // len(CYCLE) + 1))[:need]
            body = (head + filler)[:size]
        if arg("te_bomb"):
            import hostile_origin  # beside this script; builds its bomb once
            self.wfile.write(hostile_origin.bomb_response())
            self.wfile.flush()
            self.close_connection = True
            return
        if arg("reset_before") or arg("garbage"):
            if arg("garbage"):
                self.wfile.write(b"this is not http\r\n\r\n")
                self.wfile.flush()
            return self.reset()
        if arg("early_hints"):
            self.send_response_only(103)
            if arg("early_hints_vary"):  # hints for this request's language alone
                lang = self.headers.get("Accept-Language", "none")
                self.send_header("Link", "</style-%s.css>; rel=preload" % lang)
            else:
                self.send_header("Link", "</style.css>; rel=preload")
            self.send_header("X-Hint-Only", "1")
            self.end_headers()
            self.wfile.flush()
            time.sleep(int(arg("early_hints_ms", 0)) / 1000)
        status = int(arg("status", 200))
        if arg("status_if"):  # "Field:N": answer N when the request has Field
            field, _, alt = arg("status_if").partition(":")
            if self.headers.get(field) is not None:
                status = int(alt)
        if arg("fail_after") and counts[self.path] > int(arg("fail_after")):
            status = 500
        etag = '"%s"' % arg("etag") if arg("etag") else ('"s%d"' % n if arg("etag_changes")
                                                          else None)
        if arg("generational"):
            etag = '"g%d"' % generation[0]
        if etag and etag in (self.headers.get("If-None-Match") or ""):
            self.send_response(304)
            self.send_header("ETag", etag)
            if arg("cc"):
                self.send_header("Cache-Control", arg("cc"))
            self.send_header("X-Origin-Serial", str(n))
            for i in range(int(arg("pad_304") or 0) // 1000):
                self.send_header("X-Pad304-%d" % i, "q" * 980)
            self.end_headers()
            return
        content_range = None
        if arg("ranges") and status == 200:
            status, body, content_range = byte_range(self.headers.get("Range"), body)
            if status == 206 and arg("range_lies"):
                body = body[:len(body) // 2]  # Content-Range says more than is sent
        self.send_response(status)
        if content_range:
            self.send_header("Content-Range", content_range)
        if arg("ranges"):
            self.send_header("Accept-Ranges", "bytes")
        head_only = self.command == "HEAD"  # head_*: how a HEAD's answer differs
        if etag and not (head_only and arg("head_no_validators")):
            self.send_header("ETag", etag)
        if arg("cc"):
            self.send_header("Cache-Control", arg("cc"))
        if arg("set_cookie"):
            self.send_header("Set-Cookie", "session=%d; Path=/" % n)
        if arg("vary"):
            self.send_header("Vary", arg("vary"))
        if arg("serial_hdr"):
            self.send_header("X-Origin-Serial", str(n))
        if arg("self_location"):
            self.send_header("Content-Location", self.path)
        for h in q.get("hdr", []) + (q.get("head_hdr", []) if head_only else []):
            k, _, v = h.partition(":")
            self.send_header(k, v)
        pad, i = int(arg("pad_head") or 0), 0
        while pad > 0:  # "X-Pad-<i>: <value>\r\n" is 12 + len(str(i)) bytes and the value
            line = min(pad, 1000)
            value = "p" * max(1, line - 12 - len(str(i)))
            self.send_header("X-Pad-%d" % i, value)
            pad -= 12 + len(str(i)) + len(value)
            i += 1
        chunked = arg("chunked") == "1"
        bodiless = self.command == "HEAD" or status in (204, 304)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            length = arg("head_length") if head_only and arg("head_length") else len(body)
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if bodiless:
            return
        reset_after = arg("reset_after")
        if reset_after is not None:
            part = body[:int(reset_after)]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked and part else part)
            self.wfile.flush()
            time.sleep(0.05)
            return self.reset()
        if arg("hold_body"):
            half = len(body) // 2
            self.wfile.write(b"%x\r\n%s\r\n" % (half, body[:half]) if chunked else body[:half])
            self.wfile.flush()
            hold_event(arg("hold_body")).wait(60)
            body = body[half:]
        pieces = max(1, int(arg("chunks", 1)))
        step = (len(body) + pieces - 1) // pieces or 1
        delay = int(arg("chunk_delay_ms", 0)) / 1000
        for i in range(0, max(len(body), 1), step):
            part = body[i:i + step]
            if i > 0 and delay:
                time.sleep(delay)
            if chunked:
                if part:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            else:
                self.wfile.write(part)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = handle_any

    def handle_one_request(self):
        # Accept any method token, as an origin may.
        try:
            super().handle_one_request()
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096

    def process_request(self, request, client_address):
        with lock:
            connections[0] += 1
        super().process_request(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="scriptable slow origin for sfproxy")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (and --tls-key)")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)

        def remember_sni(sock, name, _ctx):
            sock.sni_name = name  # answered as X-Tls-Sni

        ctx.sni_callback = remember_sni
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("origin listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
