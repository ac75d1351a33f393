#!/usr/bin/env bash
# deploy/helm/switchyard: renders the chart with tests/cli/helm/render.py (the subset of Go
# templates the chart uses; no `helm` needed) under several value sets and checks the result
# structurally with PyYAML: the kinds present, labels and selectors that meet (Deployments and
# their pods, the Service and the gateway, the ServiceMonitor and the Service's metrics port),
# one worker Deployment and one KEDA ScaledObject per pool that scales it from zero on the pool's
# consumer (SY_WORK_<pool>, sy-<pool>) or on switchyard_gateway_pending_demand, the Secrets
# (API key file mounted where --api-key-file points, HF_TOKEN from its Secret), and every flag
# passed to `switchyard` being one its --help lists. The renderer's own checks come first.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
/usr/bin/python3 - "$SY" <<'PY' || { echo "FAIL: helm chart"; exit 1; }
import os, re, subprocess, sys, tempfile
import yaml
sys.path.insert(0, "tests/cli/helm")
import render as R

# ---- the renderer on small templates ----
def tpl(text, values, defines=""):
    d = {}
    R.parse(R.lex(defines, "_h"), d)
    tree = R.parse(R.lex(text, "t"), d)
    root = {"Values": values, "Release": {"Name": "r"}, "Chart": {"Name": "c"}}
    return R.Renderer(d).nodes(tree, root, {"$": root})
assert tpl("a: {{ .Values.x }}", {"x": 3}) == "a: 3"
assert tpl("{{ .Values.s | quote }}", {"s": 'say "hi"'}) == '"say \\"hi\\""'
assert tpl("{{ .Values.no | default \"d\" }}", {}) == "d"
assert tpl("{{ if .Values.a }}A{{ else if .Values.b }}B{{ else }}C{{ end }}", {"b": 1}) == "B"
assert tpl("x\n  {{- range .Values.l }}\n- {{ . }}\n  {{- end }}", {"l": [1, 2]}) == "x\n- 1\n- 2"
assert tpl("{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}", {"m": {"b": 2, "a": 1}}) == "a=1;b=2;"
assert tpl("{{ range $i, $v := .Values.l }}{{ $i }}{{ $v }}{{ end }}", {"l": ["x", "y"]}) == "0x1y"
assert tpl("{{ range $p := .Values.l }}{{ $p.n }}{{ $.Release.Name }}{{ end }}", {"l": [{"n": 1}]}) == "1r"
assert tpl("k:{{- toYaml .Values.m | nindent 2 }}", {"m": {"a": [1]}}) == "k:\n  a:\n  - 1"
assert tpl('{{ include "h" . }}', {"v": 5}, '{{- define "h" -}}v={{ .Values.v }}{{- end }}') == "v=5"
assert tpl("{{ if and .Values.a (not .Values.b) }}y{{ end }}{{ if or .Values.b .Values.a }}z{{ end }}", {"a": 1}) == "yz"
assert tpl('{{ printf "q{p=\\"%s\\"}" .Values.p | quote }}', {"p": "cpu"}) == '"q{p=\\"cpu\\"}"'
assert tpl('{{ if eq .Values.t "x" }}1{{ end }}{{ with .Values.w }}{{ .a }}{{ end }}', {"t": "x", "w": {"a": 2}}) == "12"
for bad in ("{{ .Values.x | upper }}", "{{ if .Values.x }}", "{{ end }}", "{{ template \"x\" }}",
            "{{ .Values.m }}"):
    try:
        tpl(bad, {"x": "a", "m": {"k": 1}})
    except R.TemplateError:
        continue
    raise AssertionError("the renderer accepted " + bad)

# ---- the chart ----
sy = sys.argv[1]
helps = {c: subprocess.run([sy, c, "--help"], capture_output=True, text=True).stdout
         for c in ("gateway", "worker")}
def check_args(args, where):
    cmd = args[0]
    for a in args[1:]:
        flag = a.split("=", 1)[0]
        assert flag.startswith("--") and re.search(r"(^|\s)" + re.escape(flag) + r"\b", helps[cmd]), (where, flag)
    return cmd

def render(*sets):
    docs = []
    for name, text in R.render_chart("deploy/helm/switchyard", sets):
        assert "<no value>" not in text, name
        docs += [(name, d) for d in yaml.safe_load_all(text) if d]
    return docs

def by_kind(docs, kind):
    return [d for _, d in docs if d["kind"] == kind]

def subset(small, big):
    return all(big.get(k) == v for k, v in small.items())

values = yaml.safe_load(open("deploy/helm/switchyard/values.yaml"))
pools = [p["name"] for p in values["pools"]]
cases = {
    "defaults": [],
    "auth+hf": ["auth.tokens=[t1, t2]", "auth.adminTokens=[adm]", "hfToken=hf_secret"],
    "existing secret": ["auth.existingSecret=mine"],
    "prometheus trigger": ["keda.trigger=prometheus"],
    "no keda, no monitor": ["keda.enabled=false", "serviceMonitor.enabled=false"],
}
for case, sets in cases.items():
    docs = render(*sets)
    for f, d in docs:
        assert d.get("apiVersion") and d.get("metadata", {}).get("name"), (case, f, d)
        assert d["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == "sy", (case, f)
    names = [(d["kind"], d["metadata"]["name"]) for _, d in docs]
    assert len(names) == len(set(names)), (case, names)
    deps = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    for n, d in deps.items():
        sel = d["spec"]["selector"]["matchLabels"]
        assert subset(sel, d["spec"]["template"]["metadata"]["labels"]), (case, n)
    gw = deps["sy-switchyard-gateway"]
    gpod = gw["spec"]["template"]["spec"]
    gargs = gpod["containers"][0]["args"]
    assert check_args(gargs, case) == "gateway"
    assert sorted(a.split("=", 1)[1] for a in gargs if a.startswith("--pool=")) == sorted(pools)
    (svc,) = by_kind(docs, "Service")
    assert subset(svc["spec"]["selector"], gw["spec"]["template"]["metadata"]["labels"]), case
    cports = {p["name"]: p["containerPort"] for p in gpod["containers"][0]["ports"]}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(cports), case
    mport = [a for a in gargs if a.startswith("--metrics-port=")]
    assert mport and int(mport[0].split("=")[1]) == cports["metrics"], (case, mport)
    probes = gpod["containers"][0]
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}
    keyfile = [a.split("=", 1)[1] for a in gargs if a.startswith("--api-key-file=")]
    if case in ("auth+hf", "existing secret"):
        mount = gpod["containers"][0]["volumeMounts"][0]
        assert keyfile and keyfile[0] == mount["mountPath"] + "/keys", (keyfile, mount)
        sname = gpod["volumes"][0]["secret"]["secretName"]
        if case == "existing secret":
            assert sname == "mine" and not secrets, (sname, secrets)
        else:
            keys = secrets[sname]["stringData"]["keys"].split()
            assert keys == ["t1", "t2", "admin:adm"], keys
    else:
        assert not keyfile and not secrets, (case, keyfile, secrets)
    for pool in pools:
        w = deps["sy-switchyard-worker-" + pool]
        c = w["spec"]["template"]["spec"]["containers"][0]
        assert check_args(c["args"], case) == "worker"
        assert [a for a in c["args"] if a.startswith("--pool=")] == ["--pool=" + pool]
        hf = [e for e in c["env"] if e["name"] == "HF_TOKEN"]
        if case == "auth+hf":
            ref = hf[0]["valueFrom"]["secretKeyRef"]
            assert secrets[ref["name"]]["stringData"][ref["key"]] == "hf_secret", ref
        else:
            assert not hf, case
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in by_kind(docs, "ScaledObject")}
    if case == "no keda, no monitor":
        assert not scaled and not by_kind(docs, "ServiceMonitor"), case
        assert all(deps["sy-switchyard-worker-" + p]["spec"]["replicas"] >= 1 for p in pools)
        continue
    assert sorted(scaled) == sorted("sy-switchyard-worker-" + p for p in pools), sorted(scaled)
    for p in pools:
        so = scaled["sy-switchyard-worker-" + p]
        assert so["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert "replicas" not in deps["sy-switchyard-worker-" + p]["spec"], "KEDA owns replicas"
        assert so["spec"]["minReplicaCount"] == 0, so["spec"]
        (t,) = so["spec"]["triggers"]
        if case == "prometheus trigger":
            assert t["type"] == "prometheus", t
            assert t["metadata"]["query"] == 'sum(switchyard_gateway_pending_demand{pool="%s"})' % p, t
            assert t["metadata"]["activationThreshold"] == "0"
        else:
            assert t["type"] == "nats-jetstream", t
            m = t["metadata"]
            assert m["stream"] == "SY_WORK_" + p and m["consumer"] == "sy-" + p, m
            assert m["activationLagThreshold"] == "0", m
    (sm,) = by_kind(docs, "ServiceMonitor")
    assert subset(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]), sm
    assert sm["spec"]["endpoints"][0]["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
print("ok: helm chart rendered and checked in", len(cases), "value sets; pools", pools)
PY
echo "ok: helm"
