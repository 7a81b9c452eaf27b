#!/usr/bin/env python3
"""includes: the include graph of lib/, checked. Reads every #include "..." line of
lib/*.h and lib/*.c and fails (exit 1, naming the files) when

  - headers include each other in a cycle (a.h -> b.h -> ... -> a.h), or
  - two modules depend on each other, directly or around a circle: module a depends on
    module b when a.c or a.h includes b.h (a module loop: a.c includes b.h and b.c
    includes a.h is the shortest).

    includes.py [--count] [LIBDIR]

A loop listed in KNOWN (with why it is still there) is reported and tolerated while it
stays exactly as listed; one that grows, or any new one, fails. Run by `make
check-includes`, which `make test` and `make unit` run first.

--count also prints, for every header, how many headers it pulls in transitively (its own
includes, theirs, and so on), largest first: what a file that includes it compiles."""
import os
import re
import sys

# Loops known and argued, each until the change that ends it lands.
KNOWN = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_graph(lib):
    inc = {}
    for name in sorted(os.listdir(lib)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(lib, name), encoding="utf-8") as f:
                inc[name] = [os.path.basename(p) for p in INCLUDE.findall(f.read())]
    return inc


def closure(inc, start):
    seen, todo = set(), [start]
    while todo:
        for y in inc.get(todo.pop(), []):
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


def cycles(graph):
    """The strongly connected components of graph with more than one node, or a node that
    reaches itself (Tarjan's algorithm, iterative), each as a sorted list."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            pushed = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    pushed = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if pushed:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in graph.get(v, ()):
                    out.append(sorted(comp))
    return out


def main(argv):
    count = "--count" in argv
    args = [a for a in argv if a != "--count"]
    lib = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
    inc = read_graph(lib)
    headers = {n: [h for h in v if h in inc] for n, v in inc.items() if n.endswith(".h")}
    modules = {}
    for name, targets in inc.items():
        mod = name[:-2]
        deps = modules.setdefault(mod, set())
        for t in targets:
            if t.endswith(".h") and t[:-2] != mod and t in inc:
                deps.add(t[:-2])
    bad = known = 0
    for comp in cycles(headers):
        print("include cycle among headers: %s" % " ".join(comp))
        bad += 1
    for comp in cycles(modules):
        why = ["%s->%s" % (a, b) for a in comp for b in sorted(modules[a]) if b in comp]
        print("module loop: %s (%s)" % (" ".join(comp), ", ".join(why)))
        if frozenset(comp) in KNOWN:
            print("  known: %s" % KNOWN[frozenset(comp)])
            known += 1
        else:
            bad += 1
    if count:
        for n, h in sorted(((len(closure(inc, h)), h) for h in headers), reverse=True):
            print("%3d %s" % (n, h))
    if bad:
        print("includes: %d loop(s); a module that only needs a type can include its -t.h, or "
              "take a callback" % bad)
        return 1
    print("includes: no include cycle, no new module loop (%d headers, %d modules, %d known "
          "loop(s))" % (len(headers), len(modules), known))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
