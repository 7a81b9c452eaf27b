#!/usr/bin/env python3
"""run: the whole suite. Runs each cmocka unit binary in BUILD/tests, then every test_*
function of tests/integration/t*.py and r*.py against BUILD/sfproxy, and ends with the line
"N passed, N failed" that CI reads, whatever happened before it.

    run.py BUILD [unit|integration] [name-filter]

Integration files run in child processes, SF_TEST_JOBS at a time (default 2: each test
starts its own origin and sfproxy on ephemeral ports, so files do not share anything);
a file's lines are printed together when it ends. Every test has a deadline of
SF_TEST_DEADLINE seconds (default 180, times SF_TEST_TIMEOUT_MULT), a unit binary 300 s
(times the same): past it the test fails, and the run goes on. A file whose process hangs
past its tests' deadlines is killed after 1800 s (times the same) together with what it
started, and what it printed still counts.
The ten slowest tests are listed before the summary."""
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


def _descendants(pid):
    """The ids of the processes pid started, and theirs (from /proc: Linux)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
        children.setdefault(ppid, []).append(int(d))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _kill_tree(p):
    """Kills p and what it started: a hung integration file's origin and sfproxy would run
    on, orphaned. p is stopped first, so it starts nothing meanwhile and reaps none of its
    children: none of the ids found can be another process's by the time it is killed."""
    p.send_signal(signal.SIGSTOP)
    for pid in _descendants(p.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.kill()


def _communicate(args, timeout, **kw):
    """Runs args; returns (its stdout and stderr, its exit code, whether it was killed at
    timeout, with what it started)."""
    p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, errors="replace", **kw)
    try:
        out, err = p.communicate(timeout=timeout)
        return out + err, p.returncode, False
    except subprocess.TimeoutExpired:
        _kill_tree(p)
        out, err = p.communicate()  # everything it printed, before the kill too
        return out + err, p.returncode, True
    except BaseException:  # ^C (which a terminal sends to p too, but maybe not to all)
        _kill_tree(p)
        p.wait()
        raise


def run_unit(build, flt):
    passed = failed = 0
    tdir = os.path.join(build, "tests")
    for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        if not name.startswith("test_") or (flt and flt not in name):
            continue
        out, code, killed = _communicate([os.path.join(tdir, name)], 300 * MULT)
        if killed:
            out += "\n(killed after %.0f s)" % (300 * MULT)
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
    deadline = max(1, int(float(os.environ.get("SF_TEST_DEADLINE", "180")) * MULT))  # 0: none
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
        except KeyboardInterrupt:  # ^C ends the file (its servers are stopped on the way)
            print("FAIL %-50s %5.1fs (interrupted)" % (full, time.monotonic() - start),
                  flush=True)
            raise
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
    out, _, killed = _communicate([sys.executable, os.path.abspath(__file__), "--file", f, flt],
                                  1800 * MULT, env=env)
    if killed:
        out += "\nFAIL %-50s (killed after %.0f s, with what it had started)\n" % (
            f, 1800 * MULT)
    m = re.search(r"^RESULT (\d+) (\d+)$", out, re.M)
    if m is None:  # what it printed still counts, and so does its end
        if not killed:
            out += "FAIL %s: its process ended without a result\n" % f
        return (out, len(re.findall(r"^ok   ", out, re.M)),
                len(re.findall(r"^FAIL ", out, re.M)))
    out = out[:m.start()] + out[m.end() + 1:]
    return out, int(m.group(1)), int(m.group(2))


def run_integration(build, flt):
    files = sorted(f for f in os.listdir(IDIR) if re.match(r"[tr]\d+_.*\.py$", f))
    jobs = max(1, int(os.environ.get("SF_TEST_JOBS", "2")))
    passed = failed = 0
    timings = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = [pool.submit(_run_child, build, f, flt) for f in files]
        try:
            for r in results:  # in file order, each as a block
                out, p, f = r.result()
                sys.stdout.write(out)
                sys.stdout.flush()
                passed, failed = passed + p, failed + f
                timings += [(float(t), n) for n, t in
                            re.findall(r"^(?:ok  |FAIL) (\S+)\s+([\d.]+)s$", out, re.M)]
        except BaseException:  # ^C: no file starts after it (the running ones end on it)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
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
