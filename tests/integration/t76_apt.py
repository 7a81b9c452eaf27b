"""t76: apt through sfproxy in front of a Debian package mirror that sends no caching
fields (tests/origin/apt_mirror.py), with the routes of conf/apt-mirror.json (issue 20):
apt-get update and apt-get download of three packages, then the lists and .debs deleted
and both run again; the second run gets the same bytes and asks the mirror for no pool/
or by-hash/ file, in reverse-proxy and in forward-proxy mode. Real apt, everything of it
in a temporary directory."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import (BIN, MULT, ROOT, Proxy, TestFailure, _read_first_line, check, eq,
                     get_json, request)

APT_MIRROR = os.path.join(ROOT, "tests", "origin", "apt_mirror.py")
CONF = os.path.join(ROOT, "conf", "apt-mirror.json")
SUITE = "sftest"
PACKAGES = ["hello", "cowsay", "sl"]
LATER_S = 3600  # how much later the second run comes: by then the first's Age is not 0


class Mirror:
    """apt_mirror.py serving a repository it builds in root (as harness.Origin)."""

    def __init__(self, root):
        self.log = []
        self.proc = subprocess.Popen([sys.executable, APT_MIRROR, "--dir", root, "--suite",
                                      SUITE, "--packages", ",".join(PACKAGES)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = _read_first_line(self.proc, "origin listening on", 60, self.log)
        self.port = int(line.rsplit(":", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port
        self.root = os.path.join(root, "debian")

    def stats(self):
        return get_json(self.port, "/_origin/stats")

    def advance_clock(self, seconds):
        eq(request(self.port, "POST", "/_origin/clock?advance=%d" % seconds).status, 200,
           "the mirror's clock moved")

    def deb(self, name):
        """The bytes of the mirror's .deb of name."""
        pool = os.path.join(self.root, "pool", "main", name[0], name)
        (only,) = os.listdir(pool)
        with open(os.path.join(pool, only), "rb") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Apt:
    """apt-get with its sources, config, lists, cache and status in dir: nothing of the
    machine's apt is read or written. APT_CONFIG names a file of ours, read before any
    other: it points Dir::Etc::parts at an empty directory and Dir::Etc::main at nothing,
    so no apt.conf.d snippet of this machine (a proxy, a docker-clean hook) applies."""

    def __init__(self, dir, source, proxy_url=None):
        self.dir = dir
        for d in ("etc/apt.conf.d", "etc/preferences.d", "state/lists/partial",
                  "cache/archives/partial", "download"):
            os.makedirs(os.path.join(dir, d))
        self.path("status", text="")
        self.path("etc/sources.list", text="deb [trusted=yes] %s %s main\n" % (source, SUITE))
        opts = [
            ("Dir::Etc::parts", self.path("etc/apt.conf.d")),
            ("Dir::Etc::main", "/dev/null"),
            ("Dir::Etc::sourcelist", self.path("etc/sources.list")),
            ("Dir::Etc::sourceparts", "-"),
            ("Dir::Etc::preferences", "/dev/null"),
            ("Dir::Etc::preferencesparts", self.path("etc/preferences.d")),
            ("Dir::State", self.path("state")),
            ("Dir::State::lists", self.path("state/lists")),
            ("Dir::State::status", self.path("status")),
            ("Dir::Cache", self.path("cache")),
            ("Debug::NoLocking", "1"),
            ("APT::Sandbox::User", "root"),  # as root, no _apt: the directories are ours
            ("APT::Architecture", "amd64"),  # the mirror's, whatever this machine's
            ("APT::Architectures::", "amd64"),
            ("Acquire::Retries", "0"),  # a failure shows at once, not after a retry
            ("Acquire::http::Timeout", str(int(30 * MULT))),
            ("Acquire::Languages", "none"),
        ]
        if proxy_url:
            opts.append(("Acquire::http::Proxy", proxy_url))
        self.path("apt.conf", text="".join('%s "%s";\n' % kv for kv in opts))
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
                    "APT_CONFIG": self.path("apt.conf")}  # and no http_proxy, no_proxy

    def path(self, rel, text=None):
        p = os.path.join(self.dir, rel)
        if text is not None:
            with open(p, "w") as f:
                f.write(text)
        return p

    def run(self, *args):
        """Runs apt-get args; returns its output, failing the test on an error. Bounded
        below the test's deadline (SF_TEST_DEADLINE), so a hung apt shows its output."""
        cmd = ["apt-get", "-q"] + list(args)
        try:
            p = subprocess.run(cmd, cwd=self.path("download"), env=self.env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60 * MULT)
        except subprocess.TimeoutExpired as e:
            raise TestFailure("apt-get %s ran past %.0fs; its output:\n%s"
                              % (args[0], 60 * MULT, e.output))
        eq(p.returncode, 0, "exit code of apt-get %s (output:\n%s)" % (" ".join(args), p.stdout))
        check("Err:" not in p.stdout and "W: " not in p.stdout,
              "apt-get %s: no errors or warnings; its output:\n%s" % (args[0], p.stdout))
        return p.stdout

    def update_and_download(self):
        """apt-get update, then apt-get download of PACKAGES; returns {name: .deb bytes}."""
        self.run("update")
        self.run("download", *PACKAGES)
        got = {}
        for f in sorted(os.listdir(self.path("download"))):
            with open(self.path("download/" + f), "rb") as g:
                got[f.split("_")[0]] = g.read()
        return got

    def forget(self):
        """Deletes the lists, apt's package cache and the downloaded .debs: a second run
        starts as fresh as the first."""
        for rel in ("state/lists", "cache", "download"):
            d = self.path(rel)
            for f in os.listdir(d):
                if f != "partial":
                    p = os.path.join(d, f)
                    shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        eq(os.listdir(self.path("state/lists")), ["partial"], "the lists deleted")


def apt_runs():
    """Why apt cannot run here, or None."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return "apt-get or dpkg-deb is not installed (this is not Debian)"
    return None


def config(mirror, forward):
    """conf/apt-mirror.json for this mirror: its upstream the mirror (reverse mode), or
    (forward mode) no upstream, the forward proxy allowed to reach the mirror, and the
    routes matching on its host, as docs/routes.md's forward-proxy recipe says."""
    with open(CONF) as f:
        cfg = json.load(f)
    cfg["listen"] = "127.0.0.1:0"
    cfg["admin"] = {"listen": "127.0.0.1:0"}
    if not forward:
        cfg["upstream"] = mirror.url
        return cfg
    del cfg["upstream"]
    cfg["forward_proxy"] = {"allow": ["127.0.0.1:%d" % mirror.port]}
    cfg["routes"] = on_host(cfg["routes"], "127.0.0.1")
    return cfg


def on_host(routes, host):
    """routes, each matching on host too: the forward-proxy recipe's."""
    routes = copy.deepcopy(routes)
    for r in routes:
        r["match"]["host"] = host
    return routes


def explain(proxy, mirror, target):
    """The route sfproxy --explain gives target under the running proxy's config file."""
    url = target if "upstream" in proxy.cfg else mirror.url + target
    p = subprocess.run([BIN, "-c", proxy.cfgfile.name, "--explain", url], capture_output=True,
                       text=True, timeout=30 * MULT)
    eq(p.returncode, 0, "exit code of --explain %s (stderr %r)" % (url, p.stderr))
    return json.loads(p.stdout)["route"]


def immutable(targets):
    """Of {target: count}, the pool/ and by-hash/ files: what never changes once published."""
    return {t: n for t, n in targets.items() if "/pool/" in t or "/by-hash/" in t}


def twice_through(forward):
    """Runs apt twice through sfproxy in front of a fresh mirror (see the file's comment)."""
    why = apt_runs()
    if why:
        print("SKIP t76: %s" % why)
        return
    tmp = tempfile.mkdtemp(prefix="sfproxy-apt-")
    mirror = None
    try:
        mirror = Mirror(os.path.join(tmp, "mirror"))
        proxy = Proxy(None, config(mirror, forward))
        try:
            port = proxy.port
            if forward:
                apt = Apt(os.path.join(tmp, "apt"), mirror.url + "/debian",
                          "http://127.0.0.1:%d/" % port)
            else:
                apt = Apt(os.path.join(tmp, "apt"), "http://127.0.0.1:%d/debian" % port)
            check_twice(apt, mirror, proxy)
        except BaseException:
            proxy.stop()  # the first failure is the one to see
            raise
        eq(proxy.stop(), 0, "sfproxy's exit code (output:\n%s)" % proxy.output())
    finally:
        if mirror:
            mirror.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def check_twice(apt, mirror, proxy):
    want = {n: mirror.deb(n) for n in PACKAGES}
    first = apt.update_and_download()
    eq(sorted(first), sorted(PACKAGES), "the .debs of the first run")
    check(first == want, "the first run's .debs are the mirror's, byte for byte")
    after_first = mirror.stats()
    fetched = immutable(after_first["targets"])
    pool = [t for t in fetched if "/pool/" in t]
    eq(len(pool), len(PACKAGES), "the first run fetched every .deb from the mirror: %r" % fetched)
    check(any("/by-hash/SHA256/" in t for t in fetched),
          "the first run fetched an index by hash: %r" % after_first["targets"])
    eq(after_first["via"], after_first["total"],
       "every request of the first run came through sfproxy (with its Via)")
    for target in after_first["targets"]:
        want_route = "packages" if target in fetched else "indexes"
        eq(explain(proxy, mirror, target), want_route, "the route of " + target)
    # A later day's apt: what the first run stored is now an hour old. Without this, the
    # second run could pass by speed alone: apt asks for every index, by-hash ones too,
    # with Cache-Control: max-age=0, which a response stored in the same second (Age 0)
    # still satisfies (RFC 9111 §5.2.1.1).
    proxy.advance_clock(LATER_S)
    mirror.advance_clock(LATER_S)
    apt.forget()
    second = apt.update_and_download()
    check(second == want, "the second run's .debs are the same bytes: %r" %
          {n: len(b) for n, b in second.items()})
    end = mirror.stats()
    eq(end["via"], end["total"], "every request of the second run came through sfproxy")
    again = {t: n - after_first["targets"].get(t, 0) for t, n in immutable(end["targets"]).items()
             if n > after_first["targets"].get(t, 0)}
    eq({t: n for t, n in again.items() if "/pool/" in t}, {},
       "pool/ files the mirror was asked for again in the second run (route packages: "
       "force_ttl 30d)")
    # apt asks for indexes, by-hash ones too (not for .debs), with Cache-Control:
    # max-age=0; a cache that follows it to the letter (RFC 9111 §5.2.1.1) asks the mirror
    # again, which sends no validator to revalidate with. What the issue asks is no request.
    eq(again, {}, "by-hash/ indexes the mirror was asked for again in the second run (route "
       "packages: force_ttl 30d; apt asked with Cache-Control %r)"
       % {t: end["cache_control"].get(t) for t in again})


def test_apt_through_a_reverse_proxy_fetches_pool_and_by_hash_once():
    twice_through(forward=False)


def test_apt_through_a_forward_proxy_fetches_pool_and_by_hash_once():
    twice_through(forward=True)


def recipe(doc, title):
    """The first JSON block after the heading title in doc."""
    text = doc[doc.index("### " + title):]
    text = text[text.index("```json\n") + 8:]
    return text[:text.index("```")]


def test_the_config_is_the_documented_recipe():
    """conf/apt-mirror.json loads; docs/routes.md's apt recipe is that file, and its forward
    proxy recipe the routes this file's forward-proxy test runs with (on another host)."""
    p = subprocess.run([BIN, "-c", CONF, "--check-config"], capture_output=True, text=True,
                       timeout=30)
    eq((p.returncode, p.stdout.strip(), p.stderr), (0, CONF + ": ok", ""), "--check-config")
    with open(CONF) as f:
        conf = json.load(f)
    with open(os.path.join(ROOT, "docs", "routes.md")) as f:
        doc = f.read()
    eq(json.loads(recipe(doc, "A Debian package mirror for apt (reverse proxy)")), conf,
       "docs/routes.md's reverse-proxy apt recipe")
    eq(json.loads("[%s]" % recipe(doc, "The same mirror for apt as a forward proxy")),
       on_host(conf["routes"], "deb.debian.org"),
       "docs/routes.md's forward-proxy apt recipe")
