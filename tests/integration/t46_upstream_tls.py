"""t46: an https:// upstream: its certificate checked against upstream_tls.ca_file (or not at
all with upstream_tls.verify false), and upstream_tls.sni naming the server when the
upstream URL is an address. Certificates are made here with openssl."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import Origin, Proxy, eq, request, wait_for


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
