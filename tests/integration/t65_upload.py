"""t65: request content is streamed upstream as it arrives, with or without a length, and
bounded by max_request_body_bytes."""
import hashlib
import json
import socket
import struct
import time

from harness import Env, eq, check, wait_for, read_response, MULT


def digest_of(data):
    return hashlib.sha256(data).hexdigest()


def test_large_upload_with_length():
    with Env() as env:
        data = bytes(i * 7 % 256 for i in range(5 * 1024 * 1024))
        r = env.get("/up?digest=1", method="PUT", body=data)
        eq(r.status, 200, "status")
        got = json.loads(r.body)
        eq((got["length"], got["sha256"]), (len(data), digest_of(data)), "content at the origin")
        eq(got["content_length"], str(len(data)), "Content-Length forwarded")


def test_chunked_upload_is_streamed_before_it_ends():
    with Env() as env:
        t = "/chunk?digest=1"
        s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=30 * MULT)
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\n" % t).encode())
        first = b"a" * 300000
        s.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        # The origin sees the request while the client is still sending.
        wait_for(lambda: env.origin.count(t) == 1, "the upload to reach the origin early")
        second = b"b" * 200000
        s.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
        head, body = read_response(s)
        s.close()
        check(head.startswith(b"HTTP/1.1 200"), "status line %r" % head[:40])
        body = body.split(b"\r\n", 1)[1] if b"Transfer-Encoding: chunked" in head else body
        got = json.loads(body[:body.rindex(b"}") + 1])
        eq((got["length"], got["sha256"]), (500000, digest_of(first + second)), "content")
        eq(got["transfer_encoding"], "chunked", "forwarded chunked")


def test_empty_post_forwards_zero_length():
    with Env() as env:
        got = json.loads(env.get("/e?digest=1", method="POST", body=b"").body)
        eq((got["length"], got["content_length"]), (0, "0"), "empty content")


def test_declared_length_over_limit_is_413():
    with Env({"max_request_body_bytes": "1KiB"}) as env:
        r = env.get("/big?digest=1", method="POST", body=b"x" * 4096)
        eq(r.status, 413, "status")
        eq(env.origin.stats()["total"], 0, "origin requests")
        # Answered from the head alone: the client need not send what will be refused
        # (with or without Expect: 100-continue, which then gets no 100).
        for expect in (b"", b"Expect: 100-continue\r\n"):
            s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10 * MULT)
            s.sendall(b"PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n" +
                      expect + b"\r\n")
            head, body = read_response(s)
            s.close()
            check(head.startswith(b"HTTP/1.1 413"), "status line %r" % head[:40])
            check(b"max_request_body_bytes" in body, "the reason: %r" % body)


def test_chunked_over_limit_is_413_and_aborts_upstream():
    with Env({"max_request_body_bytes": "100KiB"}) as env:
        s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=30 * MULT)
        s.sendall(b"POST /over?digest=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n")
        piece = b"z" * 60000
        for _ in range(3):
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        s.sendall(b"0\r\n\r\n")
        head, _ = read_response(s)
        s.close()
        check(head.startswith(b"HTTP/1.1 413"), "status line %r" % head[:40])
        wait_for(lambda: env.proxy.stats()["flights_now"] == 0, "no fetch left")


def test_get_with_body_is_forwarded_privately():
    with Env() as env:
        r = env.get("/gb?digest=1&cc=max-age=60", body=b"hello")
        eq(json.loads(r.body)["length"], 5, "GET content forwarded")
        eq(r.header("X-Cache"), "PASS", "a GET with content does not share")


UPLOAD = bytes(i % 251 for i in range(16 * 1024 * 1024))


def park_uploader(env, target):
    """Starts a PUT of UPLOAD to target (whose origin holds before reading) and sends until
    the proxy stops taking for 2 s: its pipe and the socket buffers are full, and the
    uploader is parked. Returns the socket and how much was sent."""
    s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=30 * MULT)
    s.sendall(("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % (target, len(UPLOAD))).encode())
    s.setblocking(False)
    sent, idle_polls = 0, 0
    while sent < len(UPLOAD) and idle_polls < 200:
        try:
            sent += s.send(UPLOAD[sent:sent + 65536])
            idle_polls = 0
        except BlockingIOError:
            idle_polls += 1
            time.sleep(0.01)
    check(sent < len(UPLOAD), "the proxy applied back-pressure (took all %d bytes)" % sent)
    wait_for(lambda: env.proxy.stats()["waiters_now"] == 1, "the uploader to park")
    return s, sent


def test_upload_parks_while_origin_does_not_read():
    with Env() as env:
        s, sent = park_uploader(env, "/slowread?hold=R1&digest=1")
        env.origin.release("R1")
        s.setblocking(True)
        s.sendall(UPLOAD[sent:])
        head, body = read_response(s)
        s.close()
        got = json.loads(body[body.index(b"{"):body.rindex(b"}") + 1])
        eq((got["length"], got["sha256"]), (len(UPLOAD), digest_of(UPLOAD)),
           "content at the origin")


def test_uploader_that_hangs_up_while_parked_is_noticed():
    # Parked on its full pipe while the origin does not read, the client goes (a reset):
    # it is noticed at once, not when the origin reads again, and the upload aborts.
    with Env() as env:
        s, _ = park_uploader(env, "/slowread2?hold=R2&digest=1")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset
        wait_for(lambda: env.proxy.stats()["client_hangups"] == 1,
                 "the hang-up noticed while the origin still holds")
        # (Counted as the fetcher wakes it; its worker unparks it a moment later.)
        wait_for(lambda: env.proxy.stats()["waiters_now"] == 0,
                 "nobody parked, the origin still holding")
        wait_for(lambda: env.proxy.stats()["upstream_cancelled"] == 1,
                 "the upload cancelled while the origin still holds")
        eq(env.proxy.stats()["upstream_errors"]["connect"], 0, "not counted as the origin's")
        env.origin.release("R2")
