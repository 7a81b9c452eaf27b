#!/usr/bin/env python3
"""run: the whole suite. Runs each cmocka unit binary in BUILD/tests, then every test_*
function of tests/integration/t*.py and r*.py against BUILD/sfproxy, and ends with the line
"N passed, N failed" that CI reads. Usage: run.py BUILD [unit|integration] [name-filter]"""
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_unit(build, flt):
    passed = failed = 0
    tdir = os.path.join(build, "tests")
    for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        if not name.startswith("test_") or (flt and flt not in name):
            continue
        p = subprocess.run([os.path.join(tdir, name)], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
        out = p.stdout + p.stderr
        ok = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
        bad = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
        if p.returncode != 0 and bad == 0:
            bad = 1
        passed += ok
        failed += bad
        print("unit %-28s %3d passed, %d failed" % (name, ok, bad), flush=True)
        if bad:
            print(out)
    return passed, failed


def run_integration(build, flt):
    os.environ["SF_BIN"] = os.path.abspath(os.path.join(build, "sfproxy"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    passed = failed = 0
    idir = os.path.join(ROOT, "tests", "integration")
    files = sorted(f for f in os.listdir(idir) if re.match(r"[tr]\d+_.*\.py$", f))
    for f in files:
        spec = importlib.util.spec_from_file_location(f[:-3], os.path.join(idir, f))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:  # counted, so the summary line still comes and says so
            failed += 1
            print("FAIL %-50s (the module did not load)" % f, flush=True)
            traceback.print_exc()
            continue
        for name in [n for n in dir(mod) if n.startswith("test_")]:
            full = "%s.%s" % (f[:-3], name)
            if flt and flt not in full:
                continue
            start = time.monotonic()
            try:
                getattr(mod, name)()
                passed += 1
                print("ok   %-50s %5.1fs" % (full, time.monotonic() - start), flush=True)
            except Exception:
                failed += 1
                print("FAIL %-50s %5.1fs" % (full, time.monotonic() - start), flush=True)
                traceback.print_exc()
    return passed, failed


def main():
    build = sys.argv[1]
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    flt = sys.argv[3] if len(sys.argv) > 3 else ""
    passed = failed = 0
    if what in ("all", "unit"):
        p, f = run_unit(build, flt)
        passed, failed = passed + p, failed + f
    if what in ("all", "integration"):
        p, f = run_integration(build, flt)
        passed, failed = passed + p, failed + f
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
