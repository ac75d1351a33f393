#!/usr/bin/env python3
"""Finds circles between the C files of src/: file A -> file B when A calls a non-static function
B defines. Prints each strongly connected group of more than one file; exits 1 when there is one.
Used to keep the layers one-way (docs/ARCHITECTURE.md)."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"
defs = {}  # function -> file
texts = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith(".c"):
            p = os.path.join(d, f)
            t = open(p, encoding="utf-8", errors="replace").read()
            t = re.sub(r"/\*.*?\*/", "", t, flags=re.S)
            texts[p] = t
            for m in re.finditer(r"^(?!static)[a-z_][\w \*]*?\b(\w+)\(([^;{]*?)\)\s*\{", t, re.M):
                defs.setdefault(m.group(1), p)
edges = {p: set() for p in texts}
for p, t in texts.items():
    for name in set(re.findall(r"\b(\w+)\s*\(", t)):
        q = defs.get(name)
        if q and q != p:
            edges[p].add(q)
# Tarjan's strongly connected components
index, low, stack, on, out = {}, {}, [], set(), []
counter = [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(sorted(comp))
for v in sorted(texts):
    if v not in index:
        visit(v)
for c in out:
    print(f"circle of {len(c)}: " + " ".join(c))
sys.exit(1 if out else 0)
