#!/usr/bin/env bash
# CLI tests for `switchyard extract` (NER entities equal to the reference golden under each
# aggregation strategy, texts from --input, the threshold) and for ColBERT through `switchyard
# score` (MaxSim equal to the golden) and `switchyard encode --query` (multi-vectors); clear
# errors for models that cannot do the task.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$SY" "$tmp" <<'PY' || fail "extract / colbert CLI"
import json, subprocess, sys
sy, tmp = sys.argv[1:3]
def run(*args, ok=True):
    p = subprocess.run([sy] + list(args), capture_output=True, text=True)
    assert (p.returncode == 0) == ok, (args, p.returncode, p.stderr)
    return p

# int8 for a model without an int8 path (GLiNER) is refused, naming the option; the NER
# model (BERT) runs it.
p = run("extract", "--model", "tests/fixtures/gliner-tiny", "--quantize", "int8", "--labels",
        "person", "Alice met Bob", ok=False)
assert "quantize: int8" in p.stderr and "no int8 path" in p.stderr, p.stderr
run("extract", "--model", "tests/fixtures/ner-tiny", "--quantize", "int8", "Alice met Bob")

g = json.load(open("tests/golden/ner-tiny.json"))["texts"]
texts = [t["text"] for t in g if t["text"]]
for strategy in ["simple", "first", "average", "max"]:
    out = run("extract", "--model", "tests/fixtures/ner-tiny", "--aggregation", strategy, *texts).stdout
    rows = [json.loads(l) for l in out.splitlines()]
    assert [r["index"] for r in rows] == list(range(len(texts)))
    for r, want in zip(rows, [t for t in g if t["text"]]):
        ref = want["entities"][strategy]
        assert [(e["label"], e["start"], e["end"]) for e in r["entities"]] == \
               [(e["label"], e["start"], e["end"]) for e in ref], (strategy, r, ref)
        assert all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(r["entities"], ref))
with open(f"{tmp}/texts.txt", "w") as f:
    f.write("\n".join(texts[:3]) + "\n")
rows = [json.loads(l) for l in run("extract", "--model", "tests/fixtures/ner-tiny", "--threshold", "0.8",
                                   "--input", f"{tmp}/texts.txt").stdout.splitlines()]
assert len(rows) == 3 and all(e["score"] >= 0.8 for r in rows for e in r["entities"])
assert "not an extraction model" in run("extract", "--model", "tests/fixtures/bert-tiny", "x", ok=False).stderr
assert "fixed labels" in run("extract", "--model", "tests/fixtures/ner-tiny", "--labels", "person", "x", ok=False).stderr
assert "--aggregation" in run("extract", "--model", "tests/fixtures/ner-tiny", "--aggregation", "mean", "x", ok=False).stderr
assert "switchyard extract" in run("extract", "--model", "tests/fixtures/ner-tiny", ok=False).stderr

c = json.load(open("tests/golden/colbert-tiny.json"))
docs = [d["text"] for d in c["documents"]]
for qi, q in enumerate(c["queries"]):
    rows = [json.loads(l) for l in run("score", "--model", "tests/fixtures/colbert-tiny", "--query", q["text"], *docs).stdout.splitlines()]
    assert [r["index"] for r in rows] == list(range(len(docs)))
    assert all(abs(r["score"] - c["maxsim"][qi][i]) < 1e-4 for i, r in enumerate(rows)), (rows, c["maxsim"][qi])
rows = [json.loads(l) for l in run("encode", "--model", "tests/fixtures/colbert-tiny", "--query", c["queries"][0]["text"]).stdout.splitlines()]
mv = rows[0]["multivector"]
want = [x for v in c["queries"][0]["vectors"] for x in v]
assert len(mv["values"]) == mv["num_tokens"] and all(len(r) == mv["token_dims"] for r in mv["values"])
assert mv["num_tokens"] == c["query_maxlen"] and max(abs(a - b) for a, b in zip([x for r in mv["values"] for x in r], want)) < 1e-5
rows = [json.loads(l) for l in run("encode", "--model", "tests/fixtures/colbert-tiny", docs[0]).stdout.splitlines()]
assert rows[0]["multivector"]["num_tokens"] == len(c["documents"][0]["vectors"])
assert "switchyard extract" in run("encode", "--model", "tests/fixtures/ner-tiny", "x", ok=False).stderr
print("ok")
PY
