"""t90: a cluster of three sfproxy nodes in front of one origin (issue 12, first step):
every key has one owner (rendezvous hashing); a node that does not own a key fetches it
from the owner, signed, so the origin sees one fetch per key however the clients spread;
a forged peer field is an ordinary client's; a peer that cannot be reached is skipped and
the upstream fetched instead, without failing a client."""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from urllib.parse import quote

from harness import (ROOT, Origin, Proxy, check, eq, free_port, parallel, raw_connect, raw_get,
                     read_response, request, wait_for)

SECRET = "t90-cluster-secret-0123456789"
M64 = (1 << 64) - 1


def peer_hash(peer_id, key):
    """lib/cluster.c's hash of (peer id, key), to know the owner from here."""
    h = 0xcbf29ce484222325
    for b in peer_id.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    h = ((h ^ 0xff) * 0x100000001b3) & M64
    for b in key.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    h ^= h >> 30
    h = (h * 0xbf58476d1ce4e5b9) & M64
    h ^= h >> 27
    h = (h * 0x94d049bb133111eb) & M64
    return h ^ (h >> 31)


def owner_order(ids, key):
    scores = [(1.0 / -math.log(((peer_hash(i, key) >> 11) + 0.5) / 9007199254740992.0), -n)
              for n, i in enumerate(ids)]
    return [-n for _, n in sorted(scores, reverse=True)]


class Cluster:
    def __init__(self, n=3, extra=None, config=None):
        self.origin = Origin()
        self.config = config or {}
        self.ports = [free_port() for _ in range(n)]
        self.ids = ["node-%d" % i for i in range(n)]
        self.peers = [{"id": self.ids[i], "url": "http://127.0.0.1:%d" % self.ports[i]}
                      for i in range(n)]
        self.extra = extra or {}
        self.nodes = []
        try:
            for i in range(n):
                self.nodes.append(self.start(i))
        except Exception:
            self.stop()
            raise

    def start(self, i):
        cluster = {"self": self.ids[i], "peers": self.peers, "secret": SECRET}
        cluster.update(self.extra)
        return Proxy(self.origin.url, dict(self.config, listen="127.0.0.1:%d" % self.ports[i],
                                           cluster=cluster))

    def owned_by(self, i, prefix, n=1):
        """n targets under prefix that node i owns."""
        found, k = [], 0
        while len(found) < n:
            t = "%s-%d" % (prefix, k)
            k += 1
            if self.order(t)[0] == i:
                found.append(t)
        return found

    def order(self, target):
        """Node indices in the order they serve target: [owner, next, ...]."""
        return owner_order(self.ids, self.origin.url + target)

    def stop(self):
        for p in self.nodes:
            p.stop()  # a node killed by a test is only reaped
        self.origin.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def test_clients_spread_over_the_nodes_make_one_origin_fetch():
    with Cluster() as c:
        t = "/cluster-one?delay_ms=1000&size=5000&cc=max-age%3D600"
        socks = [raw_connect(c.nodes[i % 3].port, raw_get(t)) for i in range(1000)]
        bodies = set()
        for s in socks:
            head, body = read_response(s)
            s.close()
            check(head.startswith(b"HTTP/1.1 200"), "a client's answer: %r" % head[:40])
            bodies.add(body)
        eq([len(b) for b in bodies], [5000], "1000 clients, the same whole body")
        eq(c.origin.count(t), 1, "one origin fetch for 1000 clients on three nodes")
        owner = c.order(t)[0]
        for i, p in enumerate(c.nodes):
            st = p.stats()
            if i != owner:
                eq(st["upstream_requests"], 1, "node %d asked the owner once" % i)
        owner_id = c.ids[owner]
        for i, p in enumerate(c.nodes):
            if i == owner:
                continue
            peers = {e["id"]: e for e in p.stats()["cluster"]["peers"]}
            eq(sorted(peers), sorted(x for x in c.ids if x != c.ids[i]), "its peers listed")
            e = peers[owner_id]
            eq((e["state"], e["sent"], e["answered"], e["failures"]), ("up", 1, 1, 0),
               "node %d's numbers for the owner" % i)
        got = {e["id"]: e["received"] for e in c.nodes[owner].stats()["cluster"]["peers"]}
        eq(sorted(got.values()), [1, 1], "the owner received one request from each")
        text = request(c.nodes[owner].admin_port, "GET", "/metrics").body.decode()
        lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                              capture_output=True, text=True, timeout=60)
        eq((lint.returncode, lint.stdout + lint.stderr), (0, ""), "promtool check metrics")
        check('sfproxy_cluster_peer_up{peer="%s"} 1' % c.ids[(owner + 1) % 3] in text,
              "each peer's state in /metrics")
        edge = c.nodes[c.order(t)[1]]
        wait_for(lambda: edge.stats()["cache"]["objects"] >= 1, "the edge stored its copy")
        r = request(edge.port, "GET", t)
        eq((r.status, r.header("X-Cache"), r.body), (200, "HIT", next(iter(bodies))),
           "a non-owner's later hit is its own, with one X-Cache")


def test_a_forged_peer_field_is_routed_like_a_client():
    with Cluster() as c:
        t = "/cluster-forged?delay_ms=200&size=300&cc=max-age%3D600"
        order = c.order(t)
        forged = {"Sfproxy-Peer": "id=node-0; hop=1; ts=%d; sig=%s" % (time.time(), "0" * 64)}
        r = request(c.nodes[order[1]].port, "GET", t, forged)
        eq(r.status, 200, "answered")
        r = request(c.nodes[order[0]].port, "GET", t)
        eq((r.status, r.header("X-Cache")), (200, "HIT"), "the owner had it: the edge asked it")
        eq(c.origin.count(t), 1, "one origin fetch: the forged field did not skip the owner")


def test_an_unreachable_owner_is_skipped_and_the_origin_fetched():
    with Cluster() as c:
        targets = c.owned_by(0, "/cluster-down?size=200&cc=max-age%3D600&k", 2)
        eq(c.nodes[0].stop(), 0, "the owner stopped")
        asker = c.nodes[c.order(targets[0])[1]]
        r = request(asker.port, "GET", targets[0])
        eq((r.status, len(r.body)), (200, 200), "served although its owner is gone")
        eq(c.origin.count(targets[0]), 1, "from the origin, once")
        eq(asker.stats()["cluster"]["peer_fallbacks"], 1, "one fall-back")
        check("not reached" in asker.output(), "the log says why")
        state = {e["id"]: (e["state"], e["failures"]) for e in asker.stats()["cluster"]["peers"]}
        eq(state["node-0"], ("down", 1), "the owner shown down, with its failure")
        r = request(asker.port, "GET", targets[1])
        eq(r.status, 200, "the next key of the dead owner")
        eq(asker.stats()["cluster"]["peer_fallbacks"], 1,
           "no second attempt: the owner is skipped for a while")
        eq(c.origin.count(targets[1]), 1, "one origin fetch")


def test_an_owner_killed_mid_stream_cuts_the_stream_and_the_next_request_succeeds():
    with Cluster() as c:
        t = c.owned_by(0, "/cluster-cut?size=400000&chunks=40&chunk_delay_ms=50&cc=max-age%3D600"
                          "&k")[0]
        asker = c.nodes[c.order(t)[1]]
        got = {}
        reader = threading.Thread(target=lambda: got.update(r=request(asker.port, "GET", t)))
        reader.start()
        wait_for(lambda: c.origin.count(t) == 1, "the owner's fetch started")
        time.sleep(0.4)  # some of the body is through both hops
        c.nodes[0].proc.send_signal(signal.SIGKILL)
        c.nodes[0].proc.wait()
        reader.join(30)
        r = got["r"]
        check(r.error is not None or len(r.body) < 400000,
              "the client sees a cut response, not a short one passed off as whole")
        r = request(asker.port, "GET", t)
        eq((r.status, len(r.body)), (200, 400000), "the next request succeeds")
        check(c.origin.count(t) <= 2, "at most one extra origin fetch for the key")


def test_a_peer_that_comes_back_gets_its_keys_back():
    """Skipped for an hour after it could not be reached, a peer is probed on its health
    check every second and gets its keys back as soon as it answers."""
    with Cluster(extra={"peer_retry": "1h"}) as c:
        first, later = c.owned_by(0, "/cluster-back?size=100&cc=max-age%3D600&k", 2)
        asker = c.nodes[c.order(first)[1]]
        eq(c.nodes[0].stop(), 0, "the owner stopped")
        eq(request(asker.port, "GET", first).status, 200, "served by the upstream meanwhile")
        eq(asker.stats()["cluster"]["peer_fallbacks"], 1, "after one fall-back")
        c.nodes[0] = c.start(0)  # back, on the same address
        wait_for(lambda: "node-0 (http://127.0.0.1:%d) answers its health check again"
                 % c.ports[0] in asker.output(), "the probe saw it back")
        eq(request(asker.port, "GET", later).status, 200, "a key it owns")
        eq(c.nodes[0].stats()["upstream_requests"], 1, "fetched by the owner again")
        eq(asker.stats()["cluster"]["peer_fallbacks"], 1, "without another fall-back")


class FakePeer:
    """One sfproxy node, node-a, whose only peer, node-p, is the origin itself: node-p's
    answers to requests that carry Sfproxy-Peer are what a test makes the origin say
    (status_if), while the same request without it is the upstream's."""

    def __init__(self):
        self.origin = Origin()
        peers = [{"id": "node-a", "url": "http://127.0.0.1:%d" % free_port()},
                 {"id": "node-p", "url": self.origin.url}]
        try:
            self.node = Proxy(self.origin.url, {
                "listen": peers[0]["url"][len("http://"):],
                "cluster": {"self": "node-a", "peers": peers, "secret": SECRET}})
        except Exception:
            self.origin.stop()
            raise

    def owned_by_peer(self, prefix):
        """A target under prefix (which ends "k=") that node-p owns."""
        k = 0
        while owner_order(["node-a", "node-p"], self.origin.url + prefix + str(k))[0] != 1:
            k += 1
        return prefix + str(k)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.node.stop()
        self.origin.stop()
        return False


def test_a_draining_peer_sends_its_asker_to_the_upstream_at_once():
    """A node that is shutting down answers 503 with Sfproxy-Draining: the asker fetches
    the upstream instead."""
    with FakePeer() as f:
        t = f.owned_by_peer("/drain?status_if=Sfproxy-Peer:503&hdr=Sfproxy-Draining:1&size=100&k=")
        r = request(f.node.port, "GET", t)
        eq((r.status, len(r.body)), (200, 100), "served by the upstream after the peer's 503")
        eq(f.origin.count(t), 2, "the peer's answer, then the upstream's")
        eq(f.node.stats()["cluster"]["peer_fallbacks"], 1, "one fall-back")
        t = f.owned_by_peer("/plain503?status_if=Sfproxy-Peer:503&size=100&k=")
        eq(request(f.node.port, "GET", t).status, 200,
           "the peer is skipped for a while: the upstream's answer")


def test_a_peers_own_503_without_the_draining_field_is_its_answer():
    with FakePeer() as f:
        t = f.owned_by_peer("/relay?status_if=Sfproxy-Peer:503&size=100&k=")
        eq(request(f.node.port, "GET", t).status, 503, "an owner's relayed 503 is the answer")
        eq(f.origin.count(t), 1, "no second fetch")
        eq(f.node.stats()["cluster"]["peer_fallbacks"], 0, "no fall-back")


def test_haproxy_in_front_of_the_nodes():
    """conf/haproxy-cluster.cfg, run by Debian's HAProxy with the addresses of three nodes:
    clients through it and clients straight at the nodes make one origin fetch per key."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    with Cluster() as c:
        with open(os.path.join(ROOT, "conf", "haproxy-cluster.cfg")) as f:
            text = f.read()
        port = free_port()
        text = text.replace("bind 127.0.0.1:8000", "bind 127.0.0.1:%d" % port)
        servers = "".join("    server %s 127.0.0.1:%d check port %d\n"
                          % (c.ids[i], c.nodes[i].port, c.nodes[i].admin_port) for i in range(3))
        text = re.sub(r"(    server .*\n)+", servers, text)
        cfg = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        cfg.write(text)
        cfg.close()
        proc = subprocess.Popen([haproxy, "-f", cfg.name, "-db"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            def up():
                try:
                    return request(port, "GET", "/ha-ready?size=1").status == 200
                except OSError:
                    return False
            wait_for(up, "HAProxy serving through the nodes")
            t = "/ha-one?delay_ms=500&size=3000&cc=max-age%3D600"
            res = parallel(30, lambda i: request(port if i % 2 else c.nodes[i % 3].port, "GET", t))
            eq(sorted(set((r.status, len(r.body)) for r in res)), [(200, 3000)], "all served")
            eq(len(set(r.body for r in res)), 1, "the same response")
            eq(c.origin.count(t), 1, "one origin fetch through HAProxy and straight at the nodes")
        finally:
            proc.terminate()
            proc.wait(10)
            os.unlink(cfg.name)


def test_a_purge_reaches_every_node():
    with Cluster() as c:
        t = "/cluster-purge?size=100&cc=max-age%3D600"
        for p in c.nodes:  # the owner stores it, and so does each node that asked it
            eq(request(p.port, "GET", t).status, 200, "warmed")
        for p in c.nodes:
            wait_for(lambda: p.stats()["cache"]["objects"] >= 1, "stored on every node")
        a = c.nodes[0]
        r = request(a.admin_port, "POST", "/_sfproxy/purge?url=" + quote(t, safe=""))
        eq(r.status, 200, "purged")
        doc = json.loads(r.body)
        eq(doc["purged"], 1, "here")
        eq(sorted((e["id"], e.get("purged")) for e in doc["peers"]),
           [("node-1", 1), ("node-2", 1)], "and on each peer, with its count")
        for p in c.nodes:
            eq(p.stats()["cache"]["objects"], 0, "nothing left on node %d" % c.nodes.index(p))
        c.nodes[2].stop()
        r = request(a.admin_port, "POST", "/_sfproxy/purge?url=/anything")
        doc = json.loads(r.body)
        errors = {e["id"]: e.get("error") for e in doc["peers"]}
        check(errors["node-2"] and errors["node-1"] is None,
              "a peer that cannot be reached is named with why: %r" % doc)


def test_a_forged_peer_purge_is_an_ordinary_request():
    with Cluster() as c:
        t = "/cluster-forged-purge?size=100&cc=max-age%3D600"
        p = c.nodes[c.order(t)[0]]
        eq(request(p.port, "GET", t).status, 200, "stored at its owner")
        wait_for(lambda: p.stats()["cache"]["objects"] >= 1, "stored")
        purge = "/_sfproxy/purge?url=" + quote(t, safe="")
        request(p.port, "POST", purge,
                {"Sfproxy-Peer": "id=node-0; hop=1; ts=%d; sig=%s" % (time.time(), "0" * 64)})
        eq(p.stats()["cache"]["objects"], 1, "nothing purged: forwarded to the origin instead")
        eq(c.origin.count(purge), 1, "the origin saw it as a POST like any other")


def test_without_store_on_edge_only_the_owner_keeps_a_response():
    with Cluster(extra={"store_on_edge": False}) as c:
        t = "/cluster-edge?size=100&cc=max-age%3D600"
        order = c.order(t)
        edge, owner = c.nodes[order[1]], c.nodes[order[0]]
        first = request(edge.port, "GET", t)
        wait_for(lambda: owner.stats()["cache"]["objects"] == 1, "stored at the owner")
        second = request(edge.port, "GET", t)
        eq((first.status, second.status, second.body), (200, 200, first.body), "served twice")
        eq(second.header("X-Cache"), "MISS", "the edge asked the owner again")
        eq(edge.stats()["cache"]["objects"], 0, "the edge kept nothing")
        eq(owner.stats()["hits"], 1, "the owner's hit served it")
        eq(c.origin.count(t), 1, "one origin fetch")


def test_a_revalidation_goes_through_the_owner():
    """An edge's stale copy is revalidated at the owner, which revalidates its own at the
    origin: the origin's 304 refreshes both, and no body crosses either hop again."""
    with Cluster() as c:
        t = "/cluster-reval?etag=v1&cc=max-age%3D1&size=100"
        order = c.order(t)
        edge = c.nodes[order[1]]
        first = request(edge.port, "GET", t)
        eq(first.status, 200, "first")
        wait_for(lambda: edge.stats()["cache"]["objects"] == 1, "stored on the edge")
        c.origin.advance_clock(5)
        for p in c.nodes:
            p.advance_clock(5)
        again = request(edge.port, "GET", t)
        eq((again.status, again.header("X-Cache"), again.body),
           (200, "REVALIDATED", first.body), "the edge's copy refreshed")
        eq(c.origin.count(t), 2, "the first fetch, then one conditional request")
        eq(c.nodes[order[0]].stats()["revalidations"]["not_modified"], 1,
           "the owner revalidated its own copy")


def test_a_reload_that_drops_a_peer_moves_only_its_keys():
    with Cluster() as c:
        moved = c.owned_by(0, "/cluster-reload?size=100&cc=max-age%3D600&k")[0]
        kept = c.owned_by(1, "/cluster-reload?size=100&cc=max-age%3D600&k")[0]
        node = c.nodes[2]
        cfg = json.loads(json.dumps(node.cfg))
        cfg["cluster"]["peers"] = [p for p in cfg["cluster"]["peers"] if p["id"] != "node-0"]
        lines = node.reload(cfg)
        check(any("cluster.peers" in l for l in lines), "the reload names the change: %r" % lines)

        def received(owner, sender):
            return {e["id"]: e["received"] for e in c.nodes[owner].stats()["cluster"]["peers"]}[
                sender]
        eq(request(node.port, "GET", kept).status, 200, "a key node-1 owns")
        eq(received(1, "node-2"), 1, "still asked of node-1")
        eq(request(node.port, "GET", moved).status, 200, "a key node-0 owned")
        eq(received(0, "node-2"), 0, "no longer asked of node-0, which still runs")
        eq(c.origin.count(moved), 1, "fetched once, by its new owner")


def test_slices_cross_the_hop_to_the_owner():
    # A response too large to store is kept in slices on the owner and on the edge alike:
    # the edge's slice fetch (its own Range) goes to the owner, which answers it from its
    # own slices; the origin sees each slice asked once, by the owner.
    s = 16384
    with Cluster(config={"cache": {"max_object_bytes": "64KiB", "slice_bytes": "16KiB"}}) as c:
        t = "/cluster-big?size=100000&ranges=1&cc=max-age%3D600&etag=cb"
        order = c.order(t)
        owner, edge, third = (c.nodes[i] for i in order)
        whole = request(edge.port, "GET", t)
        eq((whole.status, len(whole.body)), (200, 100000), "the first request, whole")
        for node in (owner, edge):
            wait_for(lambda: node.stats()["cache"]["sliced"] == 1, "sliced on both")
        for node in (edge, third, owner):
            r = request(node.port, "GET", t, {"Range": "bytes=20000-40000"})
            eq((r.status, r.header("Content-Range"), r.body),
               (206, "bytes 20000-40000/100000", whole.body[20000:40001]),
               "a range through node %d" % c.nodes.index(node))
        # (The third node had not seen the response: its first request is a whole fetch,
        # which the owner serves from slices as it is read, a few more of them.)
        asked = c.origin.stats()["ranges"][t]
        eq(len(asked), len(set(asked)), "no slice asked of the origin twice: %r" % asked)
        check({"bytes=%d-%d" % (i * s, (i + 1) * s - 1) for i in (1, 2)} <= set(asked),
              "the range's slices among them")
        eq(c.origin.count(t), 1 + len(asked), "one whole fetch, the rest slices")
        before = c.origin.count(t)
        for node in (edge, third, owner):
            r = request(node.port, "GET", t, {"Range": "bytes=20000-40000"})
            eq((r.status, r.body), (206, whole.body[20000:40001]), "again")
        eq(c.origin.count(t), before, "the same ranges again: no origin request")
