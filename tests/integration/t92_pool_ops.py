"""t92_pool_ops: operating an upstream pool (issue 21). Drain through the admin endpoint
(POST /_sfproxy/upstreams/POOL/SERVER?state=drain|up, behind admin.token): a drained server
gets no new fetch, finishes the ones it has, shows "drained", stays drained across a reload
that keeps its URL, and takes traffic again after state=up; 401, 404 and 400 for a missing
token, an unknown pool or server, a bad state. A reload that swaps a pool's servers under a
load loop loses no request. Health probes every interval, even while every probe is in
flight; backups probed too and used only when no primary is up; the stats' and /metrics'
per-server numbers (labels upstream and server, a server's "name" when given), checked by
promtool. https:// servers checked against the pool's own tls settings, by fetches and
probes. A live server whose health check fails gets nothing; with every server down, all
are tried anyway."""
import copy
import http.client
import re
import subprocess
import threading
import time

from harness import MULT, Certs, Origin, Proxy, check, eq, request, wait_for
from poolharness import PoolEnv, expected_body, origins, served_by


def spread(env, prefix, n, size=100):
    """n pass-through GETs one after another; returns [origin id] in order."""
    out = []
    for i in range(n):
        t = "%s%d?size=%d" % (prefix, i, size)
        r = env.get(t)
        eq((r.status, r.body), (200, expected_body(served_by(r, t), t, size)), "GET " + t)
        out.append(served_by(r, t))
    return out


def test_e_drain_and_up_through_the_admin_endpoint():
    o1, o2, o3 = origins(3)
    settings = {"balance": "round_robin", "retries": 1,
                "health": {"path": "/healthz", "interval": "200ms", "timeout": "100ms",
                           "fall": 2, "rise": 2}}
    with PoolEnv([o1, o2, o3], settings) as env:
        eq(sorted(set(spread(env, "/e/warm", 30))), ["o1", "o2", "o3"], "all three in use")
        base = "/_sfproxy/upstreams/api/"
        eq(env.admin(base + o1.name + "?state=drain", token=None).status, 401, "without token")
        eq(env.admin(base + o1.name + "?state=drain", token="wrong-token-0123456789").status,
           401, "with a wrong token")
        eq(env.admin("/_sfproxy/upstreams/nope/" + o1.name + "?state=drain").status, 404,
           "an unknown pool")
        eq(env.admin(base + "127.0.0.1:1?state=drain").status, 404, "an unknown server")
        eq(env.admin(base + o1.name + "?state=sleep").status, 400, "an unknown state")
        eq(env.admin(base + o1.name).status, 400, "no state")
        eq(env.servers()[o1.name]["state"], "up", "none of those changed o1")

        # Three slow fetches, one on each server (round robin), o1 drained while they run.
        slow = ["/e/slow%d?size=20000&delay=1000" % i for i in range(3)]
        res = [None] * 3
        ts = [threading.Thread(target=lambda i=i: res.__setitem__(i, env.get(slow[i])))
              for i in range(3)]
        for t in ts:
            t.start()
        wait_for(lambda: sum(o.total() for o in (o1, o2, o3)) >= 30 + 3,
                 "the three slow fetches at the origins")
        env.set_state(o1, "drain")
        eq(env.servers()[o1.name]["state"], "drained", "o1's state")
        for t in ts:
            t.join(30 * MULT)
        eq(sorted(served_by(r, s) for r, s in zip(res, slow)), ["o1", "o2", "o3"],
           "the running fetches finished, one on each server, o1's too")
        for r, s in zip(res, slow):
            eq((r.status, r.body), (200, expected_body(served_by(r, s), s, 20000)), "GET " + s)

        before = o1.total()
        eq(sorted(set(spread(env, "/e/drained", 40))), ["o2", "o3"], "servers while o1 drained")
        eq(o1.total(), before, "requests reaching the drained o1")

        # A reload that keeps o1's URL (and changes the pool otherwise) keeps it drained.
        cfg = copy.deepcopy(env.proxy.cfg)
        cfg["upstreams"]["api"]["retries"] = 2
        cfg["upstreams"]["api"]["servers"].reverse()
        lines = env.proxy.reload(cfg)
        check(any("reload: listening on" in l for l in lines), "the reload took: %r" % lines)
        eq(env.servers()[o1.name]["state"], "drained", "o1's state after the reload")
        eq(sorted(set(spread(env, "/e/reloaded", 40))), ["o2", "o3"], "servers after the reload")
        eq(o1.total(), before, "requests reaching the drained o1 after the reload")

        env.set_state(o1, "up")
        eq(env.servers()[o1.name]["state"], "up", "o1's state after state=up")
        back = spread(env, "/e/undrained", 30)
        check(back.count("o1") >= 5, "o1 in the rotation again: %s" % back)
        eq(o1.total(), before + back.count("o1"), "o1's requests again")


class Load:
    """Clients that keep requesting (a pass-through target and cold cacheable ones, on
    fresh and kept-alive connections) until stopped; every answer must be a whole 200 from
    one of the pool's origins."""

    def __init__(self, env, ids, threads=4):
        self.env, self.ids = env, ids
        self.done, self.failures, self.stop_flag = 0, [], threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(j,), daemon=True)
                        for j in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, j):
        conn, i = None, 0
        while not self.stop_flag.is_set():
            i += 1
            t = ("/g/pass?size=1000" if i % 2 else
                 "/g/c%d-%d?size=1000&cc=max-age%%3D60" % (j, i))
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.env.proxy.port,
                                                      timeout=30 * MULT)
                conn.request("GET", t)
                r = conn.getresponse()
                body = r.read()
                m = re.match(rb"id=(\S+) ", body)
                if (r.status != 200 or not m or m.group(1).decode() not in self.ids or
                        body != expected_body(m.group(1).decode(), t, 1000)):
                    with self.lock:
                        self.failures.append((t, r.status, body[:60]))
                with self.lock:
                    self.done += 1
                if r.will_close or j % 2:  # odd threads: a fresh connection each time
                    conn.close()
                    conn = None
            except Exception as e:
                with self.lock:
                    self.failures.append((t, repr(e)))
                conn = None

    def wait(self, n, what):
        mark = self.done
        wait_for(lambda: self.done >= mark + n or self.failures, what)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30 * MULT)


def test_g_a_reload_that_swaps_the_pool_under_load_loses_nothing():
    o1, o2, o3 = origins(3)
    with PoolEnv([o1, o2], {"balance": "round_robin", "retries": 1}, others=[o3]) as env:
        # Four slow fetches first, two on each server (round robin), running when o1
        # leaves the pool: they finish.
        slow = ["/g/slow%d?size=50000&delay=3000" % i for i in range(4)]
        out = [None] * 4
        ts = [threading.Thread(target=lambda i=i: out.__setitem__(i, env.get(slow[i])))
              for i in range(4)]
        for t in ts:
            t.start()
        wait_for(lambda: sum(o.count()["targets"].get(s, 0) for o in (o1, o2)
                             for s in slow) == 4, "the slow fetches at the origins")
        load = Load(env, {"o1", "o2", "o3"})
        try:
            load.wait(100, "the load under way")
            cfg = copy.deepcopy(env.proxy.cfg)
            cfg["upstreams"]["api"]["servers"] = [{"url": o2.url}, {"url": o3.url}]
            lines = env.proxy.reload(cfg)
            check(any("reload: listening on" in l for l in lines), "the reload took: %r" % lines)
            for t in ts:
                t.join(30 * MULT)
            for r, s in zip(out, slow):
                eq((r.status, r.body), (200, expected_body(served_by(r, s), s, 50000)),
                   "a fetch running through the reload: " + s)
            eq(sorted(served_by(r, s) for r, s in zip(out, slow)), ["o1", "o1", "o2", "o2"],
               "the running fetches were two on o1 and two on o2")
            load.wait(100, "the load after the first reload")
            gone = o1.total()
            load.wait(200, "more load")
            eq(o1.total(), gone, "requests reaching o1 after it left the pool")
            check(o3.total() > 0, "o3, new in the pool, gets requests")
            cfg = copy.deepcopy(cfg)
            cfg["upstreams"]["api"]["servers"] = [{"url": o3.url}, {"url": o1.url, "weight": 3}]
            cfg["upstreams"]["api"]["balance"] = "least_conn"
            lines = env.proxy.reload(cfg)
            check(any("reload: listening on" in l for l in lines), "the reload took: %r" % lines)
            load.wait(100, "the load after the second reload")
            left = o2.total()
            load.wait(200, "more load")
            eq(o2.total(), left, "requests reaching o2 after it left the pool")
            check(o1.total() > gone, "o1, back in the pool, gets requests")
        finally:
            load.stop()
        eq(load.failures[:5], [], "load requests that failed (of %d)" % load.done)
        check(load.done >= 700, "the load ran: %d requests" % load.done)


# Per-server attempts. Not "sfproxy_upstream_requests_total": metrics.c has that family
# already, unlabelled (requests sent to the origin), and a scrape may not hold a family twice;
# the pools' families are all sfproxy_upstream_server_* (h-poolrt's poolview.c).
REQUESTS_FAMILY = "sfproxy_upstream_server_requests_total"


def labels(text, family):
    """{(upstream, server): value} of family's samples (labels in any order)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"%s\{([^}]*)\} (\S+)$" % re.escape(family), line)
        if m:
            lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out[(lab.get("upstream"), lab.get("server"))] = float(m.group(2))
    return out


def test_h_stats_and_metrics_per_server():
    o1, o2, o3 = origins(3)
    settings = {"balance": "round_robin", "retries": 1,
                "health": {"path": "/healthz", "interval": "200ms", "timeout": "100ms",
                           "fall": 2, "rise": 2},
                "passive": {"max_fails": 0}}
    with PoolEnv([(o1, {"name": "blue", "weight": 2}), o2, (o3, {"backup": True})],
                 settings) as env:
        names = {o1: "blue", o2: o2.name, o3: o3.name}
        wait_for(lambda: all(s["probes_ok"] >= 2 for s in env.servers().values()),
                 "two probes passed on each server (backups are probed too)")
        spread(env, "/h/miss", 30)
        o2.kill()
        wait_for(lambda: env.servers()[o2.name]["state"] == "down (probes)", "o2 down", 5)
        spread(env, "/h/after", 10)
        st = env.proxy.stats()["upstreams"]
        eq(sorted(st), ["api"], "pools in the stats")
        eq(st["api"]["balance"], "round_robin", "balance in the stats")
        srv = st["api"]["servers"]
        eq(sorted(srv), sorted(names.values()), "server names: a \"name\" or host:port")
        for o, w, b in ((o1, 2, False), (o2, 1, False), (o3, 1, True)):
            s = srv[names[o]]
            for k in ("url", "state", "weight", "backup", "active", "requests", "failures",
                      "probes_ok", "probes_failed", "transitions"):
                check(k in s, "%s in the stats of %s: %s" % (k, names[o], s))
            eq((s["url"], s["weight"], s["backup"], s["active"]), (o.url, w, b, 0),
               "url, weight, backup, active of " + names[o])
        eq(srv["blue"]["requests"], o1.total(), "blue's requests")
        eq(srv[o3.name]["requests"], 0, "the backup's requests while a primary is up")
        eq((srv[o2.name]["state"], srv["blue"]["state"], srv[o3.name]["state"]),
           ("down (probes)", "up", "up"), "states")
        check(srv[o2.name]["probes_failed"] >= 2 and srv[o2.name]["transitions"] >= 1,
              "o2's failed probes and its transition: %s" % srv[o2.name])
        eq(srv["blue"]["requests"] + srv[o2.name]["requests"], 40, "requests in all")

        r = request(env.proxy.admin_port, "GET", "/metrics")
        eq(r.status, 200, "GET /metrics")
        text = r.body.decode()
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=30)
        eq((lint.returncode, lint.stdout + lint.stderr), (0, ""), "promtool check metrics")
        req = labels(text, REQUESTS_FAMILY)
        eq(req, {("api", names[o]): float(srv[names[o]]["requests"]) for o in (o1, o2, o3)},
           REQUESTS_FAMILY + " against the stats")
        up = labels(text, "sfproxy_upstream_server_up")
        eq(up, {("api", "blue"): 1.0, ("api", o2.name): 0.0, ("api", o3.name): 1.0},
           "sfproxy_upstream_server_up")
        for family in (REQUESTS_FAMILY, "sfproxy_upstream_server_up"):
            check(re.search(r"^# HELP %s " % family, text, re.M) and
                  re.search(r"^# TYPE %s " % family, text, re.M), "HELP and TYPE of " + family)

        # Every primary down: the backup takes the fetches.
        o1.kill()
        wait_for(lambda: env.servers()["blue"]["state"] == "down (probes)", "blue down", 5)
        eq(set(spread(env, "/h/backup", 6)), {"o3"}, "the backup serves when no primary is up")
        eq(env.servers()[o3.name]["requests"], 6, "the backup's requests")


def test_j_https_servers_take_the_pools_tls_settings():
    """A pool of two https:// servers (slow_origin.py over TLS, certificates made by
    openssl) checked against the pool's tls.ca_file, by fetches and by probes alike; without
    it neither passes; tls.sni names the servers of a certificate for a name only."""
    with Certs() as certs:
        for leaf, tls, ok in ((certs.both, {"ca_file": certs.ca}, True),
                              (certs.both, None, False),
                              (certs.named, {"ca_file": certs.ca, "sni": "origin.test"}, True)):
            a, b = Origin(tls=leaf), Origin(tls=leaf)
            try:
                settings = {"servers": [{"url": a.url}, {"url": b.url}], "retries": 1,
                            "health": {"path": "/healthz", "interval": "%dms" % (200 * MULT),
                                       "timeout": "%dms" % (200 * MULT), "fall": 2, "rise": 2}}
                if tls:
                    settings["tls"] = tls
                proxy = Proxy(None, {"upstreams": {"api": settings}, "upstream": "api"})
                try:
                    names = [u[len("https://"):] for u in (a.url, b.url)]
                    servers = lambda: proxy.stats()["upstreams"]["api"]["servers"]
                    if ok:
                        wait_for(lambda: all(servers()[n]["probes_ok"] >= 1 for n in names),
                                 "probes over TLS passed (%s)" % tls)
                        res = [request(proxy.port, "GET", "/j%d?size=10" % i) for i in range(4)]
                        eq([(r.status, len(r.body)) for r in res], [(200, 10)] * 4,
                           "fetches over TLS (%s)" % tls)
                        eq([servers()[n]["requests"] for n in names], [2, 2],
                           "both servers used")
                        if tls.get("sni"):
                            eq(res[0].header("X-Tls-Sni"), "origin.test", "the SNI sent")
                    else:
                        wait_for(lambda: all(servers()[n]["state"] == "down (probes)"
                                             for n in names), "probes refused the certificate")
                        eq(request(proxy.port, "GET", "/j?size=10").status, 502,
                           "a fetch without the pool's CA")
                finally:
                    eq(proxy.stop(), 0, "sfproxy's exit code")
            finally:
                a.stop()
                b.stop()


def test_k_failing_health_takes_a_live_server_out_and_all_down_are_tried_anyway():
    o1, o2 = origins(2)
    settings = {"balance": "round_robin", "retries": 1,
                "health": {"path": "/healthz", "interval": "200ms", "timeout": "200ms",
                           "fall": 2, "rise": 2, "status": [200]}}
    with PoolEnv([o1, o2], settings) as env:
        eq(sorted(set(spread(env, "/k/both", 10))), ["o1", "o2"], "both in use")
        eq(request(o1.port, "POST", "/__health?fail=1").status, 200, "o1's health fails")
        env.wait_state(o1, "down (probes)", 5)
        before = o1.total()
        eq(set(spread(env, "/k/one", 10)), {"o2"}, "a live server whose probes fail gets nothing")
        eq(o1.total(), before, "o1's requests while its health fails")
        eq(request(o2.port, "POST", "/__health?fail=1").status, 200, "o2's health fails too")
        env.wait_state(o2, "down (probes)", 5)
        # Every server down: tried anyway (nginx's behaviour), not all refused.
        eq(sorted(set(spread(env, "/k/none", 10))), ["o1", "o2"], "servers with all down")
        for o in (o1, o2):
            eq(request(o.port, "POST", "/__health?fail=0").status, 200, "health back")
            env.wait_state(o, "up", 5)
        eq(sorted(set(spread(env, "/k/back", 10))), ["o1", "o2"], "both again")


def test_m_probes_every_interval_while_probes_are_in_flight():
    """Each server is probed every interval, however long its probes take (within their
    timeout): here each health answer takes 100 ms of the 200 ms interval, so the prober's
    looks find every probe in flight. 20 probes per server in 4 s at the origins; a prober
    that then waits for its longest sleep (1 s) between looks makes 5 to 15."""
    servers = origins(3)
    for o in servers:
        eq(request(o.port, "POST", "/__health?delay=100").status, 200, "slow health answers")
    settings = {"health": {"path": "/healthz", "interval": "200ms", "timeout": "200ms",
                           "fall": 2, "rise": 2}}
    with PoolEnv(servers, settings) as env:
        wait_for(lambda: all(s["probes_ok"] >= 1 for s in env.servers().values()),
                 "a probe passed on each server")
        before, start = [o.count()["health"] for o in servers], time.monotonic()
        time.sleep(4.0)
        probed = [o.count()["health"] - n for o, n in zip(servers, before)]
        elapsed = time.monotonic() - start
        # Three in four of them: room for a loaded machine's late wake-ups, little for a
        # prober that sleeps past the interval.
        least = int(elapsed / 0.2 * 3 / 4)
        check(all(n >= least for n in probed),
              "probes per server in %.2f s: %s (at least %d)" % (elapsed, probed, least))
        eq([s["state"] for s in env.servers().values()], ["up"] * 3, "every server up")
