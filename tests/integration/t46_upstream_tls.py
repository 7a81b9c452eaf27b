"""t46: an https:// upstream: its certificate checked against upstream_tls.ca_file (or not at
all with upstream_tls.verify false), and upstream_tls.sni naming the server when the
upstream URL is an address. Certificates are made here with openssl."""
import json

from harness import Certs, Origin, Proxy, eq, request, wait_for


def through(leaf, tls_config, target="/t?size=10&cc=max-age%3D60"):
    """Starts an HTTPS origin with leaf and sfproxy in front of it with tls_config; returns
    two responses to target (and the origin's URL)."""
    origin = Origin(tls=leaf)
    try:
        proxy = Proxy(origin.url, {"upstream_tls": tls_config} if tls_config else None)
        try:
            first = request(proxy.port, "GET", target)
            # Its client can have it a moment before the flight has ended (and stored it).
            wait_for(lambda: proxy.stats()["flights_now"] == 0, "the first flight ended")
            return [first, request(proxy.port, "GET", target)], origin.url
        finally:
            proxy.stop()
    finally:
        origin.stop()


def test_the_upstream_certificate_is_checked():
    with Certs() as certs:
        (a, b), _ = through(certs.both, {"ca_file": certs.ca})
        eq((a.status, len(a.body), a.header("X-Cache")), (200, 10, "MISS"), "with its CA")
        eq(b.header("X-Cache"), "HIT", "stored like any response")
        (a, _), _ = through(certs.both, None)
        eq(a.status, 502, "a certificate from a CA the system does not know")
        (a, _), _ = through(certs.both, {"verify": False})
        eq(a.status, 200, "upstream_tls.verify false: not checked")


def test_sni_names_the_server_of_an_address():
    with Certs() as certs:
        (a, _), _ = through(certs.named, {"ca_file": certs.ca})
        eq(a.status, 502, "a certificate for origin.test does not cover 127.0.0.1")
        (a, _), url = through(certs.named, {"ca_file": certs.ca, "sni": "origin.test"},
                              "/echo?echo=1")
        eq(a.status, 200, "with upstream_tls.sni")
        eq(a.header("X-Tls-Sni"), "origin.test", "the name the origin was sent in SNI")
        host = [v for k, v in json.loads(a.body)["headers"] if k.lower() == "host"]
        eq(host, ["origin.test:%s" % url.rsplit(":", 1)[1]], "and the Host it was sent")


def test_a_pools_tls_settings_reach_its_servers_and_their_probes():
    """A pool's "tls" (issue 21): its CA, and the SNI name its servers' addresses are
    fetched and probed by; the pool's "host" is the Host they are sent."""
    with Certs() as certs:
        origins = [Origin(tls=certs.named), Origin(tls=certs.named)]
        try:
            pool = {"servers": [{"url": o.url} for o in origins],
                    "health": {"path": "/t?size=1", "interval": "200ms", "timeout": "150ms",
                               "fall": 1, "rise": 1},
                    "tls": {"ca_file": certs.ca, "sni": "origin.test"}, "host": "api.internal"}
            proxy = Proxy(config={"upstreams": {"api": pool}, "upstream": "api"})
            try:
                # Probes over TLS pass: with the wrong name they would fail, and fall 1
                # would take each server down at its first check.
                wait_for(lambda: all(s["probes_ok"] >= 2 for s in
                                     proxy.stats()["upstreams"]["api"]["servers"].values()),
                         "two good checks of each server")
                for s in proxy.stats()["upstreams"]["api"]["servers"].values():
                    eq((s["state"], s["probes_failed"]), ("up", 0), "checked over TLS")
                for i in range(4):
                    a = request(proxy.port, "GET", "/echo?echo=1&i=%d" % i)
                    eq(a.status, 200, "fetched over TLS")
                    eq(a.header("X-Tls-Sni"), "origin.test", "the pool's SNI name")
                    host = [v for k, v in json.loads(a.body)["headers"] if k.lower() == "host"]
                    eq(host, ["api.internal"], "the pool's Host")
                got = [s["requests"] for s in proxy.stats()["upstreams"]["api"]["servers"].values()]
                eq(got, [2, 2], "round robin over both servers")
            finally:
                proxy.stop()
            pool["tls"] = {"sni": "origin.test"}  # without the CA: the system's, which fails
            proxy = Proxy(config={"upstreams": {"api": pool}, "upstream": "api"})
            try:
                eq(request(proxy.port, "GET", "/echo?echo=1").status, 502, "not its CA")
            finally:
                proxy.stop()
        finally:
            for o in origins:
                o.stop()
