#!/usr/bin/env python3
"""The agent turn against a running `switchyard serve` (bench/agent_turn/run.sh starts it).

One turn, as an agent makes it: GLiNER extraction on the user's message (5 labels), a query
encode with the embedding model, and a rerank of 100 candidate passages (about 99 tokens each)
with the cross-encoder, one after the other over HTTP. AGENTS agents run their turns at the same
time, each on its own connection; the per-turn wall time (and each stage's) is measured in the
client, and the server's own timing fields (queue_ms, inference_ms) are kept beside it.

Usage: client.py BASE_URL LABEL AGENTS TURNS [--rerank-only MODEL]
Prints one Markdown table row (and a JSON line on stderr) per call.
"""
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))

WORDS = ("the of and to in is was for on as with by at from that this which are were be has have "
         "had not but or an it its their they he she his her we our you your all one two three new "
         "first last year years time day city state world country team game music film book water "
         "house school system data model market company government group people family work life "
         "history war river island station line power energy church club season album song series "
         "road art science center university report study research program public open south "
         "north east west high small large long early late local national international").split()
NAMES = ["Tim Cook", "Marie Curie", "Sundar Pichai", "Ada Lovelace", "Angela Merkel"]
ORGS = ["Apple", "Google", "the European Central Bank", "Siemens", "the Red Cross"]
PLACES = ["Paris", "São Paulo", "Berlin", "Nairobi", "Osaka"]
LABELS = ["person", "organization", "location", "date", "product"]


def passages(rnd, n=100, words=97):
    return [" ".join(rnd.choice(WORDS) for _ in range(words)) + "." for _ in range(n)]


def message(rnd):
    return (f"Hi, can you find what {rnd.choice(NAMES)} said about {rnd.choice(ORGS)} when they met "
            f"in {rnd.choice(PLACES)} on {rnd.randint(1, 28)} March {rnd.randint(1990, 2025)}, and "
            f"whether the new iPhone or the Pixel was part of it? I also need the notes from the "
            f"meeting with {rnd.choice(NAMES)} at {rnd.choice(ORGS)} last week.")


def post(base, path, body):
    data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        out = json.loads(r.read())
    return (time.perf_counter() - t0) * 1000, out


def server_ms(out):
    t = out.get("timing") or {}
    return t.get("queue_ms", 0.0), t.get("inference_ms", 0.0), t.get("tokenization_ms", 0.0)


def turn(base, rnd, docs, rerank_only=None):
    rec = {}
    t0 = time.perf_counter()
    if rerank_only is None:
        msg = message(rnd)
        ms, out = post(base, "/v1/extract/gliner", {"items": [{"text": msg}], "params": {"labels": LABELS}})
        rec["extract"] = (ms, *server_ms(out))
        ms, out = post(base, "/v1/encode/query", {"items": [{"text": msg}], "params": {"is_query": True}})
        rec["encode"] = (ms, *server_ms(out))
    q = "what did they say at the meeting about the new phone"
    ms, out = post(base, f"/v1/score/{rerank_only or 'reranker'}",
                   {"query": {"text": q}, "items": [{"text": d} for d in docs]})
    assert len(out["scores"]) == len(docs), out
    rec["rerank"] = (ms, *server_ms(out))
    rec["turn"] = ((time.perf_counter() - t0) * 1000, 0, 0, 0)
    return rec


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    base, label, agents, turns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rerank_only = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--rerank-only" else None
    rnd = random.Random(7)
    docs = passages(rnd)
    try:
        import wordpiece
        vocab = wordpiece.load_vocab(os.path.join(os.environ.get("SY_SHARED", "../shared"), "models",
                                                  "bert-base-uncased-tokenizer", "vocab.txt"))
        ntok = statistics.mean(len(wordpiece.tokenize(d, vocab)) for d in docs)
    except Exception:  # the token count is informative only
        ntok = float("nan")
    turn(base, random.Random(1), docs, rerank_only)  # warm-up (loads the models)
    recs, lock = [], threading.Lock()

    def agent(i):
        r = random.Random(100 + i)
        for _ in range(turns):
            x = turn(base, r, docs, rerank_only)
            with lock:
                recs.append(x)

    ts = [threading.Thread(target=agent, args=(i,)) for i in range(agents)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    stages = ["rerank"] if rerank_only else ["extract", "encode", "rerank"]
    row = {"label": label, "agents": agents, "turns": len(recs), "passage_tokens": round(ntok, 1),
           "turns_per_s": len(recs) / wall}
    for s in stages + ["turn"]:
        v = [r[s][0] for r in recs]
        row[s] = {"p50": pct(v, 50), "p99": pct(v, 99)}
        if s != "turn":
            row[s]["server_inference_p50"] = pct([r[s][2] for r in recs], 50)
            row[s]["server_queue_p50"] = pct([r[s][1] for r in recs], 50)
            row[s]["server_tokenization_p50"] = pct([r[s][3] for r in recs], 50)
    print(json.dumps(row), file=sys.stderr)

    def cell(s):
        return f"{row[s]['p50']:.0f} / {row[s]['p99']:.0f}" if s in row else ""
    print(f"| {label} | {agents} | {len(recs)} | {cell('turn')} | {cell('extract')} | {cell('encode')} | "
          f"{cell('rerank')} | {row['rerank']['server_inference_p50']:.0f} | "
          f"{row['rerank']['server_queue_p50']:.0f} | {row['rerank']['server_tokenization_p50']:.1f} | "
          f"{row['turns_per_s']:.2f} |")


if __name__ == "__main__":
    main()
