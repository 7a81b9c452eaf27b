"""t77: the access log: one line per request, in the combined and JSON formats, with the
cache outcome, the request id, and the upstream fields only where the request caused the
fetch; SIGUSR1 reopens the file after a rotation."""
import json
import os
import re
import signal
import tempfile
import time

from harness import Env, eq, check, parallel, wait_for, raw_connect, raw_get

COMBINED = re.compile(
    r'^(?P<client>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" '
    r'"(?P<ua>[^"]*)" cache=(?P<cache>\S+) rid=(?P<rid>\S+) first_byte=(?P<first_byte>\S+) '
    r'duration=(?P<duration>\S+) upstream_status=(?P<ustatus>\S+) upstream_ttfb=(?P<uttfb>\S+) '
    r'completed=(?P<completed>[01]) route=(?P<route>\S+) '
    r'upstream_tries=(?P<utries>\S+) upstream_addr=(?P<uaddr>\S+) tier=(?P<tier>\S+)$')


class LogFile:
    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="sfproxy-access-", suffix=".log")
        os.close(fd)

    def lines(self, path=None):
        with open(path or self.path) as f:
            return [l for l in f.read().split("\n") if l]

    def wait_lines(self, n, path=None):
        wait_for(lambda: len(self.lines(path)) >= n, "%d access log lines" % n)
        return self.lines(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in (self.path, self.path + ".1"):
            if os.path.exists(p):
                os.unlink(p)


def test_json_lines_say_who_led_and_who_followed():
    with LogFile() as log:
        with Env({"access_log": {"path": log.path, "format": "json"}}) as env:
            t = "/logged?delay_ms=400&size=3000&cc=max-age%3D60&hdr=X-Request-Id:from-origin"
            ids = ["client-%d" % i for i in range(5)]
            res = parallel(5, lambda i: env.get(t, {"X-Request-Id": ids[i],
                                                    "User-Agent": "t77 \"quoted\""}))
            eq(env.origin.count(t), 1, "one origin fetch")
            eq(sorted(r.header("X-Request-Id") for r in res), sorted(ids),
               "each client gets its own id back, not the origin's")
            env.wait_stored()
            hit = env.get(t)
            rid = hit.header("X-Request-Id")
            check(re.fullmatch(r"[0-9a-f]{32}", rid or ""), "a generated id: %r" % rid)
            lines = [json.loads(l) for l in log.wait_lines(6)]
            eq(len(lines), 6, "one line per request")
            by_id = {l["request_id"]: l for l in lines}
            eq(sorted(by_id), sorted(ids + [rid]), "ids in the log")
            led = [l for l in lines if l["cache"] == "MISS"]
            followed = [l for l in lines if l["cache"] == "COLLAPSED"]
            eq((len(led), len(followed)), (1, 4), "one leader, four followers")
            for l in lines:
                eq((l["method"], l["target"], l["version"], l["status"], l["bytes"]),
                   ("GET", t, "HTTP/1.1", 200, 3000), "request and response of %s" % l)
                eq(l["client"], "127.0.0.1", "client address")
                eq(l["completed"], True, "sent whole")
                check(l["duration"] >= l["first_byte"] >= 0, "times of %s" % l)
            eq(by_id[ids[0]]["user_agent"], 't77 "quoted"', "User-Agent escaped and read back")
            eq((led[0]["upstream_status"], "upstream_status" in followed[0]), (200, False),
               "the upstream fields are the leader's alone")
            check(led[0]["upstream_ttfb"] >= 0.4, "the origin took 400 ms: %s" % led[0])
            for l in followed:
                check(l["first_byte"] >= 0.3, "a follower waited for the head: %s" % l)
            eq((by_id[rid]["cache"], "upstream_status" in by_id[rid]), ("HIT", False),
               "the hit's line")
            eq((by_id[rid]["tier"], "tier" in led[0]), ("memory", False), "a hit's tier")


def test_the_request_id_goes_upstream_once():
    with LogFile() as log:
        with Env({"access_log": {"path": log.path, "format": "json"}}) as env:
            mine = env.get("/echo1?echo=1", {"X-Request-Id": "abc-123"})
            sent = [v for k, v in json.loads(mine.body)["headers"] if k.lower() == "x-request-id"]
            eq(sent, ["abc-123"], "the client's id, once")
            bad = env.get("/echo2?echo=1", {"X-Request-Id": "no spaces allowed"})
            sent = [v for k, v in json.loads(bad.body)["headers"] if k.lower() == "x-request-id"]
            eq(sent, [bad.header("X-Request-Id")], "a malformed id is replaced, not forwarded")
            check(re.fullmatch(r"[0-9a-f]{32}", sent[0]), "a generated id: %r" % sent)


def test_combined_format_and_reopen_on_sigusr1():
    with LogFile() as log:
        with Env({"access_log": {"path": log.path, "format": "combined"}}) as env:
            env.get("/c1?size=10", {"Referer": "http://example.com/"})
            env.get("/c1?size=10", {"Cache-Control": "no-store"}, method="HEAD")
            lines = log.wait_lines(2)
            m = [COMBINED.match(l) for l in lines]
            check(all(m), "combined lines parse: %r" % lines)
            eq((m[0]["request"], m[0]["status"], m[0]["bytes"], m[0]["referer"], m[0]["cache"]),
               ("GET /c1?size=10 HTTP/1.1", "200", "10", "http://example.com/", "MISS"),
               "the GET's line")
            eq((m[1]["request"], m[1]["bytes"], m[1]["cache"], m[1]["ustatus"]),
               ("HEAD /c1?size=10 HTTP/1.1", "0", "PASS", "200"), "the HEAD's line")
            eq((m[0]["tier"], m[1]["tier"]), ("-", "-"), "no tier: neither is a hit")
            os.rename(log.path, log.path + ".1")  # logrotate moves it away
            env.proxy.proc.send_signal(signal.SIGUSR1)
            wait_for(lambda: os.path.exists(log.path), "the log reopened at its path")
            env.get("/c2?size=5")
            eq(len(log.wait_lines(1)), 1, "the new file's line")
            eq(len(log.lines(log.path + ".1")), 2, "the old file kept its lines")
            # Counted just after the write that the file shows: wait for it, not for more.
            wait_for(lambda: env.proxy.stats()["access_log_lines"] >= 3, "3 lines counted")
            eq(env.proxy.stats()["access_log_lines"], 3, "lines counted")
            eq(env.proxy.stats()["access_log_dropped"], 0, "none dropped")


def test_a_client_that_leaves_early_is_logged_499():
    with LogFile() as log:
        with Env({"access_log": {"path": log.path, "format": "json"}}) as env:
            t = "/gone?hold=g1&size=10&cc=max-age%3D60"
            s = raw_connect(env.proxy.port, raw_get(t))
            wait_for(lambda: env.origin.count(t) == 1, "the fetch started")
            s.close()
            line = json.loads(log.wait_lines(1)[0])
            eq((line["status"], line["completed"], "first_byte" in line, line["cache"] if "cache"
                in line else None), (499, False, False, None), "the early leaver's line")
            env.origin.release("g1")


def test_a_head_refused_before_parsing_is_logged():
    with LogFile() as log:
        with Env({"access_log": {"path": log.path, "format": "json"}}) as env:
            s = raw_connect(env.proxy.port, b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            answer = s.recv(4096).decode("latin-1")
            s.close()
            check(answer.startswith("HTTP/1.1 400 "), "refused: %r" % answer[:40])
            rid = re.search(r"X-Request-Id: (\S+)", answer).group(1)
            line = json.loads(log.wait_lines(1)[0])
            eq((line["status"], line["request_id"], line["client"], "method" in line,
                line["completed"]), (400, rid, "127.0.0.1", False, True), "its line")
            eq(env.origin.stats()["total"], 0, "nothing forwarded")


def test_no_access_log():
    with Env({"access_log": {"path": None}}) as env:
        env.get("/quiet?size=1")
        env.get("/quiet?size=1")
        eq(env.proxy.stats()["access_log_lines"], 0, "nothing written")
        check("GET /quiet" not in env.proxy.output(), "nothing on standard output")
