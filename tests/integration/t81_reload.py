"""t81: reload on SIGHUP. The file is read again and put in force for new requests: an
invalid one, or a listener that cannot start, changes nothing; a moved listener retires
without cutting what it serves; parked clients, running flights and the cache carry on."""
import copy
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from harness import (BIN, Certs, Env, MULT, Origin, check, eq, free_port, request, wait_for)


class LoadLoop:
    """Keep-alive GETs on one thread until stopped, following the proxy to its current port
    when a response says Connection: close. Every answer must be a whole 200 of the size
    asked for; a connection refused on a port a reload just moved away from is retried."""

    def __init__(self, proxy, targets):
        self.proxy, self.targets = proxy, targets
        self.done, self.failures, self.stop_flag = 0, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def connect(self):
        deadline = time.monotonic() + 5 * MULT
        while True:
            port = self.proxy.port
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * MULT)
                conn.connect()
                return conn
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # the port moved; the test is about to learn where

    def run(self):
        conn, i = None, 0
        while not self.stop_flag.is_set():
            target, size = self.targets(i)
            i += 1
            try:
                if conn is None:
                    conn = self.connect()
                conn.request("GET", target)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or len(body) != size or not body.startswith(b"serial="):
                    self.failures.append((target, r.status, len(body)))
                self.done += 1
                if r.will_close:
                    conn.close()
                    conn = None
            except Exception as e:  # a reset, a refusal that lasted, a cut body
                self.failures.append((target, repr(e)))
                conn = None
        if conn is not None:
            conn.close()

    def wait_answered(self, n, what):
        """Waits until n more requests have been answered (whole or not: a failure is
        reported by the test's check of failures, with what went wrong)."""
        mark = self.done + len(self.failures)
        wait_for(lambda: self.done + len(self.failures) >= mark + n, what)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(30 * MULT)


def test_reloads_under_load_drop_nothing():
    with Env({"cache": {"max_bytes": "64MiB"}}) as env:
        p = env.proxy
        warm = ["/warm%d?size=2000&cc=max-age%%3D600" % i for i in range(5)]
        for t in warm:
            eq(env.get(t).status, 200, "warmed " + t)
        env.wait_stored(5)
        # 20 clients parked on one flight the origin holds until released.
        held = "/held?hold=t81&size=300000&cc=max-age%3D600"
        first_port, parked = p.port, [None] * 20

        def park(i):
            parked[i] = request(first_port, "GET", held, timeout=60)
        threads = [threading.Thread(target=park, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        wait_for(lambda: p.stats()["waiters_now"] >= 19, "the followers parked")
        load = LoadLoop(p, lambda i: (warm[i % 5], 2000) if i % 2 else
                        ("/load%d?size=100&cc=max-age%%3D600" % i, 100))
        try:
            load.wait_answered(10, "the load loop under way before the first reload")
            cfg = copy.deepcopy(p.cfg)
            cfg["cache"]["max_bytes"] = "32MiB"
            cfg["timeouts"] = {"first_byte": "20s"}
            lines = p.reload(cfg)
            check(any("cache.max_bytes 64MiB -> 32MiB" in l and
                      "timeouts.first_byte 30s -> 20s" in l for l in lines),
                  "the log says what changed: %r" % lines)
            cfg = copy.deepcopy(cfg)
            new_port = free_port()
            cfg["listen"] = "127.0.0.1:%d" % new_port
            lines = p.reload(cfg)
            check(any("listen 127.0.0.1:0 -> 127.0.0.1:%d" % new_port in l for l in lines),
                  "the listener moved: %r" % lines)
            eq(p.port, new_port, "the port the reload's log line gives")
            try:
                socket.create_connection(("127.0.0.1", first_port), timeout=5).close()
                check(False, "the old port still accepts")
            except ConnectionRefusedError:
                pass
            lines = p.reload(text='{"listen": "127.0.0.1:%d", "cache": {"max_bytes": 12' % new_port)
            check(any(p.cfgfile.name + ":1:" in l and "the running config stays" in l
                      for l in lines), "an invalid file is refused with file:line:col: %r" % lines)
            cfg = copy.deepcopy(cfg)
            new_admin = free_port()
            cfg["admin"]["listen"] = "127.0.0.1:%d" % new_admin
            cfg["workers"] = 1  # the public listener starts again on the same socket
            lines = p.reload(cfg)
            eq(p.admin_port, new_admin, "the admin listener moved")
            eq(p.port, new_port, "the public one stayed where it was")
            check(any("nothing changed" in l for l in p.reload(cfg)), "a reload with no change")
            load.wait_answered(10, "the load loop going on after the last reload")
        finally:
            load.stop()
        eq(load.failures, [], "every request of the load loop was answered whole")
        check(load.done > 20, "the load loop ran (%d requests)" % load.done)
        env.origin.release("t81")
        for t in threads:
            t.join(60 * MULT)
        eq(sorted(set((r.status, len(r.body), r.error) for r in parked)),
           [(200, 300000, None)], "every parked client got the whole response")
        eq(len(set(r.body for r in parked)), 1, "all of them the same one")
        eq(env.origin.count(held), 1, "from one origin fetch")
        for t in warm:
            eq(env.get(t).header("X-Cache"), "HIT", "still cached after the reloads: " + t)
        wait_for(lambda: "retired listener on 127.0.0.1:%d has stopped" % first_port
                 in p.output(), "the first listener stopped once its clients had gone")


def test_a_moved_listener_refuses_at_once():
    """Clients told by the retired listener to reconnect ("Connection: close") that try its
    old address again are refused there, never accepted and then reset: the closed
    listening socket kept accepting while a worker was still in poll() on it."""
    with Env() as env:
        p = env.proxy
        target = "/refuse?size=100&cc=max-age%3D600"
        eq(env.get(target).status, 200, "warmed")
        old = p.port
        results, served = [], [0]

        def client():
            conn = None
            while True:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", old, timeout=10 * MULT)
                    conn.request("GET", target)
                    r = conn.getresponse()
                    r.read()
                    served[0] += 1
                    if r.will_close:
                        conn.close()
                        conn = None
                except ConnectionRefusedError:
                    results.append("refused")
                    return
                except Exception as e:  # a reset: the bug
                    results.append(repr(e))
                    return
        threads = [threading.Thread(target=client, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        wait_for(lambda: served[0] >= 50, "the clients under way")
        cfg = copy.deepcopy(p.cfg)
        cfg["listen"] = "127.0.0.1:%d" % free_port()
        p.reload(cfg)
        for t in threads:
            t.join(30 * MULT)
        eq(sorted(set(results)), ["refused"], "each client, back on the old address, is refused")


def test_new_settings_apply_to_new_requests():
    with Env() as env:
        p = env.proxy
        second = Origin()
        try:
            eq(env.get("/where?size=10").status, 200, "through the first origin")
            for i in range(20):
                eq(env.get("/fill%d?size=20000&cc=max-age%%3D600" % i).status, 200, "filled")
            env.wait_stored(20)
            cfg = copy.deepcopy(p.cfg)
            cfg["upstream"] = second.url
            cfg["cache"] = {"max_bytes": "100KiB", "max_object_bytes": "50KiB"}
            cfg["log_level"] = "warn"
            lines = p.reload(cfg)
            check(any("upstream %s -> %s" % (env.origin.url, second.url) in l for l in lines),
                  "the upstream change is logged: %r" % lines)
            check(p.stats()["cache"]["bytes"] <= 100 * 1024, "the cache shrank to its new size")
            eq(env.get("/where2?size=10").status, 200, "a new request")
            eq((env.origin.count("/where2?size=10"), second.count("/where2?size=10")), (0, 1),
               "went to the new upstream")
        finally:
            second.stop()


def test_an_invalid_reload_changes_nothing():
    with Env() as env:
        p = env.proxy
        cfg = copy.deepcopy(p.cfg)
        cfg["cache"] = {"max_bytes": "lots"}
        lines = p.reload(cfg)
        check(any(":1:" in l and "cache.max_bytes" in l and "the running config stays" in l
                  for l in lines), "a bad value is named with its place: %r" % lines)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            cfg = copy.deepcopy(p.cfg)
            cfg["listen"] = "127.0.0.1:%d" % busy.getsockname()[1]
            cfg["cache"] = {"max_bytes": "1MiB", "max_object_bytes": "1MiB"}
            lines = p.reload(cfg)
            check(any("cannot listen on" in l and "the running config stays" in l
                      for l in lines), "a port in use is refused: %r" % lines)
        finally:
            busy.close()
        eq(p.stats()["reloads"], {"ok": 0, "failed": 2}, "both counted as failed")
        check('sfproxy_config_reloads_total{result="failed"} 2' in
              request(p.admin_port, "GET", "/metrics").body.decode(), "and in /metrics")
        eq(env.get("/still?size=10").status, 200, "serving on the old port")
        check(p.proc.poll() is None, "still running")


def test_a_reload_swaps_the_tls_certificate_for_new_connections():
    with Certs() as certs:
        cert = certs.path("served.pem")
        key = certs.path("served.key")
        for src, dst in ((certs.both[0], cert), (certs.both[1], key)):
            with open(src) as f, open(dst, "w") as g:
                g.write(f.read())
        with Env({"tls": {"listen": "127.0.0.1:0", "cert": cert, "key": key}}) as env:
            p = env.proxy
            ctx = ssl.create_default_context(cafile=certs.ca)

            def serial():
                with socket.create_connection(("127.0.0.1", p.tls_port), timeout=10) as s:
                    with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                        return t.getpeercert()["serialNumber"]
            before = serial()
            early = http.client.HTTPSConnection("127.0.0.1", p.tls_port, timeout=30, context=ctx)
            early.request("GET", "/tls1?size=10")
            eq(early.getresponse().read()[:7], b"serial=", "a keep-alive HTTPS connection")
            renewed = certs.leaf("renewed", "subjectAltName=IP:127.0.0.1")
            for src, dst in ((renewed[0], cert), (renewed[1], key)):
                with open(src) as f, open(dst, "w") as g:
                    g.write(f.read())
            tls_port = p.tls_port
            lines = p.reload()
            check(any("tls.cert (its contents)" in l for l in lines),
                  "the renewed certificate is noticed: %r" % lines)
            eq(p.tls_port, tls_port, "on the same port")
            check(serial() != before, "a new connection gets the new certificate")
            early.request("GET", "/tls2?size=10")
            r = early.getresponse()
            eq((r.status, r.read()[:7], r.getheader("Connection")), (200, b"serial=", "close"),
               "the connection made before is served, then closed")
            early.close()


def test_a_reload_moves_the_access_log():
    fd, first = tempfile.mkstemp(prefix="sfproxy-access-")
    os.close(fd)
    second = first + ".new"
    try:
        with Env({"access_log": {"path": first, "format": "combined"}}) as env:
            eq(env.get("/before?size=10").status, 200, "a request")
            # Its line is written when libmicrohttpd has sent it all, a moment after the
            # client has it; a request that ends after the reload is the new file's.
            wait_for(lambda: "/before" in open(first).read(), "the line of the request before")
            cfg = copy.deepcopy(env.proxy.cfg)
            cfg["access_log"] = {"path": second, "format": "json"}
            env.proxy.reload(cfg)
            eq(env.get("/after?size=10").status, 200, "a request")
            wait_for(lambda: os.path.exists(second) and open(second).read().count("\n") >= 1,
                     "a line in the new file")
            with open(second) as f:
                line = json.loads(f.read().splitlines()[0])
            eq(line["request"] if "request" in line else line.get("target"), "/after?size=10",
               "the new file has the new request, as JSON")
            with open(first) as f:
                text = f.read()
            check("/before" in text and "/after" not in text, "the old file kept the old line")
    finally:
        for path in (first, second):
            if os.path.exists(path):
                os.unlink(path)


def test_without_a_config_file_a_reload_says_so():
    origin = Origin()
    proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--admin", "off", "--upstream",
                             origin.url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "listening on" in line:
                break
        proc.send_signal(signal.SIGHUP)
        for line in proc.stdout:
            lines.append(line)
            if "reload" in line:
                break
        check("started without a config file (-c): nothing to read again" in lines[-1],
              "the reload says why nothing changed: %r" % lines)
        check(proc.poll() is None, "still running")
        proc.send_signal(signal.SIGTERM)
        eq(proc.wait(20 * MULT), 0, "stops cleanly")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        origin.stop()


def test_a_reload_opens_and_closes_listeners():
    with Certs() as certs, Env() as env:
        p = env.proxy
        plain = p.port
        cfg = copy.deepcopy(p.cfg)
        cfg["tls"] = {"listen": "127.0.0.1:0", "cert": certs.both[0], "key": certs.both[1]}
        cfg["listen"] = None
        lines = p.reload(cfg)
        check(any("tls.listen null -> 127.0.0.1:0" in l and "listen 127.0.0.1:0 -> null" in l
                  for l in lines), "HTTPS opened, plain HTTP closed: %r" % lines)
        check(p.tls_port and p.port is None, "the ports the log gives")
        ctx = ssl.create_default_context(cafile=certs.ca)
        conn = http.client.HTTPSConnection("127.0.0.1", p.tls_port, timeout=30, context=ctx)
        conn.request("GET", "/over-tls?size=10")
        eq(conn.getresponse().status, 200, "served over the new HTTPS listener")
        conn.close()
        try:
            socket.create_connection(("127.0.0.1", plain), timeout=5).close()
            check(False, "the plain listener still accepts")
        except ConnectionRefusedError:
            pass
