#!/usr/bin/env bash
# deploy/: every Kubernetes manifest parses as YAML (PyYAML, Debian's python3-yaml) with the
# expected kinds; the gateway, worker and KEDA objects point at each other consistently (pool
# names, stream and consumer names), and the workers scale from zero; every flag the manifests and systemd units pass to
# `switchyard` is one the binary's --help lists.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
/usr/bin/python3 - "$SY" <<'PY' || { echo "FAIL: deploy manifests"; exit 1; }
import glob, re, subprocess, sys, yaml
sy = sys.argv[1]
docs = []
for f in sorted(glob.glob("deploy/kubernetes/*.yaml")):
    with open(f) as fh:
        docs += [(f, d) for d in yaml.safe_load_all(fh) if d]
kinds = sorted({d["kind"] for _, d in docs})
assert kinds == ["ConfigMap", "Deployment", "Namespace", "ScaledObject", "Service", "StatefulSet"], kinds
for f, d in docs:
    assert d.get("apiVersion") and d.get("metadata", {}).get("name"), f
    if d["kind"] != "Namespace":
        assert d["metadata"].get("namespace") == "switchyard", (f, d["metadata"])
helps = {c: subprocess.run([sy, c, "--help"], capture_output=True, text=True).stdout for c in ("gateway", "worker")}
def check_args(cmd, args, where):
    assert args[0] == cmd, (where, args)
    for a in args[1:]:
        flag = a.split("=", 1)[0]
        assert flag.startswith("--") and re.search(r"(^|\s)" + re.escape(flag) + r"\b", helps[cmd]), (where, flag)
pools = set()
for f, d in docs:
    if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"].startswith("switchyard"):
        c = d["spec"]["template"]["spec"]["containers"][0]
        cmd = c["args"][0]
        check_args(cmd, c["args"], f)
        if cmd == "worker":
            pool = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--pool=")]
            assert len(pool) == 1 and d["spec"]["template"]["metadata"]["labels"]["pool"] == pool[0], f
            pools.add(pool[0])
        else:
            gw_pools = {a.split("=", 1)[1] for a in c["args"] if a.startswith("--pool=")}
for f, d in docs:
    if d["kind"] == "ScaledObject":
        m = d["spec"]["triggers"][0]["metadata"]
        pool = m["stream"][len("SY_WORK_"):]
        assert m["stream"].startswith("SY_WORK_") and m["consumer"] == "sy-" + pool and pool in pools, m
        # scale from zero: the gateway publishes with no worker up, and the first unit wakes one
        assert d["spec"]["minReplicaCount"] == 0 and m.get("activationLagThreshold") == "0", d["spec"]
        target = d["spec"]["scaleTargetRef"]["name"]
        assert any(x["metadata"]["name"] == target for _, x in docs if x["kind"] == "StatefulSet"), target
assert pools == gw_pools, (pools, gw_pools)
for f in glob.glob("deploy/systemd/*.service"):
    text = open(f).read()
    assert "[Unit]" in text and "[Service]" in text and "[Install]" in text, f
    exe = [l for l in text.splitlines() if l.startswith("ExecStart=")][0].split()[1:]
    cmd = exe[0]
    for a in exe[1:]:
        if a.startswith("--"):
            assert re.search(r"(^|\s)" + re.escape(a) + r"\b", helps[cmd] + " --config", ), (f, a)
print("ok:", len(docs), "manifests,", len(glob.glob("deploy/systemd/*.service")), "units, pools", sorted(pools))
PY
