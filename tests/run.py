#!/usr/bin/env python3
"""run: the whole suite. Runs each cmocka unit binary in BUILD/tests, then every test_*
function of tests/integration/t*.py and r*.py against BUILD/sfproxy, and ends with the line
"N passed, N failed" that CI reads, whatever happened before it.

    run.py BUILD [unit|integration] [name-filter]

Integration files run in child processes, SF_TEST_JOBS at a time (default 2: each test
starts its own origin and sfproxy on ephemeral ports, so files do not share anything);
a file's lines are printed together when it ends. Every test has a deadline of
SF_TEST_DEADLINE seconds (default 180, times SF_TEST_TIMEOUT_MULT), a unit binary 300 s
(times the same): past it the test fails, and the run goes on. The ten slowest tests are
listed before the summary."""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MULT = float(os.environ.get("SF_TEST_TIMEOUT_MULT", "1"))
IDIR = os.path.join(ROOT, "tests", "integration")


def run_unit(build, flt):
    passed = failed = 0
    tdir = os.path.join(build, "tests")
    for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        if not name.startswith("test_") or (flt and flt not in name):
            continue
        try:
            p = subprocess.run([os.path.join(tdir, name)], cwd=ROOT, capture_output=True,
                               text=True, timeout=300 * MULT)
            out, code = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out = "%s%s\n(killed after %.0f s)" % (e.stdout or "", e.stderr or "", 300 * MULT)
            code = -1
        ok = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
        bad = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
        if code != 0 and bad == 0:
            bad = 1
        passed += ok
        failed += bad
        print("unit %-28s %3d passed, %d failed" % (name, ok, bad), flush=True)
        if bad:
            print(out)
    return passed, failed


class Deadline(Exception):
    pass


def _on_alarm(signum, frame):
    raise Deadline("the test ran past its deadline (SF_TEST_DEADLINE)")


def run_file(f, flt):
    """In a child: runs the tests of one file, printing a line each; the exit code is the
    number of failures (capped), and the last line "RESULT passed failed"."""
    os.environ.setdefault("SF_BIN", os.path.join(ROOT, "build", "release", "sfproxy"))
    sys.path.insert(0, IDIR)
    passed = failed = 0
    spec = importlib.util.spec_from_file_location(f[:-3], os.path.join(IDIR, f))
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception:  # counted, so the summary line still comes and says so
        print("FAIL %-50s (the module did not load)" % f, flush=True)
        traceback.print_exc(file=sys.stdout)
        print("RESULT 0 1", flush=True)
        return
    deadline = int(float(os.environ.get("SF_TEST_DEADLINE", "180")) * MULT)
    signal.signal(signal.SIGALRM, _on_alarm)
    for name in [n for n in dir(mod) if n.startswith("test_")]:
        full = "%s.%s" % (f[:-3], name)
        if flt and flt not in full:
            continue
        start = time.monotonic()
        try:
            signal.alarm(deadline)
            try:
                getattr(mod, name)()
            finally:
                signal.alarm(0)
            passed += 1
            print("ok   %-50s %5.1fs" % (full, time.monotonic() - start), flush=True)
        except BaseException:
            failed += 1
            print("FAIL %-50s %5.1fs" % (full, time.monotonic() - start), flush=True)
            traceback.print_exc(file=sys.stdout)
    print("RESULT %d %d" % (passed, failed), flush=True)


def _run_child(build, f, flt):
    """Runs one file in a child process; returns (its output, passed, failed)."""
    env = dict(os.environ, SF_BIN=os.path.abspath(os.path.join(build, "sfproxy")),
               PYTHONUNBUFFERED="1")
    # The child's own deadlines end each test; this one only catches a child that hangs
    # outside them (at import, or in a cleanup).
    try:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--file", f, flt],
                           cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=1800 * MULT)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = "%s\nFAIL %-50s (the file's process was killed after %.0f s)\n" % (
            e.stdout or "", f, 1800 * MULT)
    m = re.search(r"^RESULT (\d+) (\d+)$", out, re.M)
    if m is None:
        return out + "FAIL %s: its process ended without a result\n" % f, 0, 1
    out = out[:m.start()] + out[m.end() + 1:]
    return out, int(m.group(1)), int(m.group(2))


def run_integration(build, flt):
    files = sorted(f for f in os.listdir(IDIR) if re.match(r"[tr]\d+_.*\.py$", f))
    jobs = max(1, int(os.environ.get("SF_TEST_JOBS", "2")))
    passed = failed = 0
    timings = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = [pool.submit(_run_child, build, f, flt) for f in files]
        for r in results:  # in file order, each as a block
            out, p, f = r.result()
            sys.stdout.write(out)
            sys.stdout.flush()
            passed, failed = passed + p, failed + f
            timings += [(float(t), n) for n, t in
                        re.findall(r"^(?:ok  |FAIL) (\S+)\s+([\d.]+)s$", out, re.M)]
    if timings:
        print("slowest:", ", ".join("%s %.1fs" % (n, t) for t, n in sorted(timings)[::-1][:10]))
    return passed, failed


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--file":
        run_file(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
        return 0
    build = sys.argv[1]
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    flt = sys.argv[3] if len(sys.argv) > 3 else ""
    passed = failed = 0
    try:
        if what in ("all", "unit"):
            p, f = run_unit(build, flt)
            passed, failed = passed + p, failed + f
        if what in ("all", "integration"):
            p, f = run_integration(build, flt)
            passed, failed = passed + p, failed + f
    except BaseException:  # the summary line still comes, and says so
        traceback.print_exc()
        failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
