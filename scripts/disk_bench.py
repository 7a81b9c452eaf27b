#!/usr/bin/env python3
"""disk_bench: the disk tier's promises (issue 22) measured on the real binary.

  scripts/disk_bench.py [path/to/sfproxy]

1. Restart: DISK_RECORDS responses (default 1,000,000) of 1-64 KiB (log-uniform, so about
   15 KiB on average: ~15 GB at a million) are fetched through sfproxy with a small memory
   cache and a disk tier (DISK_DIR, default /var/tmp/sfproxy-disk-bench, removed after),
   which writes them; sfproxy is stopped with SIGTERM and started again. It prints how long
   the stop and the start took, when the first hit was served after the start, and then
   asks for every key: how many the origin saw again (the promise: none), and how many
   bodies differ from the origin's (every length is checked; every byte of DISK_VERIFY of
   them, default 20,000 chosen at random).
2. kill -9: DISK_RECORDS / 10 new keys are fetched and sfproxy is killed (SIGKILL) while
   they are being written; started again, every one of them is asked for and each body
   compared whole with the origin's: how many came from the disk, how many the origin
   served again (the queued ones), and how many were wrong (the promise: none).
3. Hits at 64 KiB (wrk, the same run): memory hits without a disk tier, memory hits with
   one, and disk hits (a key set 16x the memory cache, asked at random): req/s and ratios.
4. Zipf: a working set 10x cache.max_bytes and within the disk's, asked in a Zipf(0.9)
   order: origin fetches against the distinct keys asked (the promise: equal).

The clients are curl (parallel, 32 transfers) and wrk; the origin is
tests/origin/trace_origin.py, each key's body its own bytes (&u=1). Not part of make
test; no test asserts a speed. A JSON line per phase goes to build/disk_bench.jsonl.
DISK_RECORDS=100000 takes a few minutes; the million about half an hour on 2 cores."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "origin"))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                      os.path.join(ROOT, "build", "release", "sfproxy"))
os.environ["SF_BIN"] = BIN
from harness import Origin, Proxy, wait_for  # noqa: E402
from trace_origin import unique_body  # noqa: E402

RECORDS = int(os.environ.get("DISK_RECORDS", "1000000"))
VERIFY = int(os.environ.get("DISK_VERIFY", "20000"))
DIR = os.environ.get("DISK_DIR", "/var/tmp/sfproxy-disk-bench")
MEM_BYTES = int(os.environ.get("DISK_MEM_BYTES", str(256 << 20)))
JSON_OUT = os.environ.get("BENCH_JSON", os.path.join(ROOT, "build", "disk_bench.jsonl"))
TRACE_ORIGIN = os.path.join(ROOT, "tests", "origin", "trace_origin.py")
WRK_SECONDS = os.environ.get("DISK_WRK_SECONDS", "5")


def size_of(key):
    """1 KiB .. 64 KiB, log-uniform, the same for a key in every run."""
    return int(1024 * 2 ** (6 * random.Random(key).random()))


def target(key, size):
    return "/k/%d?s=%d&u=1" % (key, size)


def record(row):
    print("  " + json.dumps(row))
    os.makedirs(os.path.dirname(JSON_OUT), exist_ok=True)
    with open(JSON_OUT, "a") as f:
        f.write(json.dumps(dict(row, time=time.strftime("%Y-%m-%dT%H:%M:%S"))) + "\n")


def curl_all(port, keys):
    """Asks for every key (curl, 32 in parallel): {key: (status, length, X-Cache)}."""
    with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as f:
        for k in keys:
            f.write('url = "http://127.0.0.1:%d%s"\noutput = "/dev/null"\n'
                    % (port, target(k, size_of(k))))
        name = f.name
    try:
        out = subprocess.run(["curl", "-s", "-Z", "--parallel-max", "32", "-K", name, "-w",
                              "%{url_effective} %{http_code} %{size_download} "
                              "%header{x-cache}\\n"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             check=False).stdout
    finally:
        os.unlink(name)
    got = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        key = int(words[0].split("/k/")[1].split("?")[0])
        got[key] = (int(words[1]), int(words[2]), words[3] if len(words) > 3 else "")
    return got


def body_of(port, key, size=None):
    url = "http://127.0.0.1:%d%s" % (port, target(key, size_of(key) if size is None else size))
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read(), r.headers.get("X-Cache", "")


def wrong_bodies(port, keys):
    """How many of keys sfproxy answers with bytes other than the origin's, and the
    X-Cache values seen."""
    wrong, seen = 0, {}
    for k in keys:
        body, xcache = body_of(port, k)
        seen[xcache] = seen.get(xcache, 0) + 1
        if body != unique_body(target(k, size_of(k)), size_of(k)):
            wrong += 1
    return wrong, seen


def disk_stats(proxy):
    return proxy.stats().get("disk", {})


def disk_config(mem_bytes, disk_bytes, path=DIR):
    return {"access_log": {"path": None}, "log_level": "info",
            "cache": {"max_bytes": mem_bytes, "max_object_bytes": 1 << 20,
                      "disk": {"path": path, "max_bytes": disk_bytes}}}


def drained(proxy):
    d = disk_stats(proxy)
    return d.get("writes_queued", 1) == 0


def start_timed(origin, cfg, probe_key):
    """Starts sfproxy; (proxy, seconds to its listening line, seconds to the first HIT of
    probe_key, the disk's own load_ms)."""
    t0 = time.monotonic()
    proxy = Proxy(origin.url, cfg, test_clock=False)
    listening = time.monotonic() - t0
    while True:
        _, xcache = body_of(proxy.port, probe_key)
        if xcache.startswith("HIT"):
            break
        if time.monotonic() - t0 > 60:
            sys.exit("disk_bench: no hit for key %d within 60 s of the start" % probe_key)
        time.sleep(0.01)
    return proxy, listening, time.monotonic() - t0, disk_stats(proxy).get("load_ms")


def stop_timed(proxy, sig=signal.SIGTERM):
    t0 = time.monotonic()
    proxy.proc.send_signal(sig)
    proxy.proc.wait(timeout=300)
    return time.monotonic() - t0


def restart_phase(origin):
    keys = list(range(RECORDS))
    body_bytes = sum(size_of(k) for k in keys)
    disk_bytes = int(body_bytes * 1.25) + (1 << 30)
    cfg = disk_config(MEM_BYTES, disk_bytes)
    print("disk_bench: %d responses, %.1f GiB of bodies; cache.max_bytes %d MiB, "
          "cache.disk.max_bytes %.1f GiB at %s"
          % (RECORDS, body_bytes / 2**30, MEM_BYTES >> 20, disk_bytes / 2**30, DIR))
    proxy = Proxy(origin.url, cfg, test_clock=False)
    t0 = time.monotonic()
    got = curl_all(proxy.port, keys)
    fill_s = time.monotonic() - t0
    bad = sum(1 for k in keys if got.get(k, (0, 0))[:2] != (200, size_of(k)))
    wait_for(lambda: drained(proxy), "the disk writer's queue to drain", 600)
    d = disk_stats(proxy)
    print("  filled in %.0f s (%.0f req/s), %d bad answers; disk: %s"
          % (fill_s, RECORDS / fill_s, bad, json.dumps(d)))
    stop_s = stop_timed(proxy)
    before = origin.stats()["total"]
    proxy, listening_s, first_hit_s, load_ms = start_timed(origin, cfg, keys[-1])
    try:
        t0 = time.monotonic()
        got = curl_all(proxy.port, keys)
        verify_s = time.monotonic() - t0
        refetched = origin.stats()["total"] - before
        wrong_len = sum(1 for k in keys if got.get(k, (0, 0))[:2] != (200, size_of(k)))
        xcache = {}
        for v in got.values():
            xcache[v[2]] = xcache.get(v[2], 0) + 1
        sample = random.Random(7).sample(keys, min(VERIFY, len(keys)))
        wrong, _ = wrong_bodies(proxy.port, sample)
        record(dict(scenario="disk_restart", records=RECORDS, body_gib=body_bytes / 2**30,
                    fill_req_s=RECORDS / fill_s, writes_dropped=d.get("writes_dropped"),
                    stop_s=stop_s, listening_s=listening_s, first_hit_s=first_hit_s,
                    load_ms=load_ms, verify_req_s=RECORDS / verify_s,
                    origin_refetches=refetched, wrong_status_or_length=wrong_len,
                    xcache=xcache, bodies_checked=len(sample), bodies_wrong=wrong))
        return proxy, cfg, disk_bytes
    except BaseException:
        proxy.stop()
        raise


def kill_phase(origin, proxy, cfg):
    count = max(RECORDS // 10, 1000)
    keys = list(range(RECORDS, RECORDS + count))
    with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as f:
        for k in keys:
            f.write('url = "http://127.0.0.1:%d%s"\noutput = "/dev/null"\n'
                    % (proxy.port, target(k, size_of(k))))
        name = f.name
    before = origin.stats()["total"]
    fill = subprocess.Popen(["curl", "-s", "-Z", "--parallel-max", "32", "-K", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: origin.stats()["total"] - before >= count // 2, "half the new keys", 600)
    d = disk_stats(proxy)
    stop_timed(proxy, signal.SIGKILL)
    fill.kill()
    fill.wait()
    os.unlink(name)
    fetched = origin.stats()["total"] - before
    proxy, listening_s, _, load_ms = start_timed(origin, cfg, 0)
    try:
        before = origin.stats()["total"]
        asked = keys[:fetched]
        wrong, seen = wrong_bodies(proxy.port, asked)
        record(dict(scenario="disk_kill9", fetched_before_kill=fetched,
                    queued_at_kill=d.get("writes_queued"), listening_s=listening_s,
                    load_ms=load_ms, asked=len(asked),
                    origin_refetches=origin.stats()["total"] - before, xcache=seen,
                    bodies_wrong=wrong))
    finally:
        proxy.stop()


def wrk(port, keys, seconds=WRK_SECONDS):
    """wrk -t2 -c16 over keys (64 KiB each) in random order: req/s."""
    script = ("local keys = {%s}\nmath.randomseed(os.time())\n"
              "request = function()\n"
              "  return wrk.format('GET', '/k/' .. keys[math.random(#keys)] .. "
              "'?s=65536&u=1')\nend\n" % ",".join(str(k) for k in keys))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        name = f.name
    try:
        out = subprocess.run(["wrk", "-t2", "-c16", "-d" + str(seconds) + "s", "-s", name,
                              "http://127.0.0.1:%d/" % port], stdout=subprocess.PIPE,
                             text=True, check=True).stdout
    finally:
        os.unlink(name)
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    sys.exit("disk_bench: wrk printed no Requests/sec:\n" + out)


def warm(port, keys):
    for k in keys:
        body, _ = body_of(port, k, 65536)
        if len(body) != 65536:
            sys.exit("disk_bench: key %d answered %d bytes, not 65536" % (k, len(body)))


def hits_phase(origin):
    """Both proxies run at once and the rounds alternate (plain memory, memory with the disk
    tier, disk), so that the shared machine's load falls on each alike; medians of
    DISK_ROUNDS rounds."""
    mem = 32 << 20
    hot = list(range(10_000_000, 10_000_100))         # 6.25 MiB: memory hits
    cold = list(range(11_000_000, 11_000_000 + 8192))  # 512 MiB: 16x memory
    rounds = int(os.environ.get("DISK_ROUNDS", "3"))
    path = tempfile.mkdtemp(prefix="sfproxy-disk-hits-", dir="/var/tmp")
    plain = Proxy(origin.url, {"access_log": {"path": None},
                               "cache": {"max_bytes": mem}}, test_clock=False)
    tiered = None
    try:
        tiered = Proxy(origin.url, disk_config(mem, 2 << 30, path), test_clock=False)
        for _ in range(3):  # asked again: into the memory cache's main queue, not just its small
            warm(plain.port, hot)
        warm(tiered.port, cold)
        for _ in range(3):
            warm(tiered.port, hot)
        wait_for(lambda: drained(tiered), "the disk writer's queue to drain", 120)
        runs = {"memory_no_disk": [], "memory_with_disk": [], "disk": []}
        hits = asked = 0
        for _ in range(rounds):
            runs["memory_no_disk"].append(wrk(plain.port, hot))
            runs["memory_with_disk"].append(wrk(tiered.port, hot))
            before = tiered.stats()
            runs["disk"].append(wrk(tiered.port, cold))
            after = tiered.stats()
            hits += after["disk"]["hits"] - before["disk"]["hits"]
            asked += after["requests"]["GET"] - before["requests"]["GET"]
            for _ in range(3):  # the disk round pushed the hot keys out of memory
                warm(tiered.port, hot)
    finally:
        plain.stop()
        if tiered is not None:
            tiered.stop()
        shutil.rmtree(path, ignore_errors=True)
    med = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
    record(dict(scenario="disk_hits_64k", rounds=rounds,
                **{k + "_req_s": v for k, v in med.items()},
                disk_over_memory=med["disk"] / med["memory_with_disk"],
                memory_with_over_without=med["memory_with_disk"] / med["memory_no_disk"],
                per_round=runs, disk_hits=hits, requests=asked))


def zipf_phase(origin):
    mem = 16 << 20
    nkeys, nreq = 20000, 200000
    rng = random.Random(22)
    weights = [1 / (i + 1) ** 0.9 for i in range(nkeys)]
    asked = [30_000_000 + k for k in rng.choices(range(nkeys), weights, k=nreq)]
    distinct = set(asked)
    footprint = sum(size_of(k) for k in distinct)
    path = tempfile.mkdtemp(prefix="sfproxy-disk-zipf-", dir="/var/tmp")
    proxy = Proxy(origin.url, disk_config(mem, footprint * 2 + (256 << 20), path),
                  test_clock=False)
    try:
        before = origin.stats()["total"]
        with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as f:
            for k in asked:
                f.write('url = "http://127.0.0.1:%d%s"\noutput = "/dev/null"\n'
                        % (proxy.port, target(k, size_of(k))))
            name = f.name
        subprocess.run(["curl", "-s", "-Z", "--parallel-max", "8", "-K", name],
                       stderr=subprocess.DEVNULL, check=False)
        os.unlink(name)
        fetched = origin.stats()["total"] - before
        st = proxy.stats()
        print("  disk: %s" % json.dumps(st.get("disk")))
    finally:
        proxy.stop()
        shutil.rmtree(path, ignore_errors=True)
    record(dict(scenario="disk_zipf", requests=nreq, distinct=len(distinct),
                footprint_over_memory=footprint / mem, origin_fetches=fetched,
                fetches_over_distinct=fetched / len(distinct),
                disk_hits=st.get("disk", {}).get("hits")))


def main():
    if not os.path.exists(BIN):
        sys.exit("disk_bench: %s not found; run make first" % BIN)
    for tool in ("curl", "wrk"):
        if shutil.which(tool) is None:
            sys.exit("disk_bench: %s is needed" % tool)
    shutil.rmtree(DIR, ignore_errors=True)
    origin = Origin(TRACE_ORIGIN)
    try:
        only = os.environ.get("DISK_ONLY", "restart,kill,hits,zipf").split(",")
        if "restart" in only:
            proxy, cfg, _ = restart_phase(origin)
            if "kill" in only:
                kill_phase(origin, proxy, cfg)
            else:
                proxy.stop()
        if "hits" in only:
            hits_phase(origin)
        if "zipf" in only:
            zipf_phase(origin)
    finally:
        origin.stop()
        shutil.rmtree(DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
