"""harness: what every integration test uses. Starts the real origin and the real sfproxy on
127.0.0.1 ephemeral ports (ports read from their first log line), talks HTTP to them, and
stops both by PID. Waits are bounded polls; SF_TEST_TIMEOUT_MULT stretches them under
sanitizers. A failed check names both sides."""
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SF_BIN", os.path.join(ROOT, "build", "release", "sfproxy"))
ORIGIN = os.path.join(ROOT, "tests", "origin", "slow_origin.py")
HOSTILE_ORIGIN = os.path.join(ROOT, "tests", "origin", "hostile_origin.py")
MULT = float(os.environ.get("SF_TEST_TIMEOUT_MULT", "1"))


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def _short(v):
    r = repr(v)
    return r if len(r) <= 300 else "%s... (%d chars)" % (r[:300], len(r))


def eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %s, got %s" % (what, _short(want), _short(got)))


def wait_for(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout * MULT
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise TestFailure("timed out after %.1fs waiting for %s" % (timeout * MULT, what))


def _read_first_line(proc, pattern, timeout, log):
    """Reads proc's output until a line containing pattern; returns it. A process that
    exits first, or prints nothing of it within the deadline (even nothing at all), is
    killed and the test fails with what it printed."""
    deadline = time.monotonic() + timeout * MULT
    stream = proc.stdout
    pending = ""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("no '%s' within %.0fs; output:\n%s"
                                  % (pattern, timeout * MULT, "".join(log) + pending))
            ready, _, _ = select.select([stream], [], [], min(left, 0.5))
            if not ready:
                continue
            # A byte at a time, so that nothing after the line is taken from the stream
            # the caller's drain thread reads next.
            data = os.read(stream.fileno(), 1).decode("latin-1")
            if not data:
                raise TestFailure("process exited before '%s'; output:\n%s"
                                  % (pattern, "".join(log) + pending))
            pending += data
            if data == "\n":
                log.append(pending)
                line, pending = pending, ""
                if pattern in line:
                    return line
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise


class Origin:
    def __init__(self, script=ORIGIN, tls=None):
        """tls: (certificate, key) PEM paths to serve HTTPS (then url is https://; the
        control paths, stats and count, need plain HTTP and are not there)."""
        self.log = []
        args = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else []
        self.proc = subprocess.Popen([sys.executable, script] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = _read_first_line(self.proc, "origin listening on", 10, self.log)
        self.port = int(line.rsplit(":", 1)[1])
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)

    def stats(self):
        return get_json(self.port, "/_origin/stats")

    def count(self, target):
        return self.stats()["targets"].get(target, 0)

    def release(self, name):
        request(self.port, "POST", "/_origin/release?name=" + name)

    def advance_clock(self, seconds):
        eq(request(self.port, "POST", "/_origin/clock?advance=%d" % seconds).status, 200,
           "the origin's clock moved")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Proxy:
    @staticmethod
    def _with_defaults(config, upstream=None):
        """config over the harness's own settings (ephemeral listeners on 127.0.0.1, log
        level info): a config without "listen" would otherwise take sfproxy's default
        port, 8080, which another process may hold (a reload then refused)."""
        cfg = {"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"}, "log_level": "info"}
        if upstream:
            cfg["upstream"] = upstream
        for k, v in (config or {}).items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        return cfg

    def __init__(self, upstream=None, config=None, extra_args=(), test_clock=True):
        cfg = self._with_defaults(config, upstream)
        self.cfg = cfg
        self.cfgfile = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(cfg, self.cfgfile)
        self.cfgfile.close()
        self.log = []
        # --test-clock: POST /_sfproxy/clock moves its clocks (advance_clock).
        args = [BIN, "-c", self.cfgfile.name] + (["--test-clock"] if test_clock else [])
        self.proc = subprocess.Popen(args + list(extra_args),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = _read_first_line(self.proc, "listening on", 20, self.log)
        self._read_ports(line)
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()

    def _read_ports(self, line):
        # "... listening on http://127.0.0.1:PORT admin 127.0.0.1:APORT upstream ..."
        words = line.split()
        plain = words[words.index("on") + 1]
        self.port = int(plain.rsplit(":", 1)[1]) if plain != "off" else None
        self.admin_port = int(words[words.index("admin") + 1].rsplit(":", 1)[1])
        tls = words[words.index("tls") + 1] if "tls" in words else "off"
        self.tls_port = int(tls.rsplit(":", 1)[1]) if tls != "off" else None

    def reload(self, config=None, text=None, timeout=20):
        """Writes config (a whole config dict; default self.cfg) or text into the config
        file, sends SIGHUP and waits for the reload's last log line; a reload that took
        updates the ports (and self.cfg). Returns the reload's log lines."""
        before = len(self.log)
        if config is not None:
            config = self._with_defaults(config)
        with open(self.cfgfile.name, "w") as f:
            f.write(text if text is not None else json.dumps(config or self.cfg))
        self.proc.send_signal(signal.SIGHUP)
        ends = ("reload: listening on", "the running config stays", "nothing changed",
                "nothing to read again")
        wait_for(lambda: any(e in line for line in self.log[before:] for e in ends),
                 "the reload's log line", timeout)
        lines = [line for line in self.log[before:] if "reload" in line]
        for line in lines:
            if "reload: listening on" in line:
                self._read_ports(line)
                if config is not None:
                    self.cfg = config
        return lines

    def _drain_output(self):
        for line in self.proc.stdout:
            self.log.append(line)

    def stats(self):
        return get_json(self.admin_port, "/_sfproxy/stats")

    def advance_clock(self, seconds):
        """Moves sfproxy's clocks seconds forward: what a test waits for expiry with."""
        eq(request(self.admin_port, "POST", "/_sfproxy/clock?advance=%d" % seconds).status, 200,
           "sfproxy's clock moved")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops sfproxy; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * MULT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("sfproxy did not stop within %.0fs of signal %d"
                                  % (timeout * MULT, sig))
        self._drain.join(5)
        if os.path.exists(self.cfgfile.name):  # stopping twice is fine
            os.unlink(self.cfgfile.name)
        return self.proc.returncode

    def output(self):
        return "".join(self.log)

    def wait_log(self, text, what, timeout=10):
        """Waits until sfproxy has printed text. Its log reaches the test through a pipe and
        the drain thread, a moment after the response the line explains may have: a check
        of output() right after that response races it."""
        wait_for(lambda: text in self.output(), "%s: the log line %r" % (what, text), timeout)


class Response:
    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body, self.error = status, headers, body, error

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%s %s %d bytes%s>" % (self.status, self.header("X-Cache"), len(self.body or b""),
                                      " error=" + repr(self.error) if self.error else "")


def request(port, method, target, headers=None, body=None, timeout=30):
    """One request on a fresh connection. A body cut off early gives error='truncated'."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * MULT)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        try:
            data = resp.read()
            err = None
        except http.client.IncompleteRead as e:
            data, err = e.partial, "truncated"
        except (ConnectionError, http.client.HTTPException) as e:
            data, err = b"", "truncated: %r" % (e,)
        return Response(resp.status, resp.getheaders(), data, err)
    finally:
        conn.close()


def get_json(port, path):
    r = request(port, "GET", path)
    eq(r.status, 200, "status of GET %s" % path)
    return json.loads(r.body)


def parallel(n, fn):
    """Runs fn(i) on n threads at once; returns the results in order."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(30)
            results[i] = fn(i)
        except Exception as e:  # reported by the caller's checks
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def rss_kib(pid):
    """A process's resident memory now, in KiB (0 when it cannot be read)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    """A port nothing listens on (for a refused connection, or a server of a test's own)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raw_connect(port, data):
    """Opens a socket, sends data, returns the socket (caller closes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30 * MULT)
    s.sendall(data)
    return s


def raw_get(target):
    """The bytes of a GET for target on a connection that closes after it."""
    return ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode()


def read_until(sock, n=None):
    """Reads until n bytes arrived, or to EOF (a reset counts as EOF); returns them."""
    data = bytearray()
    try:
        while n is None or len(data) < n:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except (ConnectionError, socket.timeout):
        pass
    return bytes(data)


def read_response(sock):
    """Reads a whole response to EOF; returns (head, body) as bytes."""
    sock.settimeout(30 * MULT)
    head, _, body = read_until(sock).partition(b"\r\n\r\n")
    return head, body


class Env:
    """An origin plus a proxy in front of it; use with `with`."""

    def __init__(self, config=None, origin=True, origin_script=ORIGIN):
        self.origin = Origin(origin_script) if origin else None
        try:
            self.proxy = Proxy(self.origin.url if origin else None, config)
        except Exception:
            if self.origin:
                self.origin.stop()
            raise

    def wait_stored(self, n=1):
        """Waits until n responses are stored: a client can have its whole response a moment
        before the fetcher has stored it, and would then join the finished flight."""
        wait_for(lambda: self.proxy.stats()["cache"]["objects"] >= n, "%d stored" % n)

    def get(self, target, headers=None, method="GET", body=None, timeout=30):
        return request(self.proxy.port, method, target, headers, body, timeout)

    def advance_clock(self, seconds):
        """Moves the clocks of sfproxy and its origin (its Date) seconds forward, as if that
        much time had passed."""
        if self.origin:
            self.origin.advance_clock(seconds)
        self.proxy.advance_clock(seconds)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        code = self.proxy.stop()
        if self.origin:
            self.origin.stop()
        if exc[0] is None:
            eq(code, 0, "sfproxy exit code after SIGTERM (output:\n%s)" % self.proxy.output())
        return False


class Certs:
    """A CA, a certificate for 127.0.0.1 and origin.test, and one for origin.test only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sfproxy-tls-")
        self.ca = self.path("ca.pem")
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", self.path("ca.key"), "-out", self.ca, "-days", "2",
                     "-subj", "/CN=sfproxy test CA")
        self.both = self.leaf("both", "subjectAltName=IP:127.0.0.1,DNS:origin.test")
        self.named = self.leaf("named", "subjectAltName=DNS:origin.test")

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        eq(p.returncode, 0, "openssl %s: %s" % (args[0], p.stderr))

    def leaf(self, name, san):
        key, csr, pem, ext = (self.path(name + s) for s in (".key", ".csr", ".pem", ".ext"))
        with open(ext, "w") as f:
            f.write(san + "\n")
        self.openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", key, "-out", csr, "-subj", "/CN=origin.test")
        self.openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.path("ca.key"),
                     "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext)
        return (pem, key)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
