#!/usr/bin/env python3
"""Cycles in lib/'s graphs: headers by their #include lines, modules (x.c with x.h) by
theirs, and, given a build directory, object files by the symbols one uses that another
defines (nm). Exits 1 when there is any.

    scripts/modgraph.py [BUILD] [--show MODULE,...]

--show prints what each named module includes, calls, and is called by."""
import glob
import os
import re
import subprocess
import sys


def cycles(graph):
    found, color, stack = [], {}, []

    def visit(u):
        color[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if color.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not color.get(v):
                visit(v)
        stack.pop()
        color[u] = 2

    for u in sorted(graph):
        if not color.get(u):
            visit(u)
    return found


def module(name):
    return re.sub(r"\.[ch]$", "", name)


def main(argv):
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    show = []
    if "--show" in argv:
        i = argv.index("--show")
        show = argv[i + 1].split(",")
        argv = argv[:i] + argv[i + 2:]
    build = argv[0] if argv else None
    includes = {}
    for path in glob.glob("lib/*.[ch]"):
        text = open(path, encoding="utf-8").read()
        includes[os.path.basename(path)] = re.findall(r'^#include "([^"]+)"', text, re.M)
    headers = {f: {i for i in inc if i in includes}
               for f, inc in includes.items() if f.endswith(".h")}
    modules = {}
    for f, inc in includes.items():
        modules.setdefault(module(f), set()).update(
            module(i) for i in inc if i in includes and module(i) != module(f))
    graphs = [("header includes", headers), ("module includes", modules)]
    calls = {}
    if build:
        defined, used = {}, {}
        for obj in glob.glob(build + "/lib/*.o"):
            m = os.path.basename(obj)[:-2]
            out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in "TDBR":
                    defined[p[2]] = m
                elif len(p) == 2 and p[0] == "U":
                    used.setdefault(m, set()).add(p[1])
        calls = {m: {defined[s] for s in syms if s in defined and defined[s] != m}
                 for m, syms in used.items()}
        graphs.append(("module calls (nm " + build + ")", calls))
    bad = 0
    for name, graph in graphs:
        found = cycles(graph)
        bad += len(found)
        print("%s: %d cycle(s)" % (name, len(found)))
        for c in found:
            print("    " + " -> ".join(c))
    for m in show:
        print("%s: includes %s; calls %s; called by %s" % (
            m, ", ".join(sorted(modules.get(m, ()))) or "-",
            ", ".join(sorted(calls.get(m, ()))) or "-",
            ", ".join(sorted(k for k, v in calls.items() if m in v)) or "-"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
