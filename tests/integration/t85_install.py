"""t85: make install and uninstall into a DESTDIR: what goes where, an operator's config
never overwritten or removed, the unit's paths following PREFIX, and manual pages that
render without a warning."""
import os
import shutil
import subprocess
import tempfile

from harness import ROOT, BIN, eq, check


def make(*args):
    """make in the tree, for the build the tests run (build/VARIANT/sfproxy)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    variant = os.path.basename(os.path.dirname(BIN))
    p = subprocess.run(["make", "-s", "VARIANT=" + variant, *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    eq(p.returncode, 0, "make %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


def render(page):
    """man -l with groff's warnings on; returns what it said on stderr."""
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, MANWIDTH="80"))
    eq(p.returncode, 0, "man -l %s" % page)
    check(len(p.stdout) > 1000, "%s rendered" % page)
    return p.stderr, p.stdout


def test_install_and_uninstall():
    dest = tempfile.mkdtemp(prefix="sfproxy-dest-")
    try:
        make("install", "DESTDIR=" + dest, "PREFIX=/opt/sfproxy")
        at = lambda p: os.path.join(dest, p.lstrip("/"))
        binary = at("/opt/sfproxy/bin/sfproxy")
        check(os.access(binary, os.X_OK), "the binary")
        eq(open(binary, "rb").read(), open(BIN, "rb").read(), "the release binary")
        unit = open(at("/opt/sfproxy/lib/systemd/system/sfproxy.service")).read()
        check("ExecStart=/opt/sfproxy/bin/sfproxy -c /etc/sfproxy/sfproxy.json\n" in unit,
              "the unit runs the installed binary")
        check("ExecReload=/bin/kill -HUP $MAINPID\n" in unit, "the unit reloads with SIGHUP")
        check("ExecReload=/opt/sfproxy/bin/sfproxy -c /etc/sfproxy/sfproxy.json --check-config\n"
              in unit, "after checking the file")
        for line in ("DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "LimitNOFILE=65536", "LogsDirectory=sfproxy"):
            check(line in unit, "the unit has %s" % line)
        config = at("/etc/sfproxy/sfproxy.json")
        eq(open(config).read(), open(os.path.join(ROOT, "conf/sfproxy.json")).read(), "config")
        p = subprocess.run([binary, "-c", config, "--check-config"], capture_output=True)
        eq(p.returncode, 0, "the installed config is valid")
        check(os.path.exists(at("/etc/logrotate.d/sfproxy")), "the logrotate file")
        for page in ("man8/sfproxy.8", "man5/sfproxy.json.5"):
            warnings, text = render(at("/opt/sfproxy/share/man/" + page))
            eq(warnings, "", "groff's warnings for %s" % page)
        _, text = render(at("/opt/sfproxy/share/man/man5/sfproxy.json.5"))
        check("cache.max_object_bytes" in text and "access_log.format" in text,
              "sfproxy.json(5) lists the keys")

        with open(config, "a") as f:
            f.write("\n")  # the operator's edit
        out = make("install", "DESTDIR=" + dest, "PREFIX=/opt/sfproxy")
        check("keeping the existing" in out, "install says it keeps the config: %r" % out)
        eq(open(config).read().endswith("}\n\n"), True, "the edited config is untouched")

        make("uninstall", "DESTDIR=" + dest, "PREFIX=/opt/sfproxy")
        left = sorted(os.path.relpath(os.path.join(d, f), dest)
                      for d, _, fs in os.walk(dest) for f in fs)
        eq(left, ["etc/sfproxy/sfproxy.json"], "uninstall leaves only the edited config")
        os.unlink(config)
        make("install", "DESTDIR=" + dest)
        make("uninstall", "DESTDIR=" + dest)
        left = [f for _, _, fs in os.walk(dest) for f in fs]
        eq(left, [], "an unedited install is removed whole")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_groff_warnings_are_seen():
    # The check above can fail: a page with a bad request makes groff warn.
    with tempfile.NamedTemporaryFile("w", suffix=".8", delete=False) as f:
        f.write(".TH X 8\n.SH NAME\nx \\- y\n.XYZ bad\n" + "word " * 300 + "\n")
    try:
        p = subprocess.run(["man", "--warnings", "-l", f.name], capture_output=True, text=True,
                           timeout=60)
        check(p.stderr != "", "groff warned about .XYZ")
    finally:
        os.unlink(f.name)
