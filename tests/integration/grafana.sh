#!/usr/bin/env bash
# deploy/grafana/switchyard.json: every metric the dashboard queries is one a running Switchyard
# exposes. Starts `serve` (a model, LLM routes) and a `gateway` (its NATS unreachable: it listens
# anyway and exports its gauges), sends a request so the per-model series exist, reads /metrics
# of both, and checks each switchyard_* name in every panel's PromQL against the names there
# (# TYPE lines and samples, so histogram _bucket/_sum/_count count). Also checks the dashboard's
# shape: unique panel ids, a grid position and a Prometheus datasource on every panel.
. "$(dirname "$0")/lib/common.sh"

cat >"$tmp/routes.yaml" <<YAML
upstreams:
  dead: {base_url: "http://127.0.0.1:1/v1", model: nothing}
routes:
  r: {policy: static, candidates: [dead], breaker: {failures: 1, cooldown_s: 60}}
YAML
sy_start serve --no-builtin-models --model bert=tests/fixtures/bert-tiny --config "$tmp/routes.yaml"
curl -sf "$URL/v1/encode/bert" -d '{"items":[{"text":"hello"}]}' >/dev/null || fail "encode"
curl -s "$URL/v1/chat/completions" -d '{"model":"r","messages":[{"role":"user","content":"x"}]}' >/dev/null
curl -sf "$URL/metrics" >"$tmp/serve.metrics" || fail "serve /metrics"

SY_SERVER_TIMEOUT=60 SY_LISTEN_S=5 sy_gateway gw --nats nats://127.0.0.1:1 --pool cpu --no-builtin-models
gurl=$URL
curl -sf "$gurl/metrics" >"$tmp/gw.metrics" || fail "gateway /metrics"

/usr/bin/python3 - deploy/grafana/switchyard.json "$tmp/serve.metrics" "$tmp/gw.metrics" <<'PY' ||
import json, re, sys
dash = json.load(open(sys.argv[1]))
have = set()
for f in sys.argv[2:]:
    for line in open(f):
        if line.startswith("# TYPE "):
            have.add(line.split()[2])
        elif line.strip() and not line.startswith("#"):
            have.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
panels = [p for p in dash["panels"] if p["type"] != "row"]
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
queried = set()
for p in panels:
    assert p.get("gridPos") and p["datasource"]["type"] == "prometheus", p["title"]
    assert p["targets"], p["title"]
    for t in p["targets"]:
        names = set(re.findall(r"\bswitchyard_[a-zA-Z0-9_]+", t["expr"]))
        assert names, (p["title"], t["expr"])
        missing = names - have
        assert not missing, f'panel "{p["title"]}" queries {sorted(missing)}, not in /metrics'
        queried |= names
families = {n for n in have if n.startswith("switchyard_")}
print(f"ok: {len(panels)} panels query {len(queried)} metric names, all in /metrics "
      f"({len(families)} names exposed)")
PY
	fail "dashboard"
