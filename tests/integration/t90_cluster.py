"""t90: a cluster of three sfproxy nodes in front of one origin (issue 12, first step):
every key has one owner (rendezvous hashing); a node that does not own a key fetches it
from the owner, signed, so the origin sees one fetch per key however the clients spread;
a forged peer field is an ordinary client's; a peer that cannot be reached is skipped and
the upstream fetched instead, without failing a client."""
import math
import signal
import threading

from harness import Origin, Proxy, check, eq, free_port, parallel, request, wait_for

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
    def __init__(self, n=3):
        self.origin = Origin()
        ports = [free_port() for _ in range(n)]
        self.ids = ["node-%d" % i for i in range(n)]
        peers = [{"id": self.ids[i], "url": "http://127.0.0.1:%d" % ports[i]} for i in range(n)]
        self.nodes = []
        try:
            for i in range(n):
                self.nodes.append(Proxy(self.origin.url, {
                    "listen": "127.0.0.1:%d" % ports[i],
                    "cluster": {"self": self.ids[i], "peers": peers, "secret": SECRET}}))
        except Exception:
            self.stop()
            raise

    def order(self, target):
        """Node indices in the order they serve target: [owner, next, ...]."""
        return owner_order(self.ids, self.origin.url + target)

    def stop(self):
        for p in self.nodes:
            if p.proc.poll() is None:
                p.stop()
        self.origin.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def test_clients_spread_over_the_nodes_make_one_origin_fetch():
    with Cluster() as c:
        t = "/cluster-one?delay_ms=500&size=5000&cc=max-age%3D600"
        res = parallel(30, lambda i: request(c.nodes[i % 3].port, "GET", t))
        eq(sorted(set((r.status, len(r.body), r.error) for r in res)), [(200, 5000, None)],
           "every client got the whole response")
        eq(len(set(r.body for r in res)), 1, "all the same one")
        eq(c.origin.count(t), 1, "one origin fetch for 30 clients on three nodes")
        owner = c.order(t)[0]
        for i, p in enumerate(c.nodes):
            st = p.stats()
            if i != owner:
                eq(st["upstream_requests"], 1, "node %d asked the owner once" % i)
        edge = c.nodes[c.order(t)[1]]
        wait_for(lambda: edge.stats()["cache"]["objects"] >= 1, "the edge stored its copy")
        r = request(edge.port, "GET", t)
        eq((r.status, r.header("X-Cache"), r.body), (200, "HIT", res[0].body),
           "a non-owner's later hit is its own, with one X-Cache")


def test_a_forged_peer_field_is_routed_like_a_client():
    with Cluster() as c:
        t = "/cluster-forged?delay_ms=200&size=300&cc=max-age%3D600"
        order = c.order(t)
        forged = {"Sfproxy-Peer": "id=node-9; ts=1; sig=" + "0" * 64}
        r = request(c.nodes[order[1]].port, "GET", t, forged)
        eq(r.status, 200, "answered")
        r = request(c.nodes[order[0]].port, "GET", t)
        eq((r.status, r.header("X-Cache")), (200, "HIT"), "the owner had it: the edge asked it")
        eq(c.origin.count(t), 1, "one origin fetch: the forged field did not skip the owner")


def test_an_unreachable_owner_is_skipped_and_the_origin_fetched():
    with Cluster() as c:
        # Two keys the same node owns.
        targets, n = [], 0
        while len(targets) < 2:
            t = "/cluster-down-%d?size=200&cc=max-age%%3D600" % n
            n += 1
            if c.order(t)[0] == 0:
                targets.append(t)
        eq(c.nodes[0].stop(), 0, "the owner stopped")
        asker = c.nodes[c.order(targets[0])[1]]
        r = request(asker.port, "GET", targets[0])
        eq((r.status, len(r.body)), (200, 200), "served although its owner is gone")
        eq(c.origin.count(targets[0]), 1, "from the origin, once")
        eq(asker.stats()["cluster"]["peer_fallbacks"], 1, "one fall-back")
        check("not reached" in asker.output(), "the log says why")
        r = request(asker.port, "GET", targets[1])
        eq(r.status, 200, "the next key of the dead owner")
        eq(asker.stats()["cluster"]["peer_fallbacks"], 1,
           "no second attempt: the owner is skipped for a while")
        eq(c.origin.count(targets[1]), 1, "one origin fetch")
