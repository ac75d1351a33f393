#!/usr/bin/env python3
"""Lists the functions of src/ longer than a limit (default 120 lines), longest first; exits 1
when there is one. A function runs from its opening line to the closing brace in column 0."""
import os
import re
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 120
found = []
for d, _, fs in os.walk("src"):
    for f in fs:
        if not f.endswith(".c"):
            continue
        p = os.path.join(d, f)
        lines = open(p, encoding="utf-8", errors="replace").read().split("\n")
        start = name = None
        for i, l in enumerate(lines):
            if start is None and l == "{" and i > 0:
                j = i - 1
                while j > 0 and not re.match(r"^[a-z_]", lines[j]):
                    j -= 1
                m = re.search(r"(\w+)\(", lines[j])
                start, name = j, m.group(1) if m else "?"
            elif start is not None and l == "}":
                n = i - start + 1
                if n > limit:
                    found.append((n, p, name))
                start = None
for n, p, name in sorted(found, reverse=True):
    print(f"{n:5d}  {p}: {name}")
sys.exit(1 if found else 0)
