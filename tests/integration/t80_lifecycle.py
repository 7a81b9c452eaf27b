"""t80: orderly stop with clients parked, and the connection limit."""
import signal
import socket
import threading

from harness import (Env, Origin, Proxy, eq, check, wait_for, raw_connect, raw_get, read_until,
                     MULT)


def test_sigterm_with_parked_clients_exits_cleanly():
    o = Origin()
    p = Proxy(o.url, {"timeouts": {"shutdown_grace": "300ms"}})
    try:
        socks = [raw_connect(p.port, raw_get("/park?hold=H1")) for _ in range(20)]
        wait_for(lambda: p.stats()["waiters_now"] == 20, "20 parked clients")
        code = p.stop(signal.SIGTERM)
        eq(code, 0, "exit code (output:\n%s)" % p.output())
        for s in socks:
            s.settimeout(10 * MULT)
            data = read_until(s)
            check(data.startswith(b"HTTP/1.1 503"),
                  "a parked client gets the 503 the README promises: %r" % data[:80])
            s.close()
    finally:
        o.release("H1")
        o.stop()


def test_sigterm_lets_running_responses_finish():
    o = Origin()
    p = Proxy(o.url, {"timeouts": {"shutdown_grace": "10s"}})
    try:
        s = raw_connect(p.port, raw_get("/finish?delay_ms=700&size=5000"))
        wait_for(lambda: p.stats()["waiters_now"] == 1, "the client parked")
        stopper = threading.Thread(target=p.stop, args=(signal.SIGINT,))
        stopper.start()
        s.settimeout(10 * MULT)
        data = read_until(s)
        stopper.join()
        check(data.startswith(b"HTTP/1.1 200"), "response finished during grace: %r" % data[:60])
        eq(len(data.partition(b"\r\n\r\n")[2]), 5000, "whole body")
        eq(p.proc.returncode, 0, "exit code")
    finally:
        o.stop()


def test_connection_limit_refuses_promptly():
    with Env({"connection_limit": 16}) as env:
        held = [socket.create_connection(("127.0.0.1", env.proxy.port)) for _ in range(16)]
        wait_for(lambda: env.proxy.stats()["connections_now"] == 16, "16 connections")
        extra = socket.create_connection(("127.0.0.1", env.proxy.port))
        extra.settimeout(5 * MULT)
        extra.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        got = read_until(extra)
        eq(got, b"", "the 17th connection is closed at once")
        eq(env.proxy.stats()["connections_refused"], 1, "connections_refused")
        extra.close()
        for s in held:
            s.close()
        wait_for(lambda: env.proxy.stats()["connections_now"] == 0, "connections closed")
        eq(env.get("/after?size=5").status, 200, "serves again below the limit")


def test_connection_limit_is_exact_under_concurrent_accepts():
    with Env({"connection_limit": 16}) as env:
        socks = []
        lock = threading.Lock()

        def connect(i):
            s = socket.create_connection(("127.0.0.1", env.proxy.port))
            with lock:
                socks.append(s)
        from harness import parallel
        parallel(64, connect)  # 64 connects at once, on both workers
        wait_for(lambda: env.proxy.stats()["connections_now"] +
                 env.proxy.stats()["connections_refused"] == 64, "64 connections decided")
        stats = env.proxy.stats()
        eq((stats["connections_now"], stats["connections_refused"]), (16, 48),
           "connections accepted and refused")
        for s in socks:
            s.close()
        wait_for(lambda: env.proxy.stats()["connections_now"] == 0, "connections closed")


def test_sigterm_says_what_it_cut_off():
    o = Origin()
    p = Proxy(o.url, {"timeouts": {"shutdown_grace": "0"}})
    try:
        socks = [raw_connect(p.port, raw_get("/cut?hold=CUT")) for _ in range(300)]
        wait_for(lambda: p.stats()["waiters_now"] == 300, "300 parked clients")
        eq(p.stop(signal.SIGTERM), 0, "exit code (output:\n%s)" % p.output())
        check("cutting off 300 unfinished requests (300 of them parked" in p.output(),
              "the log names what was cut off:\n%s" % p.output())
        for s in socks:
            s.settimeout(10 * MULT)
            data = read_until(s)
            check(data.startswith(b"HTTP/1.1 503"), "cut off, with a 503: %r" % data[:60])
            s.close()
    finally:
        o.release("CUT")
        o.stop()


def test_sigterm_during_a_parked_upload():
    # The origin does not read the content, so the uploader parks on a full pipe; the stop
    # lets go of it, aborts the upload upstream (never a body with a hole) and exits 0.
    o = Origin()
    p = Proxy(o.url, {"timeouts": {"shutdown_grace": "300ms"}})
    try:
        s = raw_connect(p.port, b"POST /upl?hold=UP&digest=1 HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: 4000000\r\n\r\n")
        s.settimeout(10 * MULT)
        sent = 0
        try:
            while sent < 4000000:
                s.setblocking(False)
                sent += s.send(b"x" * 65536)
        except BlockingIOError:
            pass  # the pipe is full: the upload is parked
        wait_for(lambda: p.stats()["waiters_now"] == 1, "the uploader parked")
        eq(p.stop(signal.SIGTERM), 0, "exit code (output:\n%s)" % p.output())
        s.setblocking(True)
        data = read_until(s)
        check(data == b"" or data.startswith(b"HTTP/1.1 "), "the uploader's end: %r" % data[:60])
        s.close()
    finally:
        o.release("UP")
        o.stop()
