"""t90: a cluster of three sfproxy nodes in front of one origin (issue 12, first step):
every key has one owner (rendezvous hashing); a node that does not own a key fetches it
from the owner, signed, so the origin sees one fetch per key however the clients spread;
a forged or replayed peer field is an ordinary client's; a peer that cannot be reached, or
whose answer is not signed, is skipped and the next node in the key's order asked (the
upstream only when this node is next), without failing a client."""
import hashlib
import hmac
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from harness import (MULT, ROOT, Origin, Proxy, TestFailure, check, eq, free_port, parallel,
                     raw_connect, raw_get, read_response, request, wait_for)

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
        self.ids = ["node-%d" % i for i in range(n)]
        self.extra = extra or {}
        self.nodes = []
        # Every node's port is in every node's config, so the ports are picked before any
        # node binds one: a test file running alongside may take one in between. Then
        # the whole cluster starts again on new ports (a few times at most).
        for attempt in range(3):
            self.ports = [free_port() for _ in range(n)]
            self.peers = [{"id": self.ids[i], "url": "http://127.0.0.1:%d" % self.ports[i]}
                          for i in range(n)]
            try:
                for i in range(n):
                    self.nodes.append(self.start(i))
                return
            except TestFailure as e:
                self.stop_nodes()
                if "is the port in use" not in str(e) or attempt == 2:
                    self.origin.stop()
                    raise
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

    def stop_nodes(self):
        for p in self.nodes:
            p.stop()  # a node killed by a test is only reaped
        self.nodes = []

    def stop(self):
        self.stop_nodes()
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
        owner = c.nodes[order[0]]
        wait_for(lambda: owner.stats()["cache"]["objects"] >= 1, "stored at the owner")
        r = request(owner.port, "GET", t)
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
        asker.wait_log("peer node-0 failed (", "the log says why")
        asker.wait_log("fetching from the upstream", "and where the fetch went")
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
        sent = asker.stats()["bytes_to_clients"]
        reader = threading.Thread(target=lambda: got.update(r=request(asker.port, "GET", t)))
        reader.start()
        wait_for(lambda: c.origin.count(t) == 1, "the owner's fetch started")
        # Mid-stream: some of the body is through both hops and at the client (the origin
        # sends its 40 chunks over 2 s, so not all of it).
        wait_for(lambda: asker.stats()["bytes_to_clients"] > sent,
                 "the first body bytes through both hops")
        c.nodes[0].proc.send_signal(signal.SIGKILL)
        c.nodes[0].proc.wait()
        reader.join(30 * MULT)
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


class ForgingPeer:
    """A process at a listed peer's address without the cluster's secret: it answers every
    request 200 with a body of its own, fresh for ten minutes ("ok" for a health check),
    with a made-up Sfproxy-Peer-Answer when bad_sig, and keeps what it was sent."""
    BODY = b"forged: answered by a process without the cluster's secret\n"

    def __init__(self, port, bad_sig=False):
        self.requests = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                peer.requests.append((self.command, self.path, dict(self.headers.items())))
                body = b"ok\n" if self.path == "/_sfproxy/health" else ForgingPeer.BODY
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Cache-Control", "max-age=600")
                self.send_header("Content-Length", str(len(body)))
                if bad_sig:
                    self.send_header("Sfproxy-Peer-Answer", "sig=" + "ab" * 32)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a node that hangs up mid-request is no news here

        self.server = Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def signed(self):
        """The peer requests it was sent: (method, target, Sfproxy-Peer)."""
        return [(m, t, h["Sfproxy-Peer"]) for m, t, h in self.requests if "Sfproxy-Peer" in h]

    def hop_fields(self, target):
        """The fields under the signature of the peer request it was sent for target:
        Sfproxy-Peer, and Sfproxy-Peer-Route and Sfproxy-Peer-Host when sent."""
        names = ("Sfproxy-Peer", "Sfproxy-Peer-Route", "Sfproxy-Peer-Host")
        return [{k: v for k, v in h.items() if k in names}
                for _, t, h in self.requests if t == target and "Sfproxy-Peer" in h]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class MixedCluster:
    """Real sfproxy nodes and ForgingPeers in one peer list (ids node-0...), in front of one
    origin. fakes: the indices that are ForgingPeers. spy=(node, peer): in that node's
    config, peer's address is a ForgingPeer's (self.spy), which captures what is sent to
    it."""

    def __init__(self, n, fakes=(), bad_sig=False, spy=None, extra=None, fake=ForgingPeer):
        self.origin = Origin()
        self.ids = ["node-%d" % i for i in range(n)]
        self.ports = [free_port() for _ in range(n)]
        self.nodes, self.fakes, self.spy = {}, {}, None
        try:
            for i in fakes:
                self.fakes[i] = fake(self.ports[i], bad_sig)
            if spy:
                spy_port = free_port()
                self.spy = ForgingPeer(spy_port)
            for i in range(n):
                if i in fakes:
                    continue
                ports = list(self.ports)
                if spy and spy[0] == i:
                    ports[spy[1]] = spy_port
                peers = [{"id": self.ids[k], "url": "http://127.0.0.1:%d" % ports[k]}
                         for k in range(n)]
                cluster = {"self": self.ids[i], "peers": peers, "secret": SECRET}
                cluster.update(extra or {})
                self.nodes[i] = Proxy(self.origin.url, {
                    "listen": "127.0.0.1:%d" % self.ports[i], "cluster": cluster})
        except Exception:
            self.stop()
            raise

    def order(self, target):
        return owner_order(self.ids, self.origin.url + target)

    def key(self, prefix, order):
        """A target under prefix whose node order starts with order."""
        k = 0
        while self.order(prefix + str(k))[:len(order)] != list(order):
            k += 1
        return prefix + str(k)

    def peer_numbers(self, node, peer):
        return {e["id"]: e for e in self.nodes[node].stats()["cluster"]["peers"]}[self.ids[peer]]

    def stop(self):
        for p in self.nodes.values():
            p.stop()
        for f in list(self.fakes.values()) + ([self.spy] if self.spy else []):
            f.stop()
        self.origin.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def test_a_peer_answer_without_the_secret_is_neither_stored_nor_served():
    """(issue 18) A process at the owner's address without the secret answers the peer
    request, unsigned or with a made-up signature: its answer is dropped (counted, logged),
    the next node in the key's order (here the asker) fetches the origin; what is stored
    and served is the origin's. The peer is not marked down for it: an unsigned answer is
    also what a live owner gives when it cannot take a request as a peer's, and no
    client's request may turn into a peer marked down for everyone."""
    for bad_sig in (False, True):
        with MixedCluster(2, fakes=(1,), bad_sig=bad_sig) as c:
            t = c.key("/forged?size=100&cc=max-age%3D600&k=", [1, 0])
            node = c.nodes[0]
            r = request(node.port, "GET", t)
            eq([x[1] for x in c.fakes[1].signed()], [t], "the fake was asked")
            eq((r.status, r.body != ForgingPeer.BODY, len(r.body)), (200, True, 100),
               "the origin's answer served, not the fake's")
            eq(c.origin.count(t), 1, "the origin fetched instead")
            wait_for(lambda: node.stats()["cache"]["objects"] == 1, "stored")
            again = request(node.port, "GET", t)
            eq((again.header("X-Cache"), again.body), ("HIT", r.body),
               "what is stored is the origin's")
            st = node.stats()["cluster"]
            eq(st["peer_fallbacks"], 1, "one fall-back")
            check(st["peer_bad_answers"] >= 1, "the dropped answer counted: %r" % st)
            e = c.peer_numbers(0, 1)
            eq((e["state"], e["sent"], e["answered"], e["failures"]), ("up", 1, 0, 1),
               "the fake's numbers: asked, not taken, not marked down")
            node.wait_log("is not signed with cluster.secret", "logged")
            t2 = c.key("/forged2?size=100&cc=max-age%3D600&k=", [1, 0])
            eq(request(node.port, "GET", t2).status, 200, "another of its keys")
            eq(len(c.fakes[1].signed()), 2, "asked again, and again not taken")
            eq(c.origin.count(t2), 1, "the origin's answer once more")


def test_a_clients_request_on_a_peer_call_path_marks_no_peer_down():
    """(review of issue 18) A client's GET of a purge path, or HEAD of the health path, is
    an ordinary request: routed to its key's owner like any other, whose answer is signed
    and taken. The check front.c makes for a peer's own calls (a signed POST purge, a
    signed GET health) once let such a request reach the owner unchecked, answered
    unsigned, and the owner marked down by the node that asked."""
    with Cluster() as c:
        node = c.nodes[0]
        for method, prefix in (("GET", "/_sfproxy/purge?x="), ("HEAD", "/_sfproxy/purge?y=")):
            k = 0
            while c.order(prefix + str(k))[0] != 1:
                k += 1
            r = request(node.port, method, prefix + str(k))
            check(r.status < 500, "%s answered by the owner: %d" % (method, r.status))
        st = node.stats()["cluster"]
        eq(st["peer_bad_answers"], 0, "every answer signed")
        eq({e["id"]: e for e in st["peers"]}["node-1"]["state"], "up", "the owner is up")


def test_nodes_whose_peer_lists_disagree_never_wait_on_each_other():
    """(review of issue 18) Two nodes whose lists disagree (a rolling change of weights):
    A's list makes C the owner of every key, C's makes A. A client at each, at once: each
    node's flight asks the other, and a peer's request that joined the flight there would
    wait on the asker in turn, both until timeouts.first_byte (504). A peer's request from
    a node this node's list ranks ahead of itself is fetched on its own instead."""
    origin = Origin()
    pa, pc = free_port(), free_port()
    ua, uc = "http://127.0.0.1:%d" % pa, "http://127.0.0.1:%d" % pc

    def node(me, port, weights):
        peers = [{"id": "A", "url": ua, "weight": weights[0]},
                 {"id": "C", "url": uc, "weight": weights[1]}]
        return Proxy(origin.url, {"listen": "127.0.0.1:%d" % port,
                                  "timeouts": {"first_byte": "5s"},
                                  "cluster": {"self": me, "secret": SECRET, "peers": peers}})
    a = node("A", pa, (1, 1000))
    c = node("C", pc, (1000, 1))
    try:
        for k in range(3):
            t = "/disagree-%d?delay_ms=300&size=100&cc=max-age%%3D60" % k
            socks = [raw_connect(p.port, raw_get(t)) for p in (a, c)]
            for name, sock in zip("AC", socks):
                head, body = read_response(sock)
                sock.close()
                check(head.startswith(b"HTTP/1.1 200") and len(body) == 100,
                      "key %d at %s: %r" % (k, name, head[:40]))
            check(origin.count(t) <= 2, "at most one origin fetch per node")
        disagreed = sum(p.stats()["cluster"]["peer_lists_disagree"] for p in (a, c))
        check(disagreed >= 1, "the disagreement counted: %d" % disagreed)
        wait_for(lambda: any("peer lists differ" in p.output() for p in (a, c)),
                 "the disagreement logged")
    finally:
        a.stop()
        c.stop()
        origin.stop()


def sign_answer(request_field, status, fields):
    """lib/cluster.c's answer MAC: over the request's Sfproxy-Peer, the status and the
    fields the transport does not write, as sorted "lowercased-name:value" lines."""
    skip = {"date", "connection", "keep-alive", "content-length", "transfer-encoding",
            "sfproxy-peer-answer"}
    lines = sorted("%s:%s" % (k.lower(), v.strip(" \t")) for k, v in fields
                   if k.lower() not in skip)
    text = "\n".join(["sfproxy-answer", request_field, str(status)] + lines)
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


def body_trailer(answer_mac, body):
    """lib/cluster.c's trailer MAC: over the answer's MAC, the body's length and SHA-256."""
    text = "\n".join(["sfproxy-body", answer_mac, str(len(body)),
                      hashlib.sha256(body).hexdigest()])
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


class TamperingHop:
    """The owner's answers as a process that can write into the hop between nodes delivers
    them: each head is the owner's, signed with the secret for its request (this fake holds
    the secret, as the owner does), but the body on the wire is not the one the owner sent
    and proved. mode says how:
      "whole"    - the digest of GOOD in the signed head, TAMPERED sent (same length);
      "trailer"  - chunked, TAMPERED sent, then the owner's trailer for GOOD;
      "garbled"  - chunked, TAMPERED sent, then a trailer of made-up hex;
      "omitted"  - chunked, GOOD sent, and no trailer at all (nothing proves it);
      "excess"   - chunked, GOOD and then 2 MiB more, the owner's trailer for GOOD: more
                   than the signed length (review of issue 18: the bytes past it were read
                   as the next slice's, or, in a response that cannot be shared,
                   "excess_private", made the transfer wait for a reader held at the last
                   byte: a hang);
      "honest"   - chunked, GOOD sent, its trailer right: what a real owner sends."""
    GOOD = b"the owner's body: " + b"g" * 982
    TAMPERED = b"tampered on the hop" + b"t" * 981

    def __init__(self, port, mode):
        self.requests = []
        hop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                field = self.headers.get("Sfproxy-Peer")
                hop.requests.append((self.command, self.path))
                good, sent = TamperingHop.GOOD, TamperingHop.TAMPERED
                if mode in ("omitted", "honest"):
                    sent = good
                if mode.startswith("excess"):
                    sent = good + b"x" * (2 << 20)
                cc = "private" if mode == "excess_private" else "max-age=600"
                fields = [("Content-Type", "text/plain"), ("Cache-Control", cc)]
                if mode == "whole":
                    fields.append(("Sfproxy-Peer-Body", "length=%d; sha256=%s"
                                   % (len(good), hashlib.sha256(good).hexdigest())))
                else:
                    fields.append(("Sfproxy-Peer-Body", "length=%d; trailer" % len(good)))
                mac = sign_answer(field or "", 200, fields) if self.path != "/_sfproxy/health" \
                    else "0" * 64
                head = "HTTP/1.1 200 OK\r\n" + "".join("%s: %s\r\n" % f for f in fields)
                head += "Sfproxy-Peer-Answer: sig=%s\r\nConnection: close\r\n" % mac
                if mode == "whole":
                    out = head.encode() + b"Content-Length: %d\r\n\r\n" % len(sent) + sent
                else:
                    trailer = {"trailer": "sig=" + body_trailer(mac, good),
                               "excess": "sig=" + body_trailer(mac, good),
                               "excess_private": "sig=" + body_trailer(mac, good),
                               "garbled": "sig=" + "5a" * 32,
                               "honest": "sig=" + body_trailer(mac, good)}.get(mode)
                    out = head.encode() + b"Transfer-Encoding: chunked\r\n\r\n"
                    out += b"%x\r\n%s\r\n0\r\n" % (len(sent), sent)
                    out += (b"Sfproxy-Peer-Body: %s\r\n" % trailer.encode()) if trailer else b""
                    out += b"\r\n"
                self.wfile.write(out)
                self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_peer_answer_body_changed_on_the_hop_is_neither_stored_nor_served_whole():
    """(issue 18) The owner's signed head arrives intact, its body does not: the digest in
    the head, or the trailer after the body, does not prove what came. The asking node cuts
    its clients' response before its last byte, stores nothing, counts it
    (cluster.peer_bad_bodies) and skips the peer; the next request is fetched again (here
    from the origin: the asker is next in the key's order), never a HIT of the tampered
    body. An owner that proves its body ("honest") is stored and served as before."""
    n = len(TamperingHop.GOOD)
    for mode in ("whole", "trailer", "garbled", "omitted", "excess", "excess_private",
                 "honest"):
        with MixedCluster(2, fakes=(1,), bad_sig=mode,
                          fake=lambda port, m: TamperingHop(port, m)) as c:
            t = c.key("/hop-%s?size=%d&cc=max-age%%3D600&k=" % (mode, n), [1, 0])
            node = c.nodes[0]
            first = request(node.port, "GET", t)
            eq(c.fakes[1].requests, [("GET", t)], "%s: the owner was asked" % mode)
            st = node.stats()["cluster"]
            if mode == "honest":
                eq((first.status, first.body, first.error), (200, TamperingHop.GOOD, None),
                   "honest: served whole")
                wait_for(lambda: node.stats()["cache"]["objects"] == 1, "honest: stored")
                again = request(node.port, "GET", t)
                eq((again.header("X-Cache"), again.body), ("HIT", TamperingHop.GOOD),
                   "honest: a HIT of the proven body")
                eq((st["peer_bad_bodies"], st["peer_bad_answers"]), (0, 0), "honest: no count")
                continue
            eq(first.status, 200, "%s: the signed head was taken" % mode)
            check(first.error is not None and len(first.body) < n,
                  "%s: the client's response is cut, not whole: %d bytes, error %r"
                  % (mode, len(first.body), first.error))
            eq((st["peer_bad_bodies"], c.peer_numbers(0, 1)["answered"]), (1, 1),
               "%s: counted as a bad body (the head was taken)" % mode)
            node.wait_log("is not the one it signed", "%s: logged" % mode)
            eq(node.stats()["cache"]["objects"], 0, "%s: nothing stored" % mode)
            again = request(node.port, "GET", t)
            # (One user's response leaves a hit-for-pass mark: the next goes upstream alone.)
            eq((again.status, again.header("X-Cache"), len(again.body), again.error),
               (200, "PASS" if mode == "excess_private" else "MISS", n, None),
               "%s: fetched again, whole" % mode)
            check(again.body not in (TamperingHop.GOOD, TamperingHop.TAMPERED),
                  "%s: the origin's body, the peer skipped" % mode)
            eq(c.origin.count(t), 1, "%s: the origin fetched once" % mode)
            eq(c.peer_numbers(0, 1)["state"], "down", "%s: the peer is skipped" % mode)
    # A client's range of such a body, served from the live body, is cut too.
    with MixedCluster(2, fakes=(1,), bad_sig="trailer",
                      fake=lambda port, m: TamperingHop(port, m)) as c:
        t = c.key("/hop-range?size=%d&cc=max-age%%3D600&k=" % n, [1, 0])
        r = request(c.nodes[0].port, "GET", t, {"Range": "bytes=0-99"})
        check(r.status == 206 and r.error is not None and len(r.body) < 100,
              "a range of it cut: %d, %d bytes, error %r" % (r.status, len(r.body), r.error))
        eq(c.nodes[0].stats()["cluster"]["peer_bad_bodies"], 1, "range: counted")


def test_an_owner_proves_every_body_it_sends_a_peer():
    """Real nodes: an owner's answers carry their body's proof whatever their kind (a
    stored hit hashed ahead into its head, or too large for that and proven in a trailer;
    a body streamed as it arrives; empty; a range): the asking node takes each whole, and
    stores it; nothing counts as a bad body."""
    with Cluster(n=2) as c:
        for size in (0, 1000, 300000):
            for stored_at_owner in (False, True):
                t = c.owned_by(0, "/proven-%d-%d?size=%d&cc=max-age%%3D600&k"
                               % (size, stored_at_owner, size))[0]
                edge = c.nodes[c.order(t)[1]]
                if stored_at_owner:
                    eq(len(request(c.nodes[0].port, "GET", t).body), size, "at the owner")
                r = request(edge.port, "GET", t)
                eq((r.status, len(r.body), r.error, r.header("Content-Length")),
                   (200, size, None, str(size)), "%d bytes through the hop" % size)
                wait_for(lambda: request(edge.port, "GET", t).header("X-Cache") == "HIT",
                         "%d bytes: stored at the edge" % size)
                eq(request(edge.port, "GET", t).body, r.body, "the same body, stored")
                eq(c.origin.count(t), 1, "one origin fetch")
        t = c.owned_by(0, "/proven-range?size=300000&cc=max-age%3D600&k")[0]
        edge = c.nodes[c.order(t)[1]]
        whole = request(c.nodes[0].port, "GET", t).body
        r = request(edge.port, "GET", t, {"Range": "bytes=1000-200999"})
        eq((r.status, r.body), (206, whole[1000:201000]), "a range of it, through the hop")
        eq(edge.stats()["cluster"]["peer_bad_bodies"], 0, "every body proven")
        eq(edge.stats()["cluster"]["peer_bad_answers"], 0, "every head signed")


def test_a_forged_answer_sends_the_fetch_to_the_next_node():
    """The fake owns the key, a real node is next: the asker (last in order) asks the next
    node, which fetches the origin; one origin request."""
    with MixedCluster(3, fakes=(0,)) as c:
        t = c.key("/forged-next?size=100&cc=max-age%3D600&k=", [0, 1, 2])
        r = request(c.nodes[2].port, "GET", t)
        eq((r.status, r.body != ForgingPeer.BODY), (200, True), "the origin's answer")
        eq(c.origin.count(t), 1, "one origin fetch, by the next node")
        eq(c.peer_numbers(1, 2)["received"], 1, "the next node was asked")
        eq(c.peer_numbers(2, 1)["answered"], 1, "and answered")
        check(c.nodes[2].stats()["cluster"]["peer_bad_answers"] >= 1, "the fake's answer counted")


def test_a_peers_own_503_is_its_answer():
    """The owner relays the origin's 503, signed: that is the answer, passed on once."""
    with Cluster() as c:
        t = "/relay503?status=503&size=100"
        edge = c.nodes[c.order(t)[1]]
        eq(request(edge.port, "GET", t).status, 503, "an owner's relayed 503 is the answer")
        eq(c.origin.count(t), 1, "no second fetch")
        eq(edge.stats()["cluster"]["peer_fallbacks"], 0, "no fall-back")
        eq(edge.stats()["cluster"]["peer_bad_answers"], 0, "it was signed")


def test_a_stopping_owner_sends_a_waiting_peer_on_at_once():
    """An owner that stops while a peer's request waits on its fetch answers it 503 with
    Sfproxy-Draining, signed: the asker moves on (here it is next: the origin) instead of
    passing the 503 on."""
    with Cluster(config={"timeouts": {"shutdown_grace": "300ms"}}) as c:
        t = c.owned_by(0, "/stopping?delay_ms=2000&size=100&cc=max-age%3D600&k")[0]
        asker = c.nodes[c.order(t)[1]]
        got = {}
        reader = threading.Thread(target=lambda: got.update(r=request(asker.port, "GET", t)))
        reader.start()
        wait_for(lambda: c.origin.count(t) == 1, "the owner's fetch started")
        c.nodes[0].proc.send_signal(signal.SIGTERM)
        reader.join(30 * MULT)
        eq((got["r"].status, len(got["r"].body)), (200, 100), "served, from the origin")
        st = asker.stats()["cluster"]
        eq((st["peer_fallbacks"], st["peer_bad_answers"]), (1, 0),
           "moved on once; the owner's 503 was signed")
        asker.wait_log("failed (it is shutting down)", "the log says why")
        eq(c.origin.count(t), 2, "the owner's cut fetch, then the asker's")


def test_a_dead_owner_costs_one_origin_fetch_not_one_per_node():
    """(issue 18) The owner of a cold key stopped, 200 clients at the two other nodes at
    once: both notice the dead owner; the node next in the key's order fetches the origin,
    the other asks it. Also with every client at the next node, and at the last."""
    for at in ((1, 2), (1,), (2,)):
        with Cluster() as c:
            t = c.owned_by(0, "/dead-owner?delay_ms=600&size=6000&cc=max-age%3D600&k")[0]
            order = c.order(t)
            nxt, last = order[1], order[2]
            eq(c.nodes[0].stop(), 0, "the owner stopped")
            socks = [raw_connect(c.nodes[order[at[i % len(at)]]].port, raw_get(t))
                     for i in range(200)]
            bodies = set()
            for sock in socks:
                head, body = read_response(sock)
                sock.close()
                check(head.startswith(b"HTTP/1.1 200"), "a client's answer: %r" % head[:40])
                bodies.add(body)
            eq([len(b) for b in bodies], [6000], "200 clients, the same whole body")
            eq(c.origin.count(t), 1, "one origin fetch with clients at nodes %r" % (at,))
            if 2 in at:
                e = {x["id"]: x for x in c.nodes[last].stats()["cluster"]["peers"]}
                eq((e["node-0"]["failures"], e[c.ids[nxt]]["sent"], e[c.ids[nxt]]["answered"]),
                   (1, 1, 1), "the last node: the owner failed, the next node asked")
                got = {x["id"]: x["received"] for x in c.nodes[nxt].stats()["cluster"]["peers"]}
                eq(got[c.ids[last]], 1, "the next node received its request")
            if 1 in at:
                c.nodes[nxt].wait_log("fetching from the upstream",
                                      "the next node fetched the origin itself")


def test_a_captured_peer_request_cannot_be_replayed():
    """(issue 18) A peer request captured on its way (node-0 lists node-1 at a spy's
    address) is good once at node-1, the node it was signed for: a second time, and at
    node-2, it is an ordinary client's (not counted as node-0's, its answer unsigned)."""
    with MixedCluster(3, spy=(0, 1)) as c:
        t = c.key("/replay?size=100&cc=max-age%3D600&k=", [1])
        eq(request(c.nodes[0].port, "GET", t).status, 200, "served all the same")
        (method, target, _), = [x for x in c.spy.signed() if x[1] == t]
        eq((method, target), ("GET", t), "captured")
        fields, = c.spy.hop_fields(t)  # the client's Host is under the signature too

        def received(node):
            return c.peer_numbers(node, 0)["received"]
        before = received(1), received(2)
        first = request(c.nodes[1].port, method, target, fields)
        eq((first.status, received(1)), (200, before[0] + 1),
           "once, at node-1: a peer's request, counted as node-0's")
        again = [request(c.nodes[node].port, method, target, fields) for node in (1, 2)]
        eq([r.status for r in again], [200, 200], "served")
        eq((received(1), received(2)), (before[0] + 1, before[1]),
           "again at node-1, or at node-2: a client's request, not counted as node-0's")
        eq((first.header("Sfproxy-Peer-Answer") is not None,
            [r.header("Sfproxy-Peer-Answer") for r in again]), (True, [None, None]),
           "only the peer's answer is signed")
        eq(c.nodes[1].stats()["cluster"]["peer_replays"], 1, "node-1 counted the replay")
        c.nodes[1].wait_log("was seen before (a replay)", "node-1 logged the replay")


def test_a_captured_purge_cannot_be_replayed():
    """A purge's fan-out captured on its way to node-1 purges node-1 once; replayed there,
    or at node-2 (which had a fresh copy), it purges nothing: an ordinary POST."""
    with MixedCluster(3, spy=(0, 1)) as c:
        u = "/replay-purge?size=100&cc=max-age%3D600"

        def warm(node):
            eq(request(c.nodes[node].port, "GET", u).status, 200, "warmed")
            wait_for(lambda: c.nodes[node].stats()["cache"]["objects"] >= 1, "stored")
        r = request(c.nodes[0].admin_port, "POST", "/_sfproxy/purge?url=" + quote(u, safe=""))
        doc = json.loads(r.body)
        (method, target, field), = [x for x in c.spy.signed() if x[0] == "POST"]
        warm(1)
        warm(2)
        r = request(c.nodes[1].port, method, target, {"Sfproxy-Peer": field})
        eq((r.status, json.loads(r.body).get("purged")), (200, 1), "once: node-1 purged")
        eq(c.nodes[1].stats()["cache"]["objects"], 0, "nothing left on node-1")
        warm(1)
        before = c.origin.count(target)
        for node in (1, 2):
            request(c.nodes[node].port, method, target, {"Sfproxy-Peer": field})
            eq(c.nodes[node].stats()["cache"]["objects"], 1, "node-%d purged nothing" % node)
        eq(c.origin.count(target), before + 2, "both were ordinary POSTs, sent to the origin")
        eq([c.nodes[n].stats()["cluster"]["peer_replays"] for n in (1, 2)], [1, 0],
           "a replay at node-1, counted once; at node-2 it was not even addressed to it")
        errors = {e["id"]: e.get("error") for e in doc["peers"]}
        check("not signed" in (errors["node-1"] or ""),
              "the spy's unsigned answer to the fan-out is no answer: %r" % doc)


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


def test_a_purge_waiting_on_stalled_peers_holds_up_nothing_else():
    """A purge's fan-out asks every peer at once, within one deadline, on its own
    connection's thread: two peers that accept and never answer do not keep the admin
    listener's health check (what a load balancer polls) waiting, and both are named in
    the purge's answer (issue 19: one after another, on the listener's one thread, they
    held it for 5 s each)."""
    stalled = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # the kernel completes the handshake; nobody ever answers
        stalled.append(s)
    taken, heard = [], {}  # the stalled peers' connections, and what each was sent
    origin = Origin()
    port = free_port()
    peers = [{"id": "node-0", "url": "http://127.0.0.1:%d" % port}] + [
        {"id": "stall-%d" % i, "url": "http://127.0.0.1:%d" % s.getsockname()[1]}
        for i, s in enumerate(stalled)]
    p = Proxy(origin.url, {"listen": "127.0.0.1:%d" % port,
                           "cluster": {"self": "node-0", "peers": peers, "secret": SECRET}})
    try:
        result = {}

        def purge():
            result["r"] = request(p.admin_port, "POST", "/_sfproxy/purge?url=/anything")
            result["done"] = time.monotonic()
        t = threading.Thread(target=purge)
        t.start()
        # The purge is under way and waits on its peers: a stalled peer holds its request.
        # (Accepted here and read, never answered: to sfproxy, as stalled as before.)
        def a_peer_holds_the_purge():
            for s in select.select(stalled, [], [], 0)[0]:
                conn, _ = s.accept()
                conn.setblocking(False)
                taken.append(conn)
            for conn in taken:
                try:
                    heard[conn] = heard.get(conn, b"") + conn.recv(65536)
                except BlockingIOError:
                    pass
            return any(b"/_sfproxy/purge?" in got for got in heard.values())
        wait_for(a_peer_holds_the_purge, "the purge's request at a stalled peer")
        health = request(p.admin_port, "GET", "/_sfproxy/health")
        health_done = time.monotonic()
        eq(health.status, 200, "health answered")
        t.join(60 * MULT)
        # Not a speed: which came first. Behind the purge, health came with it (both after
        # the peers' 10 s); beside it, seconds before.
        check(result["done"] - health_done > 1.0,
              "health answered while the purge waited: %.1fs before it"
              % (result["done"] - health_done))
        doc = json.loads(result["r"].body)
        eq(sorted(e["id"] for e in doc["peers"] if e.get("error")), ["stall-0", "stall-1"],
           "both stalled peers named with why: %r" % doc)
    finally:
        p.stop()
        origin.stop()
        for s in stalled + taken:
            s.close()


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
        # A peer's answer is proven at its end, its last byte sent to the client then:
        # a request at once may still join that flight (COLLAPSED) as it is let go.
        wait_for(lambda: edge.stats()["flights_now"] == 0, "the edge's flight let go")
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
        # (A slice the owner fills after its client has what it asked for may still be on
        # its way: wait for the fetches to end, then read counts and ranges together.)
        wait_for(lambda: all(n.stats()["flights_now"] == 0 for n in c.nodes), "fetches ended")
        st = c.origin.stats()
        asked = st["ranges"][t]
        eq(len(asked), len(set(asked)), "no slice asked of the origin twice: %r" % asked)
        check({"bytes=%d-%d" % (i * s, (i + 1) * s - 1) for i in (1, 2)} <= set(asked),
              "the range's slices among them")
        eq(st["targets"][t], 1 + len(asked), "one whole fetch, the rest slices")
        before = c.origin.count(t)
        for node in (edge, third, owner):
            r = request(node.port, "GET", t, {"Range": "bytes=20000-40000"})
            eq((r.status, r.body), (206, whole.body[20000:40001]), "again")
        eq(c.origin.count(t), before, "the same ranges again: no origin request")
