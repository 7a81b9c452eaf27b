"""t60: every method is forwarded, never collapsed or cached; any status passes through;
hop-by-hop fields are dropped both ways."""
import json

from harness import Env, eq, check, parallel, raw_connect, read_response


def echo(r):
    return json.loads(r.body)


def test_unsafe_methods_pass_through_with_bodies():
    with Env() as env:
        for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGEX"):
            body = ("payload for %s" % m).encode()
            r = env.get("/m?echo=1", method=m, body=body,
                        headers={"Content-Type": "text/plain"})
            eq(r.status, 200, "%s status" % m)
            eq(r.header("X-Cache"), "PASS", "%s X-Cache" % m)
            e = echo(r)
            eq(e["method"], m, "method seen by origin")
            eq(e["body"], body.decode(), "%s body seen by origin" % m)
            hdrs = dict((k.lower(), v) for k, v in e["headers"])
            eq(hdrs.get("content-type"), "text/plain", "%s Content-Type" % m)
            eq(hdrs.get("content-length"), str(len(body)), "%s Content-Length" % m)


def test_post_is_never_collapsed():
    with Env() as env:
        t = "/post?delay_ms=300&cc=max-age=60"
        res = parallel(5, lambda i: env.get(t, method="POST", body=b"x"))
        eq(env.origin.count(t), 5, "origin requests for 5 POSTs")
        eq(len(set(r.body for r in res)), 5, "distinct bodies")
        eq(env.get(t).header("X-Cache"), "MISS", "a POST response is not stored for GET")


def test_no_body_methods_send_no_body():
    with Env() as env:
        e = echo(env.get("/d?echo=1", method="DELETE"))
        hdrs = dict((k.lower(), v) for k, v in e["headers"])
        check("content-length" not in hdrs and "content-type" not in hdrs,
              "no invented content fields: %r" % hdrs)
        check("accept" not in hdrs, "no invented Accept: %r" % hdrs)


def test_odd_statuses_pass_through():
    with Env() as env:
        for status in (201, 206, 299, 404, 418, 451, 500, 599):
            r = env.get("/s?status=%d&hdr=X-Test:%d" % (status, status))
            eq(r.status, status, "status")
            eq(r.header("X-Test"), str(status), "field with status %d" % status)
        # Outside 100-599 is not HTTP (RFC 9110 §15): a bad gateway answer.
        eq(env.get("/s?status=999").status, 502, "status 999 from the origin")


def test_hop_by_hop_dropped_both_ways():
    with Env() as env:
        r = env.get("/hop?echo=1&hdr=Connection:X-Secret&hdr=X-Secret:1&hdr=Keep-Alive:timeout=5"
                    "&hdr=X-Kept:yes",
                    headers={"Connection": "X-Private", "X-Private": "1", "TE": "trailers",
                             "X-End-To-End": "ok"})
        hdrs = dict((k.lower(), v) for k, v in echo(r)["headers"])
        check("x-private" not in hdrs and "te" not in hdrs, "request hop-by-hop dropped: %r" % hdrs)
        eq(hdrs.get("x-end-to-end"), "ok", "end-to-end request field kept")
        check(hdrs.get("via", "").endswith("1.1 sfproxy"), "Via added upstream: %r" % hdrs)
        eq(r.header("X-Secret"), None, "response field named by Connection dropped")
        eq(r.header("Keep-Alive"), None, "response Keep-Alive dropped")
        eq(r.header("X-Kept"), "yes", "end-to-end response field kept")


def test_via_is_appended_to_every_line_whole():
    # RFC 9110 §7.6.3: the Via lines a request came with go on whole, ours after them; a
    # long one is not cut short.
    with Env() as env:
        long = ", ".join("1.1 hop%d.example" % i for i in range(60))
        s = raw_connect(env.proxy.port, ("GET /via?echo=1 HTTP/1.1\r\nHost: x\r\n"
                                         "Via: 1.0 first\r\nVia: %s\r\nConnection: close"
                                         "\r\n\r\n" % long).encode())
        head, body = read_response(s)
        s.close()
        check(head.startswith(b"HTTP/1.1 200"), "answered: %r" % head[:40])
        hdrs = dict((k.lower(), v) for k, v in json.loads(body)["headers"])
        eq(hdrs.get("via"), "1.0 first, %s, 1.1 sfproxy" % long, "every Via line, then ours")


def test_conditionals_do_not_shape_shared_fetch():
    with Env() as env:
        r = env.get("/cond?echo=1&cc=max-age=60", headers={"If-None-Match": '"x"',
                                                            "Range": "bytes=0-1"})
        eq((r.status, len(r.body)), (206, 2), "the client's range of the shared response")
        env.wait_stored()
        r = env.get("/cond?echo=1&cc=max-age=60")
        hdrs = dict((k.lower(), v) for k, v in echo(r)["headers"])
        check("if-none-match" not in hdrs and "range" not in hdrs,
              "one client's validators/range are not sent on a shared fetch: %r" % hdrs)
        eq(r.status, 200, "full response")


def test_max_forwards_zero_is_answered_here():
    # RFC 9110 §7.6.2: with Max-Forwards: 0 this proxy is the final recipient of a TRACE or
    # OPTIONS; nothing of it, the Cookie a TRACE would echo least of all, reaches the origin.
    with Env() as env:
        before = env.origin.stats()["total"]
        r = env.get("/tr?echo=1", method="TRACE",
                    headers={"Max-Forwards": "0", "Cookie": "session=secret"})
        eq(r.status, 501, "TRACE with Max-Forwards: 0")
        check(b"secret" not in r.body, "the TRACE answer echoes nothing: %r" % r.body)
        r = env.get("/op?echo=1", method="OPTIONS", headers={"Max-Forwards": "0"})
        eq((r.status, r.body, r.header("Content-Length")), (200, b"", "0"),
           "OPTIONS with Max-Forwards: 0")
        r = env.get("*", method="OPTIONS", headers={"Max-Forwards": "0"})
        eq(r.status, 200, "OPTIONS * with Max-Forwards: 0")
        r = env.get("/op?echo=1", method="OPTIONS", headers={"Max-Forwards": "0"},
                    body=b"some content")
        eq(r.status, 200, "OPTIONS with content and Max-Forwards: 0")
        for bad in ("-1", "1, 2", "x"):
            for m in ("TRACE", "OPTIONS"):
                r = env.get("/bad?echo=1", method=m, headers={"Max-Forwards": bad})
                eq(r.status, 400, "%s with Max-Forwards: %s" % (m, bad))
        eq(env.origin.stats()["total"], before, "requests that reached the origin")
        eq(env.get("/after?echo=1").status, 200, "an ordinary request after them")


def test_max_forwards_is_decremented():
    with Env() as env:
        for m in ("TRACE", "OPTIONS"):
            r = env.get("/mf?echo=1", method=m, headers={"Max-Forwards": "3"})
            eq(r.status, 200, "%s status" % m)
            hdrs = dict((k.lower(), v) for k, v in echo(r)["headers"])
            eq(hdrs.get("max-forwards"), "2", "%s Max-Forwards at the origin" % m)
        # Other methods may ignore it (§7.6.2): it goes on as sent.
        hdrs = dict((k.lower(), v) for k, v in
                    echo(env.get("/mfg?echo=1", headers={"Max-Forwards": "0"}))["headers"])
        eq(hdrs.get("max-forwards"), "0", "GET's Max-Forwards at the origin")
        r = env.get("/tr2?echo=1", method="TRACE")
        eq((r.status, echo(r)["method"]), (200, "TRACE"), "a TRACE without Max-Forwards")
