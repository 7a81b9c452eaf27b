"""t92: the upstream pools' running side (issue 21), against real origin processes: the
active health checks take a killed origin out (its state in the stats and /metrics, one log
line) and bring it back when it is started again on its port (one log line); the admin's
drain (POST /_sfproxy/upstreams/NAME/SERVER?state=drain|up, behind admin.token; 400 and
404) keeps new fetches away from a server and survives a reload that keeps its URL, and a
reload that removes the server forgets it. Needs the config's "upstreams" and the
fetcher's use of the pools (other branches of issue 21): it runs after they are merged."""
import json
import re
import subprocess
import sys

from harness import (MULT, ORIGIN, Origin, Proxy, _read_first_line, check, eq, get_json, request,
                     wait_for)

TOKEN = "pool-admin-token-0123456789"
AUTH = {"Authorization": "Bearer " + TOKEN}


class PortOrigin(Origin):
    """slow_origin.py on a port of our choosing: the same server started again after a
    kill, as a restarted backend is."""

    def __init__(self, port):
        self.log = []
        self.proc = subprocess.Popen([sys.executable, ORIGIN, "--port", str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _read_first_line(self.proc, "origin listening on", 10, self.log)
        self.port = port
        self.url = "http://127.0.0.1:%d" % port


def name(o):
    return "127.0.0.1:%d" % o.port


def pool_config(origins, health=True, token=False):
    pool = {"servers": [{"url": o.url} for o in origins]}
    if health:
        # Stretched with the sanitizers' MULT: a live origin starved of CPU for two probe
        # timeouts would be taken down, and "the others never changed" would not hold.
        pool["health"] = {"path": "/healthz", "interval": "%dms" % (200 * MULT),
                          "timeout": "%dms" % (150 * MULT), "fall": 2, "rise": 2}
    cfg = {"upstream": "api", "upstreams": {"api": pool}}
    if token:
        cfg["admin"] = {"listen": "127.0.0.1:0", "token": TOKEN}
    return cfg


def servers(proxy):
    return proxy.stats()["upstreams"]["api"]["servers"]


def state(proxy, o):
    s = servers(proxy).get(name(o))
    return s["state"] if s else "absent"


def metrics(proxy):
    return request(proxy.admin_port, "GET", "/metrics").body.decode()


def drain(proxy, server, state_arg, headers=AUTH, pool="api"):
    target = "/_sfproxy/upstreams/%s/%s" % (pool, server)
    if state_arg is not None:
        target += "?state=" + state_arg
    return request(proxy.admin_port, "POST", target, headers)


def test_without_pools():
    """The wiring alone: no pool, so the endpoint finds nothing (still behind the token), the
    stats have an empty "upstreams" and the metrics no upstream family."""
    o = Origin()
    proxy = Proxy(o.url, {"admin": {"listen": "127.0.0.1:0", "token": TOKEN}})
    try:
        eq(drain(proxy, "x", "drain", headers=None).status, 401, "without the token")
        r = drain(proxy, "x", "drain")
        eq(r.status, 404, "no such pool")
        check("error" in json.loads(r.body), "a JSON error: %r" % r.body)
        eq(drain(proxy, "x", "sideways").status, 400, "a bad state")
        eq(request(proxy.admin_port, "POST", "/_sfproxy/upstreams/", AUTH).status, 400,
           "no names")
        eq(request(proxy.admin_port, "GET", "/_sfproxy/upstreams/api/x?state=drain",
                   AUTH).status, 404, "a GET is no drain")
        eq(proxy.stats()["upstreams"], {}, "the stats' upstreams")
        check("sfproxy_upstream_server_up" not in metrics(proxy), "no upstream family")
    finally:
        eq(proxy.stop(), 0, "exit code")
        o.stop()


def test_probes_take_a_killed_origin_out_and_bring_it_back():
    a, b, c = Origin(), Origin(), Origin()
    proxy = Proxy(config=pool_config([a, b, c]))
    try:
        wait_for(lambda: all(s["probes_ok"] >= 2 for s in servers(proxy).values()),
                 "two good checks of every server")
        for o in (a, b, c):
            check(o.count("/healthz") >= 2, "the origin saw the checks: %r" % o.stats())
        port = b.port
        b.stop()
        wait_for(lambda: state(proxy, b) == "down (probes)", "the killed origin down")
        down = "upstream api: server %s down (probes: 2 failed checks)" % name(b)
        proxy.wait_log(down, "the down line")
        text = metrics(proxy)
        check('sfproxy_upstream_server_up{upstream="api",server="%s"} 0' % name(b) in text,
              "the metrics say it is down:\n%s" % text)
        check('sfproxy_upstream_server_state{upstream="api",server="%s",state="down_probes"} 1'
              % name(b) in text, "its state in the metrics")
        # Misses while it is down: every one answered (a down server gets none).
        for i in range(20):
            r = request(proxy.port, "GET", "/gone?i=%d&cc=no-store" % i)
            eq(r.status, 200, "a miss while one server is down")
        b = PortOrigin(port)
        wait_for(lambda: state(proxy, b) == "up", "the restarted origin up again")
        proxy.wait_log("upstream api: server %s up (probes: 2 good checks)" % name(b),
                       "the up line")
        eq(proxy.output().count(down), 1, "one down line")
        eq(len(re.findall(r"upstream api: server %s " % re.escape(name(b)), proxy.output())), 2,
           "two lines in all for the server")
        s = servers(proxy)[name(b)]
        eq(s["transitions"], 2, "its transitions")
        check(s["probes_failed"] >= 2, "its failed checks counted: %r" % s)
        for o in (a, c):
            eq(servers(proxy)[name(o)]["transitions"], 0, "the others never changed")
    finally:
        eq(proxy.stop(), 0, "exit code")
        for o in (a, b, c):
            o.stop()


def reload_taken(proxy, cfg):
    """Reloads cfg and checks that it took: a reload refused (the running config stays)
    would leave the servers as they were, and the checks after it would fail for a
    reason they do not name (CI once saw a new server 'absent' right after a reload)."""
    lines = proxy.reload(cfg)
    check(any("reload: listening on" in line for line in lines),
          "the reload took: %s" % "".join(lines).strip())


def test_drain_through_the_admin_endpoint():
    a, b = Origin(), Origin()
    cfg = pool_config([a, b], health=False, token=True)
    proxy = Proxy(config=cfg)
    try:
        eq(drain(proxy, name(b), "drain", headers=None).status, 401, "without the token")
        eq(drain(proxy, name(b), "sideways").status, 400, "a state that is not drain or up")
        eq(drain(proxy, name(b), None).status, 400, "no state")
        eq(drain(proxy, "127.0.0.1:1", "drain").status, 404, "an unknown server")
        eq(drain(proxy, name(b), "drain", pool="web").status, 404, "an unknown pool")
        eq(state(proxy, b), "up", "nothing changed by the refused ones")
        r = drain(proxy, name(b), "drain")
        eq(r.status, 200, "drain")
        doc = json.loads(r.body)
        eq((doc["upstream"], doc["server"], doc["state"]), ("api", name(b), "drained"),
           "the answer")
        proxy.wait_log("upstream api: server %s drained (admin" % name(b), "the drain line")
        eq(state(proxy, b), "drained", "the stats")
        check('sfproxy_upstream_server_state{upstream="api",server="%s",state="drained"} 1'
              % name(b) in metrics(proxy), "the metrics")
        # New fetches go to the other server only.
        for i in range(20):
            eq(request(proxy.port, "GET", "/d?i=%d&cc=no-store" % i).status, 200, "a miss")
        eq(sum(n for t, n in b.stats()["targets"].items() if t.startswith("/d?")), 0,
           "fetches sent to the drained server")
        eq(sum(n for t, n in a.stats()["targets"].items() if t.startswith("/d?")), 20,
           "fetches sent to the other one")
        # A reload that keeps its URL (and adds a server) keeps the drain.
        c = Origin()
        try:
            more = pool_config([a, b, c], health=False, token=True)
            reload_taken(proxy, more)
            eq(state(proxy, b), "drained", "after a reload that kept it")
            eq(state(proxy, c), "up", "the new server")
            # Removed, then added again: forgotten in between, so up.
            reload_taken(proxy, pool_config([a, c], health=False, token=True))
            eq(state(proxy, b), "absent", "removed")
            reload_taken(proxy, more)
            eq(state(proxy, b), "up", "added again: a new server")
            eq(drain(proxy, name(c), "drain").status, 200, "drain c")
            r = drain(proxy, name(c), "up")
            eq(r.status, 200, "up again")
            eq(json.loads(r.body)["state"], "up", "its state")
            proxy.wait_log("upstream api: server %s up (admin: drain lifted)" % name(c),
                           "the line")
        finally:
            c.stop()
        stats = get_json(proxy.admin_port, "/_sfproxy/stats")
        eq(stats["upstreams"]["api"]["balance"], "round_robin", "the pool's balance")
    finally:
        eq(proxy.stop(), 0, "exit code")
        a.stop()
        b.stop()
