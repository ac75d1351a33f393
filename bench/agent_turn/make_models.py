#!/usr/bin/python3
"""Writes the agent-turn benchmark's models (bench/agent_turn/run.sh) into OUT (default
bench/out/agent_turn/models): seeded random weights, stored as float16, in the Hugging Face
layouts of the real models, at their real shapes:

  gliner    gliner_multi-v2.1: an mDeBERTa-v3-base encoder (12 layers, hidden 768, 12 heads, FFN
            3072, 256 log position buckets, 512 positions, LayerNormed relative embeddings,
            c2p+p2c), GLiNER hidden 512 (so the 768 -> 512 projection), max_width 12, bi-LSTM
  query     bge-small-en-v1.5: BERT, 12 layers, hidden 384, 12 heads, FFN 1536, CLS pooling
  reranker  bge-reranker-base: XLMRobertaForSequenceClassification, 12 layers, hidden 768,
            12 heads, FFN 3072, 514 positions, one label
  reranker-minilm  cross-encoder/ms-marco-MiniLM-L-6-v2: BertForSequenceClassification, 6 layers,
            hidden 384, 12 heads, FFN 1536, one label

One difference, which changes no compute: every model uses the bert-base-uncased WordPiece
vocabulary (30,522 tokens, plus GLiNER's two markers) from ../shared, instead of the 128k/250k
SentencePiece vocabularies, so the files stay small; only the size of the embedding table (a
lookup per token) differs. Written with the repository's reference tools (make_fixtures.py's
configs and initialisation, models.py's module names, safetensors_io.py).

Run with Debian's PyTorch:  /usr/bin/python3 bench/agent_turn/make_models.py [OUT]
"""
import os
import shutil
import sys

import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
import make_fixtures as mf  # noqa: E402
import models  # noqa: E402
import safetensors_io  # noqa: E402


def save(d, state):
    safetensors_io.save(os.path.join(d, "model.safetensors"),
                        {k: v.float().to(torch.float16) for k, v in state.items()})


def copy_tokenizer(tok_dir, d):
    for f in mf.TOKENIZER_FILES:
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(d, f))


def cross_encoder(d, tok_dir, arch, layers, hidden, heads, ffn, max_pos, seed):
    archs = {"bert": "BertForSequenceClassification", "roberta": "XLMRobertaForSequenceClassification"}
    extra = {"model_type": "xlm-roberta"} if arch == "roberta" else {}
    c = mf.bert_config(arch, layers, hidden, heads, ffn, max_pos, 30522, "gelu", "float16",
                       architectures=[archs[arch]], id2label={"0": "LABEL_0"},
                       label2id={"LABEL_0": 0}, **extra)
    mf.write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(seed)
    state = mf.random_state(models.build(c))
    if arch == "bert":
        full = {"bert." + k: v for k, v in state.items()}
        full["classifier.weight"] = 0.2 * torch.randn(1, hidden)
        full["classifier.bias"] = 0.02 * torch.randn(1)
    else:
        full = {"roberta." + k: v for k, v in state.items() if not k.startswith("pooler.")}
        full["classifier.dense.weight"] = 0.1 * torch.randn(hidden, hidden)
        full["classifier.dense.bias"] = 0.02 * torch.randn(hidden)
        full["classifier.out_proj.weight"] = 0.2 * torch.randn(1, hidden)
        full["classifier.out_proj.bias"] = 0.02 * torch.randn(1)
    save(d, full)
    copy_tokenizer(tok_dir, d)


def query_encoder(d, tok_dir):
    c = mf.bert_config("bert", 12, 384, 12, 1536, 512, 30522, "gelu", "float16")
    mf.write_json(os.path.join(d, "config.json"), c)
    torch.manual_seed(31)
    save(d, mf.random_state(models.build(c)))
    copy_tokenizer(tok_dir, d)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    mf.write_json(os.path.join(d, "1_Pooling", "config.json"),
                  {"word_embedding_dimension": 384, "pooling_mode_cls_token": True,
                   "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False})
    mf.write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])


def gliner(d, tok_dir):
    E, LAYERS, HEADS, FFN, BUCKETS, MAXPOS, H, MAXW = 768, 12, 12, 3072, 256, 512, 512, 12
    with open(os.path.join(tok_dir, "vocab.txt"), encoding="utf-8") as f:
        lines = f.read().rstrip("\n").split("\n")
    V = len(lines) + 2
    enc = {"model_type": "deberta-v2", "architectures": ["DebertaV2Model"], "hidden_size": E,
           "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": FFN,
           "hidden_act": "gelu", "max_position_embeddings": MAXPOS, "position_buckets": BUCKETS,
           "max_relative_positions": -1, "relative_attention": True, "share_att_key": True,
           "pos_att_type": ["p2c", "c2p"], "norm_rel_ebd": "layer_norm", "position_biased_input": False,
           "type_vocab_size": 0, "layer_norm_eps": 1e-7, "vocab_size": V, "pad_token_id": 0}
    mf.write_json(os.path.join(d, "gliner_config.json"), {
        "model_name": "microsoft/mdeberta-v3-base", "name": "span level gliner", "max_width": MAXW,
        "hidden_size": H, "dropout": 0.4, "fine_tune": True, "subtoken_pooling": "first",
        "span_mode": "markerV0", "max_types": 25, "max_len": 384, "words_splitter_type": "whitespace",
        "has_rnn": True, "fuse_layers": False, "embed_ent_token": True, "class_token_index": V - 2,
        "encoder_config": enc, "ent_token": "<<ENT>>", "sep_token": "<<SEP>>", "vocab_size": V})
    torch.manual_seed(41)
    p = "token_rep_layer.bert_layer.model."
    full = {p + "embeddings.word_embeddings.weight": 0.5 * torch.randn(V, E),
            p + "embeddings.LayerNorm.weight": 1 + 0.1 * torch.randn(E),
            p + "embeddings.LayerNorm.bias": 0.02 * torch.randn(E),
            p + "encoder.rel_embeddings.weight": 0.5 * torch.randn(2 * BUCKETS, E),
            p + "encoder.LayerNorm.weight": 1 + 0.1 * torch.randn(E),
            p + "encoder.LayerNorm.bias": 0.02 * torch.randn(E)}
    for l in range(LAYERS):
        a = f"{p}encoder.layer.{l}."
        for n, (o, i) in {"attention.self.query_proj": (E, E), "attention.self.key_proj": (E, E),
                          "attention.self.value_proj": (E, E), "attention.output.dense": (E, E),
                          "intermediate.dense": (FFN, E), "output.dense": (E, FFN)}.items():
            full[a + n + ".weight"] = 0.03 * torch.randn(o, i)
            full[a + n + ".bias"] = 0.02 * torch.randn(o)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            full[a + n + ".weight"] = 1 + 0.1 * torch.randn(E)
            full[a + n + ".bias"] = 0.02 * torch.randn(E)
    full["token_rep_layer.projection.weight"] = 0.03 * torch.randn(H, E)
    full["token_rep_layer.projection.bias"] = 0.02 * torch.randn(H)
    n = H // 2
    for sfx in ("", "_reverse"):
        full["rnn.lstm.weight_ih_l0" + sfx] = 0.05 * torch.randn(4 * n, H)
        full["rnn.lstm.weight_hh_l0" + sfx] = 0.05 * torch.randn(4 * n, n)
        full["rnn.lstm.bias_ih_l0" + sfx] = 0.1 * torch.randn(4 * n)
        full["rnn.lstm.bias_hh_l0" + sfx] = 0.1 * torch.randn(4 * n)
    for name, ind, out in [("span_rep_layer.span_rep_layer.project_start", H, H),
                           ("span_rep_layer.span_rep_layer.project_end", H, H),
                           ("span_rep_layer.span_rep_layer.out_project", 2 * H, H),
                           ("prompt_rep_layer", H, H)]:
        full[name + ".0.weight"] = 0.05 * torch.randn(4 * out, ind)
        full[name + ".0.bias"] = 0.05 * torch.randn(4 * out)
        full[name + ".3.weight"] = 0.03 * torch.randn(out, 4 * out)
        full[name + ".3.bias"] = 0.05 * torch.randn(out)
    save(d, full)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines + ["<<ENT>>", "<<SEP>>"]) + "\n")
    shutil.copyfile(os.path.join(tok_dir, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "bench", "out", "agent_turn", "models")
    shared = os.environ.get("SY_SHARED", os.path.join(REPO, "..", "shared"))
    tok_dir = os.path.join(shared, "models", "bert-base-uncased-tokenizer")
    makers = {
        "gliner": lambda d: gliner(d, tok_dir),
        "query": lambda d: query_encoder(d, tok_dir),
        "reranker": lambda d: cross_encoder(d, tok_dir, "roberta", 12, 768, 12, 3072, 514, 51),
        "reranker-minilm": lambda d: cross_encoder(d, tok_dir, "bert", 6, 384, 12, 1536, 512, 52),
    }
    with torch.no_grad():
        for name, make in makers.items():
            d = os.path.join(out, name)
            if os.path.exists(os.path.join(d, "model.safetensors")):
                continue
            tmp = d + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            make(tmp)
            os.rename(tmp, d)
            print(f"wrote {d}")


if __name__ == "__main__":
    main()
