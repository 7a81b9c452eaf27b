"""t91: routes across a cluster's hop (issue 20). A shared fetch a node sends to its key's
owner arrives there with the owner's own address as its Host, always as a GET, and with the
fields a hop drops or rewrites: matched again there, a `match.host` route (or one on
methods or header fields) did not match, and the owner fetched another route's upstream
(or the top level's) and keyed it apart, while the asking node served that response to
the route's clients. The asking node now names its route, and its client's Host, under
the request's signature; the owner takes that route and keys that Host. An owner whose
config has no route of that name (a rolling reload) sends the fetch back: signed 421, the
next node asked, here the asker itself."""
import json
import urllib.parse

from harness import Origin, check, eq, request, wait_for
from t90_cluster import Cluster, owner_order

HOST_ROUTE = {"name": "b", "match": {"host": "b.example"}}
HEAD_ROUTE = {"name": "h", "match": {"methods": ["HEAD"], "path_prefix": "/h/"}}


class Routed(Cluster):
    """Two nodes of one origin (the top level's) with a second origin, B, that the routes
    send to."""

    def __init__(self, extra_routes=()):
        # (Cluster stops what it started, b too, should a node not start.)
        self.b = Origin()
        routes = [dict(HOST_ROUTE, upstream=self.b.url), dict(HEAD_ROUTE, upstream=self.b.url)]
        super().__init__(n=2, config={"routes": routes + list(extra_routes)})

    def owned_via_b(self, i, prefix):
        """A target whose key, as B's URL (the route's upstream), node i owns."""
        for k in range(1000):
            t = "%s-%d?size=100&cc=max-age%%3D600" % (prefix, k)
            if owner_order(self.ids, self.b.url + t)[0] == i:
                return t
        raise AssertionError("no target owned by node %d" % i)

    def stop(self):
        super().stop()
        self.b.stop()


def explain(node, url, host):
    query = urllib.parse.urlencode([("url", url), ("host", host)], quote_via=urllib.parse.quote)
    r = request(node.admin_port, "GET", "/_sfproxy/explain?" + query)
    eq(r.status, 200, "explain %s: %r" % (url, r.body[:200]))
    return json.loads(r.body)


def test_a_host_route_is_the_owners_route_too():
    """The reviewer's reproduction: a `match.host` route, a key owned by the other node."""
    with Routed() as c:
        t = c.owned_via_b(1, "/hostroute")
        asker, owner = c.nodes[0], c.nodes[1]
        r = request(asker.port, "GET", t, {"Host": "b.example"})
        eq((r.status, r.header("X-Cache"), len(r.body)), (200, "MISS", 100), "the client's")
        eq((c.b.count(t), c.origin.count(t)), (1, 0),
           "(route b's origin, the top level's) fetches: the owner took route b")
        eq(owner.stats()["upstream_requests"], 1, "the owner fetched it")
        wait_for(lambda: explain(owner, t, "b.example")["stored"].get("kind") == "response",
                 "stored at the owner under the key the asker has")
        mine, theirs = explain(asker, t, "b.example"), explain(owner, t, "b.example")
        eq((theirs["route"], theirs["key"]), (mine["route"], mine["key"]), "one route, one key")
        check("b.example" in mine["key"], "the route keys the host: %r" % mine["key"])
        # The owner's own client of that host is served what the hop stored.
        again = request(owner.port, "GET", t, {"Host": "b.example"})
        eq((again.status, again.header("X-Cache"), again.body), (200, "HIT", r.body),
           "a client of b.example at the owner: its stored copy")
        eq((c.b.count(t), c.origin.count(t)), (1, 0), "no other fetch")
        # No route: the owner takes none either (the top level's upstream).
        plain = c.owned_via_b(1, "/plain")
        owner_of_plain = c.order(plain)[0]
        asker2 = c.nodes[1 - owner_of_plain]
        eq(request(asker2.port, "GET", plain).status, 200, "a request of no route")
        eq((c.b.count(plain), c.origin.count(plain)), (0, 1), "fetched from the top level's")


def test_a_head_only_route_is_the_owners_route_too():
    """The hop of a shared HEAD is a GET: the owner matched no `methods: ["HEAD"]` route."""
    with Routed() as c:
        t = c.owned_via_b(1, "/h/only")
        r = request(c.nodes[0].port, "HEAD", t)
        eq((r.status, r.header("X-Cache")), (200, "MISS"), "the client's HEAD")
        eq((c.b.count(t), c.origin.count(t)), (1, 0),
           "(route h's origin, the top level's) fetches: the owner took route h")
        eq(c.nodes[1].stats()["upstream_requests"], 1, "the owner fetched it")


def test_an_owner_without_the_route_sends_the_fetch_back():
    """A rolling reload: the owner's config has no route b yet (or any more). It answers
    421, signed; the asker asks the next node, itself here, and fetches route b's origin.
    The owner is not marked down: its other keys stay with it."""
    with Routed() as c:
        t = c.owned_via_b(1, "/unknown")
        asker, owner = c.nodes[0], c.nodes[1]
        cfg = dict(owner.cfg, routes=[dict(HEAD_ROUTE, upstream=c.b.url)])
        owner.reload(config=cfg)
        r = request(asker.port, "GET", t, {"Host": "b.example"})
        eq((r.status, len(r.body)), (200, 100), "the client's answer")
        eq((c.b.count(t), c.origin.count(t)), (1, 0), "route b's origin, fetched by the asker")
        eq(owner.stats()["cluster"]["peer_routes_unknown"], 1, "the owner said so")
        eq(owner.stats()["upstream_requests"], 0, "the owner fetched nothing")
        st = asker.stats()["cluster"]
        eq(st["peer_fallbacks"], 1, "the asker moved on once")
        eq(st["peer_bad_answers"], 0, "a signed answer, not a bad one")
        peers = {e["id"]: e for e in st["peers"]}
        eq(peers[c.ids[1]]["state"], "up", "the owner is not marked down")
        wait_for(lambda: "has not: sent back" in owner.output(), "the owner logged it")
