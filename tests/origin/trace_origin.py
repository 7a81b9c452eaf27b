#!/usr/bin/env python3
"""trace_origin: a fast origin for scripts/trace_bench. GET /k/<id>?s=<size> answers 200
with <size> bytes (the same bytes for every key) and Cache-Control: max-age=3600, on
keep-alive connections, one thread each; with &u=1 the body is the target and a newline
repeated (each key's bytes its own: scripts/disk_bench checks them); with &c=1 (at most
64 KiB) it goes chunked, without Content-Length (scripts/objmem.py's OBJMEM_CHUNKED); no Date field, so every head of a size is the
same length (the bench models what sfproxy charges an object from its size and URL).
GET /_origin/stats: JSON {"total": requests, "bytes": body bytes sent, "connections"}.
The first line on stdout is "origin listening on 127.0.0.1:PORT"."""
import json
import socket
import sys
import threading

BODY = bytes(range(256)) * 4096  # 1 MiB
lock = threading.Lock()
stats = {"total": 0, "bytes": 0, "connections": 0}


def unique_body(target, size):
    """The body of a target asked with &u=1: its own bytes, so a response given to the
    wrong key is seen."""
    seed = (target + "\n").encode()
    return (seed * (size // len(seed) + 1))[:size]


def answer(conn, target):
    if target.startswith("/_origin/stats"):
        with lock:
            body = json.dumps(stats).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return
    size, unique, chunked = 64, False, False
    _, _, query = target.partition("?")
    for part in query.split("&"):
        if part.startswith("s="):
            size = min(int(part[2:]), len(BODY))
        unique = unique or part == "u=1"
        chunked = chunked or part == "c=1"
    with lock:
        stats["total"] += 1
        stats["bytes"] += size
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Cache-Control: max-age=3600\r\nContent-Length: %d\r\n\r\n" % size)
    if chunked and size <= 65536:
        head = head.replace(b"Content-Length: %d" % size, b"Transfer-Encoding: chunked")
        conn.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (size, BODY[:size]))
    elif unique:
        conn.sendall(head + unique_body(target, size))
    elif size <= 65536:
        conn.sendall(head + BODY[:size])
    else:
        conn.sendall(head)
        conn.sendall(memoryview(BODY)[:size])


def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                continue
            head, buf = buf[:end], buf[end + 4:]
            line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            answer(conn, line[1] if len(line) > 1 else "/")
    except (ConnectionError, OSError):
        pass
    finally:
        conn.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)
    print("origin listening on 127.0.0.1:%d" % srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        with lock:
            stats["connections"] += 1
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
