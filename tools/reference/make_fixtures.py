#!/usr/bin/python3
"""Writes the tiny BERT-family fixture models (tests/fixtures/<name>/) and their goldens
(tests/golden/<name>.{json,safetensors} and <name>-single.{json,safetensors}).

No real BERT weights can be had offline, so each fixture is a seeded random model in the exact
Hugging Face directory layout (config.json, model.safetensors, the real bert-base-uncased
tokenizer files, sentence-transformers metadata where the fixture has it). The goldens are the
outputs of an independent reference of the published model code (models.py) on inputs tokenized
by an independent tokenizer (wordpiece.py), computed in float64 from the weights as stored on
disk (F16/BF16 values upcast exactly) and then stored as F32.

Run from anywhere with Debian's PyTorch:  /usr/bin/python3 tools/reference/make_fixtures.py
The output is deterministic (fixed seeds); the tool prints self-checks and exits non-zero when
one fails.
"""

import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import safetensors_io  # noqa: E402
import wordpiece  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
TRANSFORMERS_VERSION = "4.41.2"

# The texts of every golden: 1 word up to longer than the 64-token position limit (truncated),
# punctuation, accents, CJK (ideographs are isolated; some are in the vocabulary, some become
# [UNK]), Japanese kana (not isolated, so a kana run is one word that WordPiece splits into ##
# pieces), numbers, a word of more than 100 characters ([UNK]), and words split into ## pieces.
TEXTS = [
    "Hello",
    "Café déjà vu, naïve façade!",
    "北京是中国的首都。東京はカタカナ",
    "The company was founded in 2016 and had 3,500 employees (12.5% growth) by 2020.",
    "Switchyard serves small embedding models: it tokenizes each request, batches requests that "
    "arrive together, runs the transformer encoder on a pool of threads, pools the token states "
    "into one vector per text, and normalises the result when the model asks for it. Long inputs "
    "such as this one are cut at the model's position limit, keeping the final separator token, "
    "exactly as the reference tokenizer truncates them.",
    "Don't stop—keep going!!! Really?! " + "x" * 120 + " ok",
    "unaffable tokenization of supercalifragilisticexpialidocious words",
    "query: what is the capital of France?",
]


def weight_init(name, shape):
    """Random values for one tensor: LayerNorm gammas near 1, biases and LayerNorm betas small,
    matrices and embeddings normal(0, 0.02) as Hugging Face initialises them. Uses the global
    generator seeded by torch.manual_seed."""
    last = name.rsplit(".", 1)[-1]
    is_norm = "LayerNorm" in name or "layer_norm" in name
    if is_norm and last == "weight":
        return 1.0 + 0.1 * torch.randn(shape)
    return 0.02 * torch.randn(shape)


def random_state(module):
    """A float32 state dict with the module's names and shapes, filled in name order."""
    out = {}
    for name, t in sorted(module.state_dict().items()):
        out[name] = weight_init(name, t.shape).float()
    return out


def bert_config(arch, n_layers, hidden, heads, ffn, max_pos, vocab, act, dtype, **extra):
    """config.json as transformers writes it for BertModel / RobertaModel / DistilBertModel."""
    if arch == "distilbert":
        c = {
            "activation": act,
            "architectures": ["DistilBertModel"],
            "attention_dropout": 0.1,
            "dim": hidden,
            "dropout": 0.1,
            "hidden_dim": ffn,
            "initializer_range": 0.02,
            "max_position_embeddings": max_pos,
            "model_type": "distilbert",
            "n_heads": heads,
            "n_layers": n_layers,
            "pad_token_id": 0,
            "qa_dropout": 0.1,
            "seq_classif_dropout": 0.2,
            "sinusoidal_pos_embds": False,
            "tie_weights_": True,
            "torch_dtype": dtype,
            "transformers_version": TRANSFORMERS_VERSION,
            "vocab_size": vocab,
        }
    else:
        c = {
            "architectures": ["RobertaModel" if arch == "roberta" else "BertModel"],
            "attention_probs_dropout_prob": 0.1,
            "classifier_dropout": None,
            "hidden_act": act,
            "hidden_dropout_prob": 0.1,
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": ffn,
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": max_pos,
            "model_type": arch,
            "num_attention_heads": heads,
            "num_hidden_layers": n_layers,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "torch_dtype": dtype,
            "transformers_version": TRANSFORMERS_VERSION,
            "type_vocab_size": 2,
            "use_cache": True,
            "vocab_size": vocab,
        }
        if arch == "roberta":
            c.update({"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "type_vocab_size": 1,
                      "layer_norm_eps": 1e-05})
    c.update(extra)
    return dict(sorted(c.items()))


TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

FIXTURES = [
    {
        "name": "bert-tiny",
        "seed": 1001,
        "config": bert_config("bert", 2, 64, 4, 128, 64, 30522, "gelu", "float32"),
        "st": {"pooling": "mean", "dense": None, "normalize": True},
    },
    {
        "name": "roberta-tiny",
        "seed": 1002,
        "config": bert_config("roberta", 2, 64, 4, 128, 66, 30522, "gelu_new", "float16"),
        "st": {"pooling": "cls", "dense": {"out_features": 32,
                                           "activation_function": "torch.nn.modules.activation.Tanh"},
               "normalize": False},
    },
    {
        "name": "distilbert-tiny",
        "seed": 1003,
        "config": bert_config("distilbert", 2, 64, 4, 128, 64, 30522, "gelu", "bfloat16"),
        "st": None,
    },
]

# ---------------------------------------------------------------- writing a fixture directory


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def hidden_size(c):
    return c["dim"] if c["model_type"] == "distilbert" else c["hidden_size"]


def write_sentence_transformers(d, fx):
    """modules.json, sentence_bert_config.json, config_sentence_transformers.json, 1_Pooling/,
    and 2_Dense/ (weights included) or a Normalize module, as sentence-transformers saves them."""
    st = fx["st"]
    h = hidden_size(fx["config"])
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": h,
        "pooling_mode_cls_token": st["pooling"] == "cls",
        "pooling_mode_mean_tokens": st["pooling"] == "mean",
        "pooling_mode_max_tokens": st["pooling"] == "max",
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": st["pooling"] == "lasttoken",
        "include_prompt": True,
    })
    if st["dense"] is not None:
        modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        os.makedirs(os.path.join(d, "2_Dense"), exist_ok=True)
        out = st["dense"]["out_features"]
        write_json(os.path.join(d, "2_Dense", "config.json"), {
            "in_features": h,
            "out_features": out,
            "bias": True,
            "activation_function": st["dense"]["activation_function"],
        })
        # Drawn after the encoder weights from the same seeded generator.
        w = {"linear.weight": (0.1 * torch.randn(out, h)).float(),
             "linear.bias": (0.02 * torch.randn(out)).float()}
        safetensors_io.save(os.path.join(d, "2_Dense", "model.safetensors"), w)
    if st["normalize"]:
        modules.append({"idx": len(modules), "name": str(len(modules)), "path": f"{len(modules)}_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    write_json(os.path.join(d, "modules.json"), modules)
    write_json(os.path.join(d, "sentence_bert_config.json"),
               {"max_seq_length": models.max_tokens(fx["config"]), "do_lower_case": False})
    write_json(os.path.join(d, "config_sentence_transformers.json"), {
        "__version__": {"sentence_transformers": "3.0.1", "transformers": TRANSFORMERS_VERSION,
                        "pytorch": "2.3.1"},
        "prompts": {"query": "query: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })


def write_fixture(fx, root, tokenizer_dir):
    d = os.path.join(root, fx["name"])
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    c = fx["config"]
    write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(fx["seed"])
    state = random_state(models.build(c))
    disk = TORCH_DTYPES[c["torch_dtype"]]
    safetensors_io.save(os.path.join(d, "model.safetensors"), {k: v.to(disk) for k, v in state.items()})
    for f in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tokenizer_dir, f), os.path.join(d, f))
    if fx["st"] is not None:
        write_sentence_transformers(d, fx)
    return d


# ---------------------------------------------------------------- loading a fixture back from disk


class Pipeline:
    """A fixture read back from its files: the encoder and its sentence-transformers modules,
    in float64 (or float32 for the precision self-check)."""

    def __init__(self, d, dtype):
        with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        self.model = models.build(self.config)
        weights, meta = safetensors_io.load(os.path.join(d, "model.safetensors"))
        if meta.get("format") != "pt":
            raise ValueError(f"{d}/model.safetensors: __metadata__.format is not 'pt'")
        self.model.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, strict=True)
        self.model.to(dtype).eval()
        self.pooling = "cls"  # our convention for a plain Hugging Face directory
        self.dense = None
        self.normalize = False
        mpath = os.path.join(d, "modules.json")
        if os.path.exists(mpath):
            with open(mpath, encoding="utf-8") as f:
                mods = json.load(f)
            for m in mods:
                p = os.path.join(d, m["path"])
                if m["type"].endswith(".Pooling"):
                    with open(os.path.join(p, "config.json"), encoding="utf-8") as f:
                        pc = json.load(f)
                    modes = [k for k, n in (("cls", "pooling_mode_cls_token"), ("mean", "pooling_mode_mean_tokens"),
                                            ("max", "pooling_mode_max_tokens"),
                                            ("lasttoken", "pooling_mode_lasttoken")) if pc.get(n)]
                    if len(modes) != 1:
                        raise ValueError(f"{p}/config.json: expected exactly one pooling mode")
                    self.pooling = modes[0]
                elif m["type"].endswith(".Dense"):
                    with open(os.path.join(p, "config.json"), encoding="utf-8") as f:
                        dc = json.load(f)
                    dw, _ = safetensors_io.load(os.path.join(p, "model.safetensors"))
                    self.dense = (dw["linear.weight"].to(dtype), dw["linear.bias"].to(dtype),
                                  dc["activation_function"], dc)
                elif m["type"].endswith(".Normalize"):
                    self.normalize = True
        self.max_length = models.max_tokens(self.config)

    @torch.no_grad()
    def run(self, ids, mask, tt):
        h = self.model(ids, mask, tt)
        out = {"last_hidden_state": h}
        pooled = self.model.pool(h)
        if pooled is not None:
            out["pooler_output"] = pooled
        for mode in ("cls", "mean", "max", "lasttoken"):
            out["pooled_" + ("last" if mode == "lasttoken" else mode)] = models.pool(h, mask, mode)
        e = models.pool(h, mask, self.pooling)
        if self.dense is not None:
            e = models.dense(e, self.dense[0], self.dense[1], self.dense[2])
        if self.normalize:
            e = models.normalize(e)
        out["sentence_embedding"] = e
        return out


def make_batch(id_lists):
    """Right-pads with id 0 ([PAD]) to the longest sequence; token types are all 0."""
    t = max(len(x) for x in id_lists)
    ids = torch.zeros(len(id_lists), t, dtype=torch.long)
    mask = torch.zeros(len(id_lists), t, dtype=torch.long)
    for i, x in enumerate(id_lists):
        ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    return ids, mask, torch.zeros_like(ids)


def valid_max_diff(a, b, mask):
    """Largest |a - b| over positions whose mask is 1 (a, b: [B, T, H])."""
    m = mask.bool().unsqueeze(-1).expand_as(a)
    return (a - b).abs()[m].max().item()


# ---------------------------------------------------------------- goldens and self-checks


def make_goldens(fx, d, golden_dir, vocab, failures):
    name = fx["name"]
    p64 = Pipeline(d, torch.float64)
    id_lists = [wordpiece.encode(t, vocab, p64.max_length) for t in TEXTS]
    ids, mask, tt = make_batch(id_lists)
    out = p64.run(ids, mask, tt)

    tensors = {"input_ids": ids.int(), "attention_mask": mask.int(), "token_type_ids": tt.int()}
    tensors.update({k: v.float() for k, v in out.items()})
    safetensors_io.save(os.path.join(golden_dir, name + ".safetensors"), tensors,
                        {"format": "pt", "generator": "tools/reference/make_fixtures.py"})
    dense_desc = None
    if p64.dense is not None:
        dense_desc = {"in_features": p64.dense[3]["in_features"], "out_features": p64.dense[3]["out_features"],
                      "activation_function": p64.dense[2]}
    meta = {
        "model": "tests/fixtures/" + name,
        "texts": TEXTS,
        "max_length": p64.max_length,
        "pooling": p64.pooling,
        "dense": dense_desc,
        "normalize": p64.normalize,
        "lengths": [len(x) for x in id_lists],
        "notes": ("Reference: tools/reference/make_fixtures.py (float64 forward of the Hugging Face "
                  "model code on the weights as stored, saved as F32). Batch right-padded with id 0; "
                  "compare last_hidden_state only where attention_mask == 1. pooled_* follow "
                  "sentence-transformers Pooling (cls, mean, max, last token); sentence_embedding is "
                  "the fixture's full pipeline (pooling -> Dense -> Normalize as configured; cls and "
                  "no normalisation for a directory without modules.json). Texts are encoded without "
                  "any prompt. Tolerance (DESIGN.md 9): max abs error 1e-4 on hidden states, cosine "
                  ">= 0.99999 on pooled outputs."),
    }
    if "pooler_output" in out:
        meta["notes"] += " pooler_output is BertPooler: tanh(dense(h[:, 0]))."
    if p64.model.config.get("model_type") == "roberta":
        meta["notes"] += (" RoBERTa positions follow create_position_ids_from_input_ids with "
                          "pad_token_id 1: valid tokens sit at 2..L+1; the pad id 0 is not 1, so "
                          "HF also counts pad positions on, which only affects masked rows.")
    write_json(os.path.join(golden_dir, name + ".json"), meta)

    # Unbatched goldens: each text alone, no padding.
    single = {}
    worst_batch_vs_single = 0.0
    worst_emb = 0.0
    for i, x in enumerate(id_lists):
        si, sm, st = make_batch([x])
        so = p64.run(si, sm, st)
        single[f"input_ids_{i}"] = si.int()
        single[f"last_hidden_state_{i}"] = so["last_hidden_state"].float()
        single[f"sentence_embedding_{i}"] = so["sentence_embedding"].float()
        diff = (so["last_hidden_state"][0] - out["last_hidden_state"][i, :len(x)]).abs().max().item()
        worst_batch_vs_single = max(worst_batch_vs_single, diff)
        worst_emb = max(worst_emb, (so["sentence_embedding"][0] - out["sentence_embedding"][i]).abs().max().item())
    safetensors_io.save(os.path.join(golden_dir, name + "-single.safetensors"), single,
                        {"format": "pt", "generator": "tools/reference/make_fixtures.py"})
    smeta = dict(meta)
    smeta["notes"] = ("Each text run alone (batch 1, no padding): input_ids_<i> I32 [1, T_i], "
                      "last_hidden_state_<i> F32 [1, T_i, H], sentence_embedding_<i> F32 [1, D]. "
                      "Must equal the batched golden at the valid positions.")
    write_json(os.path.join(golden_dir, name + "-single.json"), smeta)

    # Self-check 1: the same reference in float32 against float64.
    p32 = Pipeline(d, torch.float32)
    o32 = p32.run(ids, mask, tt)
    d32 = valid_max_diff(o32["last_hidden_state"].double(), out["last_hidden_state"], mask)
    e32 = (o32["sentence_embedding"].double() - out["sentence_embedding"]).abs().max().item()
    # Self-check 2: changing padded ids (and their token types, where the model has two) must not
    # change any valid output.
    ids2 = ids.clone()
    ids2[mask == 0] = 1996
    tt2 = tt.clone()
    if p64.config.get("type_vocab_size", 1) > 1:
        tt2[mask == 0] = 1
    o2 = p64.run(ids2, mask, tt2)
    dpad = valid_max_diff(o2["last_hidden_state"], out["last_hidden_state"], mask)
    epad = (o2["sentence_embedding"] - out["sentence_embedding"]).abs().max().item()
    # Self-check 3: every stored tensor influences some output (no weight is silently unused).
    # The key bias is the one exception, by mathematics rather than by accident: it adds q.b_k to
    # every score of a query row alike, and softmax ignores a constant shift.
    unused = []
    exempt = []
    gen = torch.Generator().manual_seed(7)
    for wname, w in p64.model.state_dict().items():
        saved = w.clone()
        with torch.no_grad():
            w.add_(0.05 * torch.randn(w.shape, generator=gen, dtype=w.dtype))
        o3 = p64.run(ids, mask, tt)
        with torch.no_grad():
            w.copy_(saved)
        moved = max((o3[k] - out[k]).abs().max().item() for k in out if k != "last_hidden_state")
        moved = max(moved, valid_max_diff(o3["last_hidden_state"], out["last_hidden_state"], mask))
        if moved < 1e-9:
            (exempt if wname.endswith(("key.bias", "k_lin.bias")) else unused).append(wname)
    print(f"{name}: B={ids.shape[0]} T={ids.shape[1]} lengths={meta['lengths']} pooling={p64.pooling} "
          f"dense={dense_desc is not None} normalize={p64.normalize}")
    print(f"  float32 vs float64 reference: hidden max abs diff {d32:.3e}, sentence_embedding {e32:.3e}")
    print(f"  padded ids changed:           hidden max abs diff {dpad:.3e}, sentence_embedding {epad:.3e}")
    print(f"  batched vs unbatched:         hidden max abs diff {worst_batch_vs_single:.3e}, "
          f"sentence_embedding {worst_emb:.3e}")
    if d32 > 1e-4 or e32 > 1e-4:
        failures.append(f"{name}: float32 reference differs from float64 by more than 1e-4")
    if dpad > 1e-12 or epad > 1e-12:
        failures.append(f"{name}: padded ids change valid outputs")
    n_t = len(p64.model.state_dict())
    print(f"  tensors perturbed one by one:  {n_t - len(unused) - len(exempt)}/{n_t} change an output; "
          f"{len(exempt)} key biases do not, as softmax's shift invariance predicts")
    if unused:
        failures.append(f"{name}: tensors with no effect on any output: {unused}")
    # Self-check 4: DistilBERT is BERT's post-LayerNorm block under other names, so the DistilBERT
    # weights run through the BERT code (one all-zero token type) must give the same states.
    if p64.config["model_type"] == "distilbert":
        dc = p64.config
        bc = bert_config("bert", dc["n_layers"], dc["dim"], dc["n_heads"], dc["hidden_dim"],
                         dc["max_position_embeddings"], dc["vocab_size"], dc["activation"], "float64",
                         type_vocab_size=1)
        bert = models.build(bc).double().eval()
        names = {"attention.q_lin": "attention.self.query", "attention.k_lin": "attention.self.key",
                 "attention.v_lin": "attention.self.value", "attention.out_lin": "attention.output.dense",
                 "sa_layer_norm": "attention.output.LayerNorm", "ffn.lin1": "intermediate.dense",
                 "ffn.lin2": "output.dense", "output_layer_norm": "output.LayerNorm"}
        sd = {}
        for k, v in p64.model.state_dict().items():
            k = k.replace("transformer.layer.", "encoder.layer.")
            for a, b in names.items():
                k = k.replace("." + a + ".", "." + b + ".")
            sd[k] = v
        sd["embeddings.token_type_embeddings.weight"] = torch.zeros(1, dc["dim"], dtype=torch.float64)
        for k, v in bert.state_dict().items():
            if k.startswith("pooler."):
                sd[k] = v
        bert.load_state_dict(sd, strict=True)
        with torch.no_grad():
            hb = bert(ids, mask, tt)
        dbd = valid_max_diff(hb, out["last_hidden_state"], mask)
        print(f"  same weights through the BERT code: hidden max abs diff {dbd:.3e}")
        if dbd > 1e-12:
            failures.append(f"{name}: DistilBERT and BERT code disagree on the same weights")
    if worst_batch_vs_single > 1e-12 or worst_emb > 1e-12:
        failures.append(f"{name}: batched and unbatched outputs differ")
    if max(meta["lengths"]) != p64.max_length:
        failures.append(f"{name}: no text reaches the truncation limit {p64.max_length}")
    if any(x[-1] != vocab["[SEP]"] for x in id_lists):
        failures.append(f"{name}: a truncated sequence lost its [SEP]")


def check_tokenizer(vocab, cases_path, failures):
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["Xenova/bert-base-uncased"]
    singles = [c for c in cases if "text_pair" not in c]
    ok = 0
    for i, c in enumerate(singles):
        got = wordpiece.encode(c["text"], vocab)
        if got == c["ids"]:
            ok += 1
        elif i < 5:
            failures.append(f"tokenizer: case {c['name']}: got {got}, expected {c['ids']}")
        else:
            print(f"  tokenizer: case {c['name']} differs (not one of the required first 5)")
    print(f"tokenizer: {ok}/{len(singles)} single-text transformers.js cases for Xenova/bert-base-uncased match "
          f"(the first 5 are required)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.environ.get("SY_SHARED", os.path.join(REPO, "..", "shared")),
                    help="the shared data folder (default: $SY_SHARED or ../shared)")
    ap.add_argument("--out", default=REPO, help="repository root to write tests/fixtures and tests/golden under")
    args = ap.parse_args()
    torch.set_num_threads(1)  # the same summation order on every machine
    tokenizer_dir = os.path.join(args.shared, "models", "bert-base-uncased-tokenizer")
    vocab = wordpiece.load_vocab(os.path.join(tokenizer_dir, "vocab.txt"))
    failures = []
    check_tokenizer(vocab, os.path.join(args.shared, "testdata", "tokenizers", "transformers.js-cases.json"),
                    failures)
    fixture_root = os.path.join(args.out, "tests", "fixtures")
    golden_dir = os.path.join(args.out, "tests", "golden")
    os.makedirs(fixture_root, exist_ok=True)
    os.makedirs(golden_dir, exist_ok=True)
    for fx in FIXTURES:
        d = write_fixture(fx, fixture_root, tokenizer_dir)
        make_goldens(fx, d, golden_dir, vocab, failures)
    if failures:
        for f in failures:
            print("FAIL:", f)
        sys.exit(1)
    print("all self-checks passed")


if __name__ == "__main__":
    main()
