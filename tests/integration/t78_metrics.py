"""t78: GET /metrics in the Prometheus text format, checked by promtool and scraped by a real
Prometheus server (Debian's, started here on 127.0.0.1); GET /_sfproxy/health."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

from harness import (Env, eq, check, parallel, request, wait_for, raw_connect, raw_get,
                     free_port)


def metrics(env):
    r = request(env.proxy.admin_port, "GET", "/metrics")
    eq(r.status, 200, "GET /metrics")
    eq(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8", "content type")
    return r.body.decode()


def sample(text, series):
    """The value of one series ('name{labels}' exactly as written), or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def collapse_five(env, t):
    """Five clients on one cold key: one fetch; returns how many attached to it."""
    res = parallel(5, lambda i: env.get(t))
    eq([r.status for r in res], [200] * 5, "statuses")
    eq(env.origin.count(t), 1, "one origin fetch")
    return sum(r.header("X-Cache") in ("MISS", "COLLAPSED") for r in res)


def test_metrics_pass_promtool_and_match_the_stats():
    with Env() as env:
        t = "/m?delay_ms=500&size=100&cc=max-age%3D60"
        attached = collapse_five(env, t)
        env.wait_stored()
        env.get(t)
        # A response's duration is observed when libmicrohttpd calls it complete, after
        # its last byte was sent (the client can have read it first), and the clients per
        # flight when the flight ends: wait for every connection and flight to be over.
        wait_for(lambda: env.proxy.stats()["connections_now"] == 0 and
                 env.proxy.stats()["flights_now"] == 0, "every request and flight over")
        text = metrics(env)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=30)
        eq((lint.returncode, lint.stdout + lint.stderr), (0, ""), "promtool check metrics")
        for family in re.findall(r"^# TYPE (\S+) ", text, re.M):
            check(re.search(r"^# HELP %s " % family, text, re.M), "HELP for %s" % family)
        st = env.proxy.stats()
        for series, want in (('sfproxy_requests_total{method="GET"}', st["requests"]["GET"]),
                             ('sfproxy_responses_total{cache="HIT"}', st["hits"]),
                             ('sfproxy_responses_total{cache="COLLAPSED"}', st["collapsed"]),
                             ("sfproxy_upstream_requests_total", st["upstream_requests"]),
                             ("sfproxy_cache_objects", st["cache"]["objects"]),
                             ('sfproxy_responses_by_status_total{class="2xx"}',
                              st["statuses"]["2xx"])):
            eq(sample(text, series), want, series)
        eq(st["statuses"]["2xx"], 6, "six 200s")
        # The flight served `attached` clients: one observation, in the bucket (2, 5].
        eq((sample(text, 'sfproxy_flight_clients_bucket{le="2"}'),
            sample(text, 'sfproxy_flight_clients_bucket{le="5"}'),
            sample(text, "sfproxy_flight_clients_sum")), (0, 1, attached), "clients per flight")
        eq(sample(text, 'sfproxy_collapsed_wait_seconds_count'), attached - 1, "followers")
        check(sample(text, 'sfproxy_collapsed_wait_seconds_bucket{le="0.25"}') == 0,
              "followers waited for the 500 ms origin")
        eq(sample(text, 'sfproxy_request_duration_seconds_count{cache="HIT"}'),
           st["hits"], "hit durations")
        check(sample(text, "sfproxy_upstream_first_byte_seconds_sum") >= 0.5, "origin's 500 ms")


def answers(port, path):
    """Whether Prometheus answers path with 200 yet (it is still starting while refused)."""
    try:
        return request(port, "GET", path).status == 200
    except OSError:
        return False


def query(port, expr):
    r = request(port, "GET", "/api/v1/query?query=" + urllib.parse.quote(expr))
    if r.status != 200:
        return None
    result = json.loads(r.body)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_a_real_prometheus_scrapes_it():
    check(shutil.which("prometheus"), "prometheus installed (scripts/deps.sh installs it)")
    with Env() as env:
        tmp = tempfile.mkdtemp(prefix="sfproxy-prom-")
        port = free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "scrape_configs:\n  - job_name: sfproxy\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                    % env.proxy.admin_port)
        prom = subprocess.Popen(["prometheus", "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: answers(port, "/-/ready"), "prometheus ready", timeout=30)
            t = "/scraped?delay_ms=500&size=100&cc=max-age%3D60"
            attached = collapse_five(env, t)
            wait_for(lambda: query(port, 'sfproxy_responses_total{cache="COLLAPSED"}')
                     == attached - 1, "the scraped COLLAPSED counter", timeout=30)
            wait_for(lambda: query(port, "sfproxy_upstream_requests_total") == 1,
                     "the scraped upstream counter", timeout=30)
            # Observed later than the counters (at the flight's end, and when each response
            # is complete): a scrape between them has the counters and not these.
            wait_for(lambda: query(port, "sfproxy_flight_clients_count") == 1,
                     "the scraped flight", timeout=30)
            wait_for(lambda: query(port, 'sfproxy_request_duration_seconds_count'
                                         '{cache="COLLAPSED"}') == attached - 1,
                     "the scraped followers' durations", timeout=30)
            median = query(port, "histogram_quantile(0.5, sfproxy_flight_clients_bucket)")
            check(median is not None and 2 < median <= 5,
                  "clients per flight's median from the histogram: %r" % median)
            slow = query(port, 'histogram_quantile(0.5, sum by (le) '
                               '(sfproxy_request_duration_seconds_bucket{cache="COLLAPSED"}))')
            check(slow is not None and 0.25 < slow <= 1, "followers' duration: %r" % slow)
            up = query(port, 'up{job="sfproxy"}')
            eq(up, 1, "the target is up")
        finally:
            prom.terminate()
            try:
                prom.wait(20)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
            shutil.rmtree(tmp, ignore_errors=True)


def test_health_turns_503_when_shutdown_begins():
    with Env({"timeouts": {"shutdown_grace": "20s"}}) as env:
        r = request(env.proxy.admin_port, "GET", "/_sfproxy/health")
        eq((r.status, r.body), (200, b"ok\n"), "while serving")
        t = "/held?hold=h78&size=10"
        s = raw_connect(env.proxy.port, raw_get(t))
        wait_for(lambda: env.origin.count(t) == 1, "a request in progress")
        env.proxy.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: request(env.proxy.admin_port, "GET", "/_sfproxy/health").status == 503,
                 "503 once shutdown began")
        env.origin.release("h78")
        s.close()
        eq(env.proxy.proc.wait(30), 0, "exit code")
