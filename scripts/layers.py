#!/usr/bin/env python3
"""layers.py — keeps includes downward and free of circles (run by make test).

The rooms and wings, lowest first. A file may include headers of its own wing
and of wings below it, never above; tests/ and fuzz/ sit on top and may
include anything. Every project include names its wing from the repository
root ("kernels/ops.h", "results/db.h") or from engine/ ("policy/plan.h").
Modules (x.c with its x.h) must not form a circle, inside a wing or across.

With --objects DIR (the build folder) it also reads the compiled objects with
nm: a file that calls a function defined in a higher wing runs upward, and
object files that call each other, directly or round a loop, form a circle
(a family's dispatcher and its members, say). engine/cli/main.c, the command
table, is the one file allowed to call upward: it names every command.

Prints one line per violation, "FILE:LINE: what is wrong", and exits 1; on a
clean tree prints one summary line and exits 0. --graph prints the wing-level
include edges (for the layout notes). --root DIR checks a tree outside git
(the tests use it on small fixtures).
"""
import os
import re
import subprocess
import sys

ORDER = [
    "engine/base",    # common helpers, errors, rng, hash
    "kernels",        # number formats, dequantizers, CPU and CUDA kernels
    "results",        # the SQLite results database
    "engine/model",   # GGUF, model weights, tokenizer, text sources
    "engine/run",     # backends, the forward pass, generation, dense attention
    "engine/policy",  # attention policies, plans, indexers, plan files
    "engine/cli",     # option parsing, model/backend/plan loading, model-level commands
    "probes",         # locality, retrieval, rank, demand, CUPTI
    "engine/convert", # the RTPurbo converter
    "plots",          # gnuplot charts from the database
    "suites",         # YAML suites, generators, runner, suite-level commands
    "tests",
    "fuzz",
]
RANK = {w: i for i, w in enumerate(ORDER)}
SRC = (".c", ".h", ".cu", ".cuh")
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def wing(path):
    parts = path.split("/")
    if parts[0] == "engine" and len(parts) > 2:
        return "engine/" + parts[1]
    return parts[0] if parts[0] in RANK else None


def main():
    if "--root" in sys.argv:  # a tree outside git (the tests' fixtures): every source file in it
        os.chdir(sys.argv[sys.argv.index("--root") + 1])
        files = sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk(".") for f in fs
                       if f.endswith(SRC))
    else:
        root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip()
        os.chdir(root)
        files = [f for f in subprocess.check_output(["git", "ls-files"], text=True).split() if f.endswith(SRC)]
        files += [f for f in subprocess.check_output(["git", "ls-files", "--others", "--exclude-standard"],
                                                       text=True).split() if f.endswith(SRC)]
    errors, edges, wing_edges = [], {}, set()
    for f in files:
        w = wing(f)
        if w is None:
            errors.append(f"{f}:1: not in a known room or wing ({', '.join(ORDER)})")
            continue
        with open(f, encoding="utf-8", errors="replace") as fh:
            for ln, line in enumerate(fh, 1):
                m = INC.match(line)
                if not m:
                    continue
                name = m.group(1)
                target = name if os.path.isfile(name) else "engine/" + name
                if not os.path.isfile(target) or name.startswith("engine/"):
                    errors.append(f'{f}:{ln}: #include "{name}" does not name its wing '
                                  f'(a path from the repository root or from engine/)')
                    continue
                tw = wing(target)
                if RANK[tw] > RANK[w]:
                    errors.append(f'{f}:{ln}: #include "{name}" runs upward ({w} may not include {tw})')
                if tw != w:
                    wing_edges.add((w, tw))
                a, b = os.path.splitext(f)[0], os.path.splitext(target)[0]
                if a != b:
                    edges.setdefault(a, set()).add(b)
    for cyc in circles(edges):
        errors.append(f"{cyc[0]}: modules form a circle: {' -> '.join(cyc + [cyc[0]])}")
    if "--objects" in sys.argv:
        errors += link_check(sys.argv[sys.argv.index("--objects") + 1])
    if "--graph" in sys.argv:
        for a, b in sorted(wing_edges, key=lambda e: (RANK[e[0]], RANK[e[1]])):
            print(f"{a} -> {b}")
    for e in errors:
        print(e)
    if errors:
        print(f"layers: {len(errors)} problem(s)")
        return 1
    print(f"layers: {len(files)} files, {len(ORDER)} wings, includes downward, no circles")
    return 0


def link_check(build):
    """Upward calls and circles between compiled objects (nm -P); objects
    whose source is gone (a stale build) are left out."""
    objs = []
    for dp, _, fs in os.walk(build):
        for f in fs:
            src = os.path.relpath(os.path.join(dp, f), build)
            live = os.path.isfile(src[:-2]) or os.path.isfile(src[:-2] + ".c")  # x.cu.o or x.o of x.c
            if f.endswith(".o") and live and wing(src) in RANK and RANK[wing(src)] < RANK["tests"]:
                objs.append(os.path.join(dp, f))
    if not objs:
        return [f"{build}: no objects to read (build first)"]
    defined, undefined = {}, {}
    for o in sorted(objs):
        src = os.path.relpath(o, build)[:-2]
        src = src[:-3] if src.endswith(".cu") else src
        undefined[src] = set()
        for line in subprocess.check_output(["nm", "-P", o], text=True).splitlines():
            p = line.split()
            if len(p) < 2:
                continue
            if p[1] == "U":
                undefined[src].add(p[0])
            elif p[1] in "TDBRVW":
                defined.setdefault(p[0], src)
    errors, edges = [], {}
    for src, names in sorted(undefined.items()):
        for name in sorted(names):
            to = defined.get(name)
            if to is None or to == src:
                continue
            if src == "engine/cli/main":
                continue
            if RANK[wing(to)] > RANK[wing(src)]:
                errors.append(f"{src}: calls {name} of {to}, upward ({wing(src)} may not call {wing(to)})")
            edges.setdefault(src, set()).add(to)
    for cyc in circles(edges):
        errors.append(f"{cyc[0]}: objects call each other round a circle: {' -> '.join(cyc + [cyc[0]])}")
    return errors


def circles(edges):
    """Strongly connected components of more than one module (Tarjan), each
    as one cycle through it, in a stable order."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for u in sorted(edges.get(v, ())):
            if u not in index:
                visit(u)
                low[v] = min(low[v], low[u])
            elif u in on:
                low[v] = min(low[v], index[u])
        if low[v] == index[v]:
            comp = []
            while True:
                u = stack.pop()
                on.discard(u)
                comp.append(u)
                if u == v:
                    break
            if len(comp) > 1:
                out.append(cycle_in(sorted(comp), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def cycle_in(comp, edges):
    """One cycle through comp[0] inside the component (breadth-first)."""
    members, start = set(comp), comp[0]
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for u in sorted(edges.get(v, ())):
                if u == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return path[::-1]
                if u in members and u not in prev:
                    prev[u] = v
                    nxt.append(u)
        frontier = nxt
    return comp


if __name__ == "__main__":
    sys.exit(main())
