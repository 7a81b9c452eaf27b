"""t93: the disk tier's errors are clear (issue 22): a second sfproxy on a store in use
refuses to start and says so; --check-config fails on a place that cannot be written, or
has no room for cache.disk.max_bytes, and passes on a good one."""
import json
import os
import subprocess
import tempfile

from diskharness import DiskEnv, NO_DISK, disk_config
from harness import BIN, check, eq


def run(cfg, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        try:
            p = subprocess.run([BIN, "-c", f.name] + list(args), capture_output=True,
                               text=True, timeout=10)
        except subprocess.TimeoutExpired as e:  # it started, and runs: stopped by run()
            return None, "still running after 10 s: %s" % (e.output,)
        return p.returncode, p.stdout + p.stderr
    finally:
        os.unlink(f.name)


def base(path, max_bytes="32MiB"):
    cfg = {"listen": "127.0.0.1:0", "admin": {"listen": "127.0.0.1:0"},
           "upstream": "http://127.0.0.1:9"}
    cfg.update(disk_config(path, max_bytes))
    return cfg


def test_a_second_sfproxy_on_the_same_store_refuses_to_start():
    with DiskEnv() as env:
        code, out = run(base(env.dir))
        check(code not in (0, None), "the second sfproxy exited (code %s): %s" % (code, out))
        check("in use by another sfproxy (pid %d)" % env.proxy.proc.pid in out
              and env.dir in out, "its message names the path and the pid:\n" + out)
        eq(env.get("/x?cc=max-age=60").status, 200, "the first one goes on")


def test_check_config_checks_the_place():
    d = tempfile.mkdtemp(prefix="sfproxy-disk-check-")
    try:
        code, out = run(base(d), "--check-config")
        eq((code, out.strip().endswith(": ok")), (0, True), "a writable place: " + out)
        code, out = run(base(os.path.join(d, "new", "store-dir")), "--check-config")
        eq(code, 0, "a directory that can be made, parents and all: " + out)
        check(not os.path.exists(os.path.join(d, "new")), "--check-config made nothing")
        code, out = run(base("/proc/sfproxy-disk-test/store"), "--check-config")
        check(code == 2 and "cache.disk.path /proc/sfproxy-disk-test/store" in out and
              "cannot be made in /proc" in out, "an unwritable place:\n" + out)
        with open(os.path.join(d, "file"), "w") as f:
            f.write("x")
        code, out = run(base(os.path.join(d, "file", "store")), "--check-config")
        check(code == 2 and "cache.disk.path %s/file/store: Not a directory" % d in out,
              "a file on the way:\n" + out)
        os.unlink(os.path.join(d, "file"))
        code, out = run(base("/proc"), "--check-config")
        check(code == 2 and "cache.disk.path /proc: cannot write there" in out,
              "an unwritable directory:\n" + out)
        code, out = run(base(d, "1048576GiB"), "--check-config")
        check(code == 2 and "bytes free" in out and "cache.disk.max_bytes" in out,
              "no room for max_bytes:\n" + out)
        check(not NO_DISK, "SF_T93_NO_DISK: nothing was checked")
    finally:
        os.rmdir(d)


def test_a_reload_that_changes_cache_disk_needs_a_restart():
    with DiskEnv() as env:
        eq(env.get("/y?cc=max-age=60").header("X-Cache"), "MISS", "first request")
        env.wait_written(1)
        before = env.disk()
        cfg = json.loads(json.dumps(env.proxy.cfg))
        cfg["cache"]["disk"]["max_bytes"] = "64MiB"
        lines = env.proxy.reload(cfg)
        check(any("cache.disk needs a restart" in line for line in lines),
              "the reload says cache.disk needs a restart: %r" % lines)
        eq(env.disk()["log_bytes"], before["log_bytes"], "the store stays as it was")
        eq(env.get("/y?cc=max-age=60").header("X-Cache"), "HIT", "after the reload")
