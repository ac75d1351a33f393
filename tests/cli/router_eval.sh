#!/usr/bin/env bash
# CLI tests for router training and evaluation on small labelled files (USE-lite embeddings):
# `switchyard eval intents` with --test (a labelled file, or CLINC150's format next to a CLINC
# folder; an unusable --test is an error) reports accuracy and macro-F1 (JSON) for both routers,
# `switchyard router train` writes a classifier the learned policy loads (logistic regression or,
# with --head mlp, an MLP head), the out-of-scope options (--head mlp, --oos-class, --oos-score
# energy) report AUROC and thresholds, and malformed data stops with the file and line.
set -euo pipefail
cd "$(dirname "$0")/../.."
SY=${BUILD:-build}/switchyard
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/train.csv" <<'CSV'
text,label
"what's the weather like tomorrow",weather
"will it rain today",weather
"is it going to be sunny this weekend",weather
"how cold is it outside",weather
"play some jazz music",music
"put on my workout playlist",music
"skip this song",music
"turn up the volume of the music",music
"book a table for two at eight",restaurant
"reserve a dinner table for tonight",restaurant
"find me an italian restaurant nearby",restaurant
"cancel my restaurant booking",restaurant
CSV
cat >"$tmp/test.jsonl" <<'JSONL'
{"text": "do I need an umbrella today", "label": "weather"}
{"text": "what will the temperature be on friday", "label": "weather"}
{"text": "play the next track", "label": "music"}
{"text": "I want to listen to some rock songs", "label": "music"}
{"text": "get me a table at a sushi place", "label": "restaurant"}
{"text": "make a dinner reservation for four", "label": "restaurant"}
JSONL
out=$("$SY" eval intents --data "$tmp/train.csv" --test "$tmp/test.jsonl" --json 2>/dev/null) || fail "eval intents"
python3 - "$out" <<'PY' || fail "eval intents results"
import json, sys
r = json.loads(sys.argv[1])
assert r["train"] == 12 and r["test"] == 6 and r["classes"] == 3, r
assert r["learned"]["accuracy"] >= 5 / 6 and r["semantic"]["accuracy"] >= 4 / 6, r
assert 0 <= r["learned"]["macro_f1"] <= 1
PY
"$SY" eval intents --data "$tmp/train.csv" --test "$tmp/test.jsonl" | grep -q "worst classes" || fail "text report"
"$SY" router train --data "$tmp/train.csv" --out "$tmp/r.json" | grep -q "3 classes" || fail "router train"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['labels']==['weather','music','restaurant'] and d['encoder']=='use-lite' and len(d['W'])==3" "$tmp/r.json" || fail "classifier file"
# malformed data: file and line
printf 'text,label\n"unterminated,weather\n' >"$tmp/bad.csv"
"$SY" router train --data "$tmp/bad.csv" --out "$tmp/x.json" 2>"$tmp/err" && fail "bad CSV accepted"
grep -q "bad.csv: line 2: unterminated quoted field" "$tmp/err" || { cat "$tmp/err"; fail "bad CSV message"; }
printf '{"text": "a", "label": "x"}\n{"text": 5}\n' >"$tmp/bad.jsonl"
"$SY" eval intents --data "$tmp/train.csv" --test "$tmp/bad.jsonl" 2>"$tmp/err" && fail "bad JSONL accepted"
grep -q "bad.jsonl: line 2" "$tmp/err" || { cat "$tmp/err"; fail "bad JSONL message"; }
printf 'text,label\n"a",zzz\n' >"$tmp/unknown.csv"
"$SY" eval intents --data "$tmp/train.csv" --test "$tmp/unknown.csv" 2>"$tmp/err" && fail "unknown label accepted"
grep -q 'label "zzz" is not in the training data' "$tmp/err" || { cat "$tmp/err"; fail "unknown label message"; }
# a CLINC150 folder with --test: the test file's test + oos_test are scored, not val
mkdir "$tmp/clinc"
python3 - "$tmp/train.csv" "$tmp/clinc" <<'PY'
import csv, json, sys
rows = [[r["text"], r["label"]] for r in csv.DictReader(open(sys.argv[1]))]
json.dump({"train": rows, "oos_train": [["what is the meaning of life", "oos"], ["tell me about quantum foam", "oos"]],
           "val": rows[:2], "oos_val": []}, open(sys.argv[2] + "/data_train_val.json", "w"))
json.dump({"test": [["do I need an umbrella today", "weather"], ["play the next track", "music"], ["get me a table at a sushi place", "restaurant"]],
           "oos_test": [["how tall is mount everest", "oos"]]}, open(sys.argv[2] + "/data_full.json", "w"))
PY
out=$("$SY" eval intents --data "$tmp/clinc" --test "$tmp/clinc/data_full.json" --json 2>/dev/null) || fail "eval intents --test on CLINC"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["train"] == 12 and r["test"] == 4, r' "$out" || fail "CLINC --test not used: $out"
out=$("$SY" eval intents --data "$tmp/clinc" --json 2>/dev/null) || fail "eval intents on CLINC val"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["test"] == 2, r' "$out" || fail "CLINC val: $out"
# the stronger out-of-scope options: an MLP head, out-of-scope trained as a class, the energy
# score; with out-of-scope test rows the report adds the score's AUROC and thresholds
out=$("$SY" eval intents --data "$tmp/clinc" --test "$tmp/clinc/data_full.json" --head mlp --hidden 16 --epochs 50 --oos-class --oos-score energy --json 2>/dev/null) || fail "eval intents --head mlp"
python3 - "$out" <<'PY' || fail "out-of-scope options: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["train"] == 14 and r["test"] == 4, r
o = r["oos"]
assert o["head"] == "mlp" and o["hidden"] == 16 and o["score"] == "energy" and o["oos_class"] is True, o
assert 0 <= o["auroc"] <= 1 and 0 <= o["best"]["accuracy"] <= 1 and 0 <= o["cv2"]["oos_recall"] <= 1, o
PY
"$SY" eval intents --data "$tmp/clinc" --test "$tmp/clinc/data_full.json" 2>/dev/null | grep -q "out-of-scope test (logreg head, maxprob score): AUROC" || fail "out-of-scope text report"
"$SY" eval intents --data "$tmp/clinc" --oos-score bogus 2>"$tmp/err" && fail "--oos-score bogus accepted"
grep -q "oos-score: expected maxprob or energy" "$tmp/err" || { cat "$tmp/err"; fail "--oos-score message"; }
"$SY" router train --data "$tmp/train.csv" --out "$tmp/m.json" --head mlp | grep -q "3 classes" || fail "router train --head mlp"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['type']=='mlp' and d['hidden']==256 and len(d['W1'])==256 and len(d['W'][0])==256" "$tmp/m.json" || fail "MLP classifier file"
"$SY" eval intents --data "$tmp/clinc" --test "$tmp/clinc/missing.json" 2>"$tmp/err" && fail "a missing --test accepted"
grep -q "no such file" "$tmp/err" || { cat "$tmp/err"; fail "missing --test message"; }
echo '{"test": []}' >"$tmp/clinc/empty.json"
"$SY" eval intents --data "$tmp/clinc" --test "$tmp/clinc/empty.json" 2>"$tmp/err" && fail "an empty --test accepted"
grep -q "no test examples" "$tmp/err" || { cat "$tmp/err"; fail "empty --test message"; }
"$SY" router train --strong-weak --data "$tmp/train.csv" --out "$tmp/x.json" 2>"$tmp/err" && fail "strong/weak labels"
grep -q "is 0 or 1" "$tmp/err" || { cat "$tmp/err"; fail "strong/weak label message"; }
echo ok
