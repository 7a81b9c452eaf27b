"""t93: responses that vary come back after a restart (issue 22): each variant is a hit for
the requests that select it, with its own body; a variant never stored is a miss.
Stale-while-revalidate never serves another variant's response; a response that stopped
varying is not hidden behind the old VARY record after a restart."""
import json
import threading
import time

from diskharness import DiskEnv
from harness import check, eq, wait_for

T = "/v?vary=Accept-Language&cc=max-age=3600&echo=1"


def lang(r):
    return dict((k.lower(), v) for k, v in json.loads(r.body)["headers"]).get("accept-language")


def test_variants_come_back_after_a_restart():
    with DiskEnv() as env:
        bodies = {}
        for value in ("en", "de", None):
            r = env.get(T, {"Accept-Language": value} if value else {})
            eq((r.header("X-Cache"), lang(r)), ("MISS", value), "first request for %s" % value)
            bodies[value] = r.body
        env.wait_written(4)  # three variants and the list of what they vary on
        env.restart()
        for value in ("de", "en", None, "en"):
            r = env.get(T, {"Accept-Language": value} if value else {})
            eq(r.header("X-Cache"), "HIT", "after restart, %s" % value)
            check(r.body == bodies[value], "the %s variant's body" % value)
            eq(r.header("Vary"), "Accept-Language", "Vary kept")
        eq(env.origin.count(T), 3, "origin requests: one per variant, before the restart")
        r = env.get(T, {"Accept-Language": "fr"})
        eq((r.header("X-Cache"), lang(r)), ("MISS", "fr"), "a variant never stored")
        eq(env.origin.count(T), 4, "origin requests")


def test_stale_while_revalidate_never_serves_another_variant():
    """After a restart memory has no vary marker: the first request's flight is listed
    under the URL's bare key, and a stale variant the disk gave it to revalidate must not
    be served (stale-while-revalidate) to a request for another variant (review #2)."""
    with DiskEnv() as env:
        t = ("/vswr?vary=Accept-Language&cc=max-age=1,stale-while-revalidate=600&echo=1"
             "&delay_ms=1500")
        for value in ("en", "de"):
            eq(lang(env.get(t, {"Accept-Language": value})), value, "first " + value)
        env.wait_written(3)
        env.restart()
        time.sleep(2.5)  # both variants stale on disk, within stale-while-revalidate
        out = {}
        th = threading.Thread(
            target=lambda: out.setdefault("en", env.get(t, {"Accept-Language": "en"})))
        th.start()
        time.sleep(0.4)  # en's flight is waiting on the slow origin
        de = env.get(t, {"Accept-Language": "de"})
        th.join()
        eq(lang(out["en"]), "en", "the en request gets the en variant")
        eq(lang(de), "de", "the de request gets the de variant, never en's")


class _SwitchingOrigin:
    """An origin whose /sv varies on Accept-Language (body "v1-<value>") until switched,
    then does not (body "v2")."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        varies = self.varies = [True]

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                body = ("v1-%s" % self.headers.get("Accept-Language")).encode() \
                    if varies[0] else b"v2"
                self.send_response(200)
                self.send_header("Cache-Control", "max-age=3600")
                if varies[0]:
                    self.send_header("Vary", "Accept-Language")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_a_response_that_stopped_varying_is_not_hidden_after_a_restart():
    """A key whose responses varied, then a response that does not vary stored over them:
    after a restart that newer response is served, never the old variant the key's old
    VARY record leads to (review #7)."""
    import shutil
    import tempfile
    from diskharness import disk_config
    from harness import Proxy, request
    origin = _SwitchingOrigin()
    d = tempfile.mkdtemp(prefix="sfproxy-disk-")
    proxy = None
    try:
        proxy = Proxy(origin.url, disk_config(d))
        en = {"Accept-Language": "en"}
        eq(request(proxy.port, "GET", "/sv", en).body, b"v1-en", "the variant, first")
        # Stored (and written: the VARY record and the variant) before the origin changes,
        # so that the no-cache request below cannot join the first one's flight.
        wait_for(lambda: proxy.stats()["disk"]["writes_queued"] == 0 and
                 proxy.stats()["disk"]["records"] >= 2, "the variant written")
        origin.varies[0] = False
        r = request(proxy.port, "GET", "/sv", dict(en, **{"Cache-Control": "no-cache"}))
        eq(r.body, b"v2", "the origin's response that does not vary")
        eq(request(proxy.port, "GET", "/sv", en).body, b"v2", "stored in memory")
        wait_for(lambda: proxy.stats()["disk"]["writes_queued"] == 0 and
                 proxy.stats()["disk"]["records"] >= 3, "written")
        eq(proxy.stop(), 0, "exit code")
        proxy = Proxy(origin.url, disk_config(d))
        r = request(proxy.port, "GET", "/sv", en)
        eq((r.header("X-Cache"), r.body), ("HIT", b"v2"), "after a restart, the newer response")
    finally:
        if proxy is not None:
            proxy.stop()
        origin.stop()
        shutil.rmtree(d, ignore_errors=True)
