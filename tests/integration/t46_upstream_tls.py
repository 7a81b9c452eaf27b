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
