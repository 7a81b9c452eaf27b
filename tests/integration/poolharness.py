"""poolharness: what the upstream pool tests (t92_pool_*.py, issue 21) share: real pool
origins (tests/origin/pool_origin.py) that can be killed and started again on their port, a
proxy whose "upstream" names a pool of them, the access log's upstream fields by request
id, and the stats of one pool's servers."""
import json
import os
import re
import subprocess
import sys
import tempfile

from harness import ROOT, Proxy, _read_first_line, check, eq, request, wait_for

POOL_ORIGIN = os.path.join(ROOT, "tests", "origin", "pool_origin.py")
TOKEN = "pool-admin-token-0123456789"


class PoolOrigin:
    """One pool_origin.py process; kill() and start() again keep its port."""

    def __init__(self, ident, port=0):
        self.id, self.port, self.proc, self.log = ident, port, None, []
        self.start()
        self.name = "127.0.0.1:%d" % self.port  # its server name in the pool (no "name")
        self.url = "http://" + self.name

    def start(self):
        """Starts it (again, on the port it had); returns when it listens."""
        check(self.proc is None or self.proc.poll() is not None, "%s already runs" % self.id)
        self.proc = subprocess.Popen([sys.executable, POOL_ORIGIN, "--id", self.id, "--port",
                                      str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        line = _read_first_line(self.proc, "origin listening on", 10, self.log)
        port = int(line.rsplit(":", 1)[1])
        check(self.port in (0, port),
              "%s came back on port %d, not %d" % (self.id, port, self.port))
        self.port = port

    def kill(self):
        """SIGKILL, as a crash: its port refuses from the moment this returns."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    stop = kill

    def count(self):
        r = request(self.port, "GET", "/__count")
        eq(r.status, 200, "GET /__count of %s" % self.id)
        return json.loads(r.body)

    def total(self):
        return self.count()["total"]

    def arrivals(self):
        """[time.time() of arrival, method, target] of each counted request of this run."""
        return json.loads(request(self.port, "GET", "/__log").body)

    def probes(self):
        """time.time() of each health probe's arrival in this run."""
        return json.loads(request(self.port, "GET", "/__probes").body)

    def mode(self, query):
        eq(request(self.port, "POST", "/__mode?" + query).status, 200,
           "%s mode %s" % (self.id, query))


def origins(n, prefix="o"):
    """n pool origins o1..on; a failure to start one stops the others."""
    started = []
    try:
        for i in range(n):
            started.append(PoolOrigin("%s%d" % (prefix, i + 1)))
    except BaseException:
        for o in started:
            o.kill()
        raise
    return started


def pool(servers, **settings):
    """An "upstreams" member: servers are PoolOrigins or (PoolOrigin or URL, {extra}) pairs."""
    out = []
    for s in servers:
        extra = {}
        if isinstance(s, tuple):
            s, extra = s
        out.append(dict({"url": s if isinstance(s, str) else s.url}, **extra))
    return dict({"servers": out}, **settings)


class AccessLog:
    """A combined access log file; the upstream fields of each line by request id."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="sfproxy-pool-access-", suffix=".log")
        os.close(fd)

    def lines(self):
        with open(self.path) as f:
            return [l for l in f.read().split("\n") if l]

    @staticmethod
    def field(line, key):
        m = re.search(r"(?:^| )%s=(\S+)" % re.escape(key), line)
        return m.group(1) if m else None

    def by_rid(self, rids, what="the access log lines"):
        """{rid: line} once every rid has its line."""
        want = set(rids)

        def ready():
            got = {}
            for line in self.lines():
                rid = self.field(line, "rid")
                if rid in want:
                    got[rid] = line
            return got if len(got) == len(want) else None
        return wait_for(ready, what)

    def upstream(self, line):
        """(upstream_tries as an int or None, [servers of upstream_addr]) of one line."""
        tries, addr = self.field(line, "upstream_tries"), self.field(line, "upstream_addr")
        return (int(tries) if tries not in (None, "-") else None,
                addr.split(",") if addr not in (None, "-") else [])

    def remove(self):
        if os.path.exists(self.path):
            os.unlink(self.path)


class PoolEnv:
    """Pool origins and one sfproxy whose top-level "upstream" is the pool "api"; use with
    `with`. settings: the pool's keys besides "servers"; config: more of the proxy's;
    others: origins outside the pool for now, stopped with the pool's."""

    def __init__(self, servers, settings=None, config=None, token=True, others=()):
        self.origins = [o for o in (s[0] if isinstance(s, tuple) else s for s in servers)
                        if isinstance(o, PoolOrigin)] + list(others)
        self.log = AccessLog()
        cfg = {"upstreams": {"api": pool(servers, **(settings or {}))}, "upstream": "api",
               "access_log": {"path": self.log.path, "format": "combined"}}
        if token:
            cfg["admin"] = {"token": TOKEN}
        cfg.update(config or {})
        try:
            self.proxy = Proxy(None, cfg)
        except BaseException:
            self.close_origins()
            self.log.remove()
            raise

    def close_origins(self):
        for o in self.origins:
            o.kill()

    def get(self, target, headers=None, method="GET", body=None, timeout=30):
        return request(self.proxy.port, method, target, headers, body, timeout)

    def servers(self, name="api"):
        """The stats' servers of pool name: {server name: {...}}."""
        st = self.proxy.stats()
        check("upstreams" in st, "the stats have no \"upstreams\": %s" % sorted(st))
        return st["upstreams"][name]["servers"]

    def wait_state(self, origin, state, timeout=10):
        wait_for(lambda: self.servers()[origin.name]["state"] == state,
                 "%s's state %r in the stats" % (origin.id, state), timeout)

    def admin(self, path, token=TOKEN):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return request(self.proxy.admin_port, "POST", path, headers)

    def set_state(self, origin, state):
        r = self.admin("/_sfproxy/upstreams/api/%s?state=%s" % (origin.name, state))
        eq(r.status, 200, "POST state=%s for %s (%r)" % (state, origin.id, r.body))

    def purge(self, target):
        """Purges target's URL once a response is stored: a client can have its whole
        response a moment before the fetcher has stored it (the purge then finds none)."""
        from urllib.parse import quote
        wait_for(lambda: self.proxy.stats()["cache"]["objects"] >= 1, "a response stored")
        r = request(self.proxy.admin_port, "POST", "/_sfproxy/purge?url=" + quote(target, safe="/"),
                    {"Authorization": "Bearer " + TOKEN})
        eq(r.status, 200, "purge of %s" % target)
        return json.loads(r.body)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            code = self.proxy.stop()
        finally:
            self.close_origins()
            self.log.remove()
        if exc[0] is None:
            eq(code, 0, "sfproxy exit code after SIGTERM (output:\n%s)" % self.proxy.output())
        return False


def served_by(resp, target=None):
    """The id of the origin whose whole body resp is (checked: its first line names the
    target when given, and Content-Length bytes came)."""
    body = resp.body or b""
    m = re.match(rb"id=(\S+) path=(\S+)\n", body)
    check(m is not None, "not a pool origin's body: %r" % (resp,))
    if target is not None:
        eq(m.group(2).decode(), target, "the path the origin answered")
    length = resp.header("Content-Length")
    if length is not None:
        eq(len(body), int(length), "body bytes of %s" % target)
    return m.group(1).decode()


def expected_body(ident, target, size):
    body = ("id=%s path=%s\n" % (ident, target)).encode()
    return body + b"." * max(0, size - len(body))
