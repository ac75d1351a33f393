#!/usr/bin/env python3
"""A small renderer for the subset of Go templates (and Helm's functions) that the Switchyard
chart uses, so the chart is checked without `helm`: `render.py CHART [--set a.b=v ...]` prints
the rendered manifests (YAML documents separated by ---) and exits non-zero on anything it does
not understand, rather than guessing.

Supported: {{ }} with {{- -}} trimming, {{/* comments */}}; pipelines `a | f x`; parentheses;
.Values/.Release/.Chart fields, `.`, `$`, `$var` and field chains on them; string, number and
bool literals; if / else if / else / end; range over lists and maps (with `$v :=` or
`$k, $v :=`), with / else / end, define / end, include; the functions quote, default, toYaml,
nindent, indent, and, or, not, eq, printf.
"""
import re
import sys

import yaml


class TemplateError(Exception):
    pass


# ---- lexing the template into text and actions ----

ACTION = re.compile(r"\{\{(-?)(\s*)(.*?)(\s*)(-?)\}\}", re.S)


def lex(src, name):
    out, pos = [], 0
    for m in ACTION.finditer(src):
        text = src[pos:m.start()]
        if m.group(1) == "-":
            text = text.rstrip()
        if out and out[-1][0] == "trim_next":
            out.pop()
            text = text.lstrip()
        out.append(("text", text))
        body = m.group(3)
        if not (body.startswith("/*") and body.endswith("*/")):
            out.append(("action", body.strip(), name, src.count("\n", 0, m.start()) + 1))
        if m.group(5) == "-":
            out.append(("trim_next",))
        pos = m.end()
    text = src[pos:]
    if out and out[-1][0] == "trim_next":
        out.pop()
        text = text.lstrip()
    out.append(("text", text))
    return out


# ---- parsing actions into a tree ----

def parse(tokens, defines):
    """Returns the list of nodes up to the end of the token stream; fills defines."""
    it = iter(tokens)

    def block(ends):
        nodes = []
        for t in it:
            if t[0] == "text":
                nodes.append(("text", t[1]))
                continue
            body, name, line = t[1], t[2], t[3]
            word = body.split(None, 1)[0] if body else ""
            rest = body[len(word):].strip()
            where = f"{name}:{line}"
            if word in ends:
                return nodes, word, rest, where
            if word == "if":
                branches, els = [(rest, None)], None
                cur, end, r, _ = block({"else", "end"})
                branches[0] = (rest, cur)
                while end == "else":
                    if r.startswith("if "):
                        cond = r[3:].strip()
                        cur, end, r, _ = block({"else", "end"})
                        branches.append((cond, cur))
                    else:
                        els, end, r, _ = block({"end"})
                nodes.append(("if", branches, els, where))
            elif word in ("range", "with"):
                cur, end, r, _ = block({"else", "end"})
                els = None
                if end == "else":
                    els, end, r, _ = block({"end"})
                nodes.append((word, rest, cur, els, where))
            elif word == "define":
                nm = parse_expr(rest, where)
                if len(nm) != 1 or len(nm[0]) != 1 or nm[0][0][0] != "str":
                    raise TemplateError(f"{where}: define needs a name in quotes")
                cur, end, r, _ = block({"end"})
                defines[nm[0][0][1][1:-1]] = cur
            elif word in ("else", "end"):
                raise TemplateError(f"{where}: unexpected {word}")
            elif word in ("template", "block", "break", "continue"):
                raise TemplateError(f"{where}: {word} is not supported")
            else:
                nodes.append(("action", body, where))
        if ends:
            raise TemplateError(f"missing {{{{ end }}}} (wanted one of {sorted(ends)})")
        return nodes, None, "", ""

    nodes, _, _, _ = block(set())
    return nodes


# ---- expressions ----

TOKEN = re.compile(r'''\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) |
    (?P<num>-?\d+(?:\.\d+)?) |
    (?P<op>:=|=|\(|\)|\||,) |
    (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*) |
    (?P<field>(?:\.[A-Za-z0-9_]+)+|\.) |
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*))''', re.X)


def tokenize(s, where):
    toks, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"{where}: cannot read {s[pos:]!r}")
        kind = m.lastgroup
        toks.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return toks


def parse_expr(s, where):
    """A pipeline: [('decl', [vars]) optional] then commands; each command a list of operands."""
    toks = tokenize(s, where)
    pos = 0

    def pipeline(stop):
        nonlocal pos
        cmds, cmd = [], []
        while pos < len(toks) and toks[pos] != ("op", ")") or (stop is None and pos < len(toks)):
            k, v = toks[pos]
            if (k, v) == ("op", ")"):
                break
            pos += 1
            if (k, v) == ("op", "|"):
                if not cmd:
                    raise TemplateError(f"{where}: empty command in {s!r}")
                cmds.append(cmd)
                cmd = []
            elif (k, v) == ("op", "("):
                inner = pipeline(")")
                if pos >= len(toks) or toks[pos] != ("op", ")"):
                    raise TemplateError(f"{where}: unclosed ( in {s!r}")
                pos += 1
                cmd.append(("pipe", inner))
            elif k == "op":
                raise TemplateError(f"{where}: unexpected {v!r} in {s!r}")
            else:
                cmd.append((k, v))
        if cmd:
            cmds.append(cmd)
        if not cmds:
            raise TemplateError(f"{where}: empty pipeline {s!r}")
        return cmds

    decl = None
    # $a := x   or   $a, $b := x
    for i, t in enumerate(toks):
        if t == ("op", ":="):
            names = [v for k, v in toks[:i] if k == "var"]
            if not names or any(k not in ("var",) and (k, v) != ("op", ",") for k, v in toks[:i]):
                raise TemplateError(f"{where}: bad declaration {s!r}")
            decl = names
            pos = i + 1
            break
        if t[0] == "op" and t[1] in ("|", "("):
            break
    cmds = pipeline(None)
    if pos != len(toks):
        raise TemplateError(f"{where}: unexpected {toks[pos][1]!r} in {s!r}")
    return [("decl", decl)] + cmds if decl else cmds


def truthy(v):
    return v not in (None, False, 0, "", [], {}) and not (isinstance(v, (list, dict)) and not v)


def to_text(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        raise TemplateError(f"a {type(v).__name__} printed as text (use toYaml): {v!r}")
    return str(v)


def go_printf(fmt, *args):
    out, i = [], 0
    for piece in re.split(r"(%[-+ 0#]*\d*(?:\.\d+)?[sdvqf%])", fmt):
        if not piece.startswith("%") or len(piece) < 2:
            out.append(piece)
        elif piece == "%%":
            out.append("%")
        else:
            a = args[i]
            i += 1
            verb = piece[-1]
            if verb == "q":
                out.append(quote(a))
            elif verb in "sv":
                out.append(to_text(a))
            else:
                out.append(piece % a)
    return "".join(out)


def quote(*vals):
    return " ".join('"' + to_text(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in vals)


def indent(n, s):
    return "\n".join((" " * int(n) + l) if l else l for l in to_text(s).split("\n"))


def to_yaml(v):
    if v is None:
        return ""
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=False).rstrip("\n")


class Renderer:
    def __init__(self, defines):
        self.defines = defines

    def funcs(self, name):
        table = {
            "quote": quote,
            "default": lambda d, v=None: v if truthy(v) else d,
            "toYaml": to_yaml,
            "nindent": lambda n, s: "\n" + indent(n, s),
            "indent": indent,
            "not": lambda v: not truthy(v),
            "eq": lambda a, *b: any(a == x for x in b),
            "printf": go_printf,
        }
        return table.get(name)

    def lookup(self, base, path, where):
        v = base
        for part in [p for p in path.split(".") if p]:
            if isinstance(v, dict):
                v = v.get(part)
            elif v is None:
                return None
            else:
                raise TemplateError(f"{where}: .{part} of a {type(v).__name__}")
        return v

    def operand(self, op, dot, vars_, where, final=None):
        k, v = op
        if k == "str":
            return bytes(v[1:-1], "utf-8").decode("unicode_escape")
        if k == "raw":
            return v[1:-1]
        if k == "num":
            return float(v) if "." in v else int(v)
        if k == "field":
            return dot if v == "." else self.lookup(dot, v, where)
        if k == "var":
            name, _, rest = v.partition(".")
            if name not in vars_:
                raise TemplateError(f"{where}: undefined variable {name}")
            return self.lookup(vars_[name], rest, where)
        if k == "pipe":
            return self.pipeline(v, dot, vars_, where)
        if k == "ident":
            if v in ("true", "false"):
                return v == "true"
            if v == "nil":
                return None
        raise TemplateError(f"{where}: unexpected {v!r}")

    def command(self, cmd, dot, vars_, where, piped, has_piped):
        head = cmd[0]
        if head[0] == "ident" and head[1] not in ("true", "false", "nil"):
            name = head[1]
            args = cmd[1:]
            if name in ("and", "or"):  # short-circuit, returning the deciding value
                vals = [self.operand(a, dot, vars_, where) for a in args]
                if has_piped:
                    vals.append(piped)
                for x in vals:
                    if (name == "and") != truthy(x):
                        return x
                return vals[-1]
            if name == "include":
                vals = [self.operand(a, dot, vars_, where) for a in args]
                if has_piped:
                    vals.append(piped)
                tname, ctx = vals
                if tname not in self.defines:
                    raise TemplateError(f"{where}: no template {tname!r}")
                return self.nodes(self.defines[tname], ctx, {"$": ctx})
            fn = self.funcs(name)
            if not fn:
                raise TemplateError(f"{where}: function {name!r} is not supported")
            vals = [self.operand(a, dot, vars_, where) for a in args]
            if has_piped:
                vals.append(piped)
            try:
                return fn(*vals)
            except TypeError as e:
                raise TemplateError(f"{where}: {name}: {e}")
        if len(cmd) != 1 or has_piped:
            raise TemplateError(f"{where}: {cmd} is not a function call")
        return self.operand(head, dot, vars_, where)

    def pipeline(self, cmds, dot, vars_, where):
        val, has = None, False
        for cmd in cmds:
            val = self.command(cmd, dot, vars_, where, val, has)
            has = True
        return val

    def expr(self, s, dot, vars_, where):
        p = parse_expr(s, where)
        decl = None
        if p[0][0] == "decl":
            decl, p = p[0][1], p[1:]
        return decl, self.pipeline(p, dot, vars_, where)

    def nodes(self, nodes, dot, vars_):
        out = []
        vars_ = dict(vars_)
        for n in nodes:
            kind = n[0]
            if kind == "text":
                out.append(n[1])
            elif kind == "action":
                decl, v = self.expr(n[1], dot, vars_, n[2])
                if decl:
                    vars_[decl[0]] = v
                else:
                    out.append(to_text(v))
            elif kind == "if":
                for cond, body in n[1]:
                    if truthy(self.expr(cond, dot, vars_, n[3])[1]):
                        out.append(self.nodes(body, dot, vars_))
                        break
                else:
                    if n[2] is not None:
                        out.append(self.nodes(n[2], dot, vars_))
            elif kind == "with":
                _, v = self.expr(n[1], dot, vars_, n[4])
                if truthy(v):
                    out.append(self.nodes(n[2], v, vars_))
                elif n[3] is not None:
                    out.append(self.nodes(n[3], dot, vars_))
            elif kind == "range":
                decl, v = self.expr(n[1], dot, vars_, n[4])
                if isinstance(v, dict):
                    items = [(k, v[k]) for k in sorted(v)]
                elif isinstance(v, list):
                    items = list(enumerate(v))
                elif v is None:
                    items = []
                else:
                    raise TemplateError(f"{n[4]}: range over a {type(v).__name__}")
                if not items and n[3] is not None:
                    out.append(self.nodes(n[3], dot, vars_))
                for k, item in items:
                    inner = dict(vars_)
                    if decl and len(decl) == 1:
                        inner[decl[0]] = item
                    elif decl:
                        inner[decl[0]], inner[decl[1]] = k, item
                    out.append(self.nodes(n[2], item, inner))
        return "".join(out)


def set_value(values, path, raw):
    keys = path.split(".")
    d = values
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = yaml.safe_load(raw)


def render_chart(chart, sets=(), release="sy"):
    import glob
    import os
    meta = yaml.safe_load(open(os.path.join(chart, "Chart.yaml")))
    values = yaml.safe_load(open(os.path.join(chart, "values.yaml"))) or {}
    for s in sets:
        k, _, v = s.partition("=")
        set_value(values, k, v)
    root = {
        "Values": values,
        "Release": {"Name": release, "Namespace": "default", "Service": "Helm"},
        "Chart": {"Name": meta["name"], "Version": meta["version"],
                  "AppVersion": meta.get("appVersion", "")},
    }
    defines, files = {}, []
    for f in sorted(glob.glob(os.path.join(chart, "templates", "*"))):
        name = os.path.relpath(f, chart)
        tree = parse(lex(open(f).read(), name), defines)
        if not os.path.basename(f).startswith("_"):
            files.append((name, tree))
    r = Renderer(defines)
    return [(name, r.nodes(tree, root, {"$": root})) for name, tree in files]


def main(argv):
    sets, chart = [], None
    i = 0
    while i < len(argv):
        if argv[i] == "--set":
            sets.append(argv[i + 1])
            i += 2
        else:
            chart = argv[i]
            i += 1
    try:
        for name, text in render_chart(chart, sets):
            print(f"# Source: {name}")
            print(text.strip("\n"))
            print("---")
    except TemplateError as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
