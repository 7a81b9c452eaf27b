"""t70: the binary's config handling: exact messages on stderr, exit codes, overrides."""
import glob
import json
import os
import subprocess
import tempfile

from harness import BIN, ROOT, Proxy, Origin, eq, check, request, wait_for


def run(*args):
    p = subprocess.run([BIN, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def test_bad_configs_exact_messages_exit_2():
    files = sorted(glob.glob(os.path.join(ROOT, "tests/unit/configs/bad_*.json")))
    check(len(files) >= 10, "bad config fixtures found")
    for path in files:
        rel = os.path.relpath(path, ROOT)
        code, out, err = run("-c", rel, "--check-config")
        want = open(path[:-5] + ".expect").read().strip()
        eq(code, 2, "exit code for %s" % rel)
        eq(err.strip(), "sfproxy: " + want, "message for %s" % rel)


def test_good_configs_exit_0():
    for rel in ("conf/sfproxy.json", "conf/demo.json", "conf/pools-example.json"):
        code, out, err = run("-c", rel, "--check-config")
        eq(code, 0, "exit code for %s (stderr %r)" % (rel, err))
        eq(out.strip(), rel + ": ok", "output")


def test_print_config_shows_the_effective_config():
    code, out, err = run("-c", "conf/sfproxy.json", "--listen", "127.0.0.1:0", "--print-config")
    eq((code, err), (0, ""), "exit and stderr")
    printed = json.loads(out)
    eq(printed["listen"], "127.0.0.1:0", "the command line over the file")
    eq(printed["cache"]["max_bytes"], "256MiB", "the file's value")
    eq(printed["access_log"]["format"], "combined", "a default")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(out)
    try:
        code, again, _ = run("-c", f.name, "--print-config")
        eq((code, again), (0, out), "what it prints loads back to the same")
    finally:
        os.unlink(f.name)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"upstream": "http://127.0.0.1:1",
                   "admin": {"token": "a-secret-of-twenty-chars"}}, f)
    try:
        code, out, err = run("-c", f.name, "--print-config")
        eq(code, 0, "exit with a token")
        check("a-secret-of-twenty-chars" not in out, "the token is not printed")
        check("admin.token is set and not printed" in err, "and stderr says so: %r" % err)
    finally:
        os.unlink(f.name)


def test_upstream_names_a_pool():
    """--upstream takes a pool's name as "upstream" does; --print-config writes the name."""
    code, out, err = run("-c", "conf/pools-example.json", "--upstream", "static",
                         "--print-config")
    eq((code, err), (0, ""), "exit and stderr")
    printed = json.loads(out)
    eq(printed["upstream"], "static", "the pool's name, not its key base")
    eq(sorted(printed["upstreams"]), ["api", "static"], "the pools")
    eq(len(printed["upstreams"]["api"]["servers"]), 4, "api's servers")
    eq(printed["routes"][0]["upstream"], "static", "a route's pool")
    code, out, err = run("-c", "conf/pools-example.json", "--upstream", "http://127.0.0.1:1",
                         "--print-config")
    eq((code, json.loads(out)["upstream"]), (0, "http://127.0.0.1:1"), "a URL over a pool")
    code, _, err = run("-c", "conf/pools-example.json", "--upstream", "apx", "--check-config")
    eq(code, 2, "a name that is no pool")
    eq(err.strip(), 'sfproxy: --upstream "apx" is not a base URL, nor the name of a pool in '
       '"upstreams"; write e.g. http://127.0.0.1:9000, or a pool\'s name', "its message")


def test_usage_errors():
    eq(run("--bogus")[0], 2, "unknown argument")
    eq(run("--listen")[0], 2, "missing value")
    eq(run("--listen", "nope", "--upstream", "http://127.0.0.1:1", "--check-config")[0], 2,
       "bad --listen")
    eq(run("--upstream", "ftp://x", "--check-config")[0], 2, "bad --upstream")
    eq(run("--check-config")[0], 2, "no upstream and no forward proxy")
    code, out, _ = run("--version")
    eq(code, 0, "--version exit")
    check(out.startswith("sfproxy "), "--version output %r" % out)
    code, out, _ = run("--help")
    eq(code, 0, "--help exit")
    check("--check-config" in out, "--help lists the options")
    code, _, err = run("-c", "/no/such/file.json")
    eq(code, 2, "missing config file")
    check("cannot read" in err, "missing file message %r" % err)


def test_port_in_use_exit_1():
    o = Origin()
    try:
        p = Proxy(o.url)
        try:
            code, _, err = run("--listen", "127.0.0.1:%d" % p.port, "--upstream", o.url,
                               "--admin", "off")
            eq(code, 1, "exit code when the port is taken")
            check("cannot listen" in err, "message %r" % err)
        finally:
            p.stop()
    finally:
        o.stop()


def test_forward_proxy():
    o = Origin()
    try:
        p = Proxy(None, {"forward_proxy": {"allow": ["127.0.0.1"]}})
        try:
            url = "%s/fw?cc=max-age=60&size=10" % o.url
            a = request(p.port, "GET", url)
            eq(a.status, 200, "forward proxy status")
            eq(a.header("X-Cache"), "MISS", "first")
            wait_for(lambda: p.stats()["cache"]["objects"] == 1, "the store")
            eq(request(p.port, "GET", url).header("X-Cache"), "HIT", "second")
            eq(o.count("/fw?cc=max-age=60&size=10"), 1, "origin requests")
            eq(request(p.port, "GET", "/relative").status, 400, "origin-form without upstream")
            eq(request(p.port, "GET", "https://127.0.0.1:1/x").status, 400, "https target")
        finally:
            eq(p.stop(), 0, "exit code")
    finally:
        o.stop()
