"""Batched PyTorch modules of the rotary encoders, for ONNX export (tools/reference/export_onnx.py):
NewModel (model_type "new", Alibaba-NLP GTE v1.5) and ModernBERT (ModernBertModel).

They compute what the per-architecture references compute (make_new_model.forward, one sequence
at a time; make_modernbert.forward, batched), written as a right-padded batch with an attention
mask so that torch.onnx.export (opset 14) records a graph an ONNX runtime can run on any batch
shape:

  - the module tree mirrors the Hugging Face names, so `load_state_dict(strict=True)` takes the
    model.safetensors that Switchyard loads;
  - rotary angles are computed in the graph from the positions 0..T-1 (float32 positions times
    the float32 inverse frequencies, stored as a non-persistent buffer), then cos/sin;
  - padded keys get finfo(float32).min added to their scores (padded query rows still attend to
    the real keys, as in Hugging Face); ModernBERT's sliding window on its local layers is the
    same kind of mask, built in the graph from |i - j| <= local_attention // 2.

NewModel (Alibaba-NLP/new-impl modeling.py, eval mode):
  x = LayerNorm(word[ids] (+ token_type[tt] when type_vocab_size > 0))
  per layer: q, k, v = qkv_proj(x) (or q/k/v_proj), rotary (rotate-half) on q and k,
             x = attn_ln(x + o_proj(softmax(q k^T / sqrt(d) + mask) v))
             up, gate = up_gate_proj(x) split in halves (up first)
             x = mlp_ln(x + down_proj(gelu(gate) * up))
  rotary frequencies with NTK scaling as make_new_model.rotary_inv_freq computes them.
ModernBERT (transformers' modeling_modernbert.py, eager attention):
  x = norm(tok_embeddings[ids]); per layer n:
    x += Wo(attn(attn_norm(x)))  (attn_norm is the identity on layer 0; fused Wqkv; rotary with
         global_rope_theta on global layers (n % global_attn_every_n_layers == 0) and
         local_rope_theta on the others, whose keys farther than local_attention // 2 are masked)
    x += mlp.Wo(act(a) * g), (a, g) = mlp.Wi(mlp_norm(x)) split in halves
  final_norm(x). LayerNorms without bias unless norm_bias; linear biases per attention_bias /
  mlp_bias.
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_new_model  # noqa: E402


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary(inv_freq, t):
    """cos, sin [T, head_dim] for positions 0..t-1 (angles in float32)."""
    pos = torch.arange(t, device=inv_freq.device).float()
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def key_mask(attention_mask, dtype):
    """[B, 1, 1, T] additive: 0 on real keys, finfo.min on padding."""
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def attend(q, k, v, bias, scale):
    """q, k, v [B, nh, T, d]; bias broadcast to [B, nh, T, T]; returns [B, T, nh * d]."""
    s = torch.matmul(q, k.transpose(-1, -2)) * scale + bias
    o = torch.matmul(torch.softmax(s, dim=-1), v)
    b, nh, t, d = o.shape
    return o.transpose(1, 2).reshape(b, t, nh * d)


def heads(x, nh):
    b, t, h = x.shape
    return x.view(b, t, nh, h // nh).transpose(1, 2)


class Norm(nn.Module):
    """LayerNorm whose bias may be absent (torch 1.13's nn.LayerNorm always has one)."""

    def __init__(self, n, eps, bias):
        super().__init__()
        self.n, self.eps = n, eps
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, (self.n,), self.weight, self.bias, self.eps)


# ---------------------------------------------------------------- NewModel


class NewEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], h)
        if c["type_vocab_size"] > 0:
            self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], h)
        self.LayerNorm = nn.LayerNorm(h, eps=c["layer_norm_eps"])


class NewAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.pack = c["pack_qkv"]
        if self.pack:
            self.qkv_proj = nn.Linear(h, 3 * h)
        else:
            self.q_proj, self.k_proj, self.v_proj = (nn.Linear(h, h) for _ in range(3))
        self.o_proj = nn.Linear(h, h)


class NewMlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.up_gate_proj = nn.Linear(h, 2 * i, bias=False)
        self.down_proj = nn.Linear(i, h)


class NewLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.attention = NewAttention(c)
        self.mlp = NewMlp(c)
        self.attn_ln = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.mlp_ln = nn.LayerNorm(h, eps=c["layer_norm_eps"])


class NewEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(NewLayer(c) for _ in range(c["num_hidden_layers"]))


class NewModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c.get("hidden_act", "gelu") != "gelu":
            raise ValueError("only hidden_act gelu")
        self.c = c
        self.embeddings = NewEmbeddings(c)
        self.encoder = NewEncoder(c)
        d = c["hidden_size"] // c["num_attention_heads"]
        self.register_buffer("inv_freq", make_new_model.rotary_inv_freq(c, d), persistent=False)

    def forward(self, input_ids, attention_mask, token_type_ids):
        c = self.c
        h, nh = c["hidden_size"], c["num_attention_heads"]
        d, inter = h // nh, c["intermediate_size"]
        e = self.embeddings
        x = e.word_embeddings(input_ids)
        if c["type_vocab_size"] > 0:
            x = x + e.token_type_embeddings(token_type_ids)
        x = e.LayerNorm(x)
        cos, sin = (v.to(x.dtype) for v in rotary(self.inv_freq, input_ids.shape[1]))
        bias = key_mask(attention_mask, x.dtype)
        for L in self.encoder.layer:
            a = L.attention
            if a.pack:
                q, k, v = a.qkv_proj(x).split(h, dim=-1)
            else:
                q, k, v = a.q_proj(x), a.k_proj(x), a.v_proj(x)
            q, k, v = heads(q, nh), heads(k, nh), heads(v, nh)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            x = L.attn_ln(x + a.o_proj(attend(q, k, v, bias, 1.0 / math.sqrt(d))))
            up, gate = L.mlp.up_gate_proj(x).split(inter, dim=-1)
            x = L.mlp_ln(x + L.mlp.down_proj(F.gelu(gate) * up))
        return x


# ---------------------------------------------------------------- ModernBERT


class MbEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.tok_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.norm = Norm(c["hidden_size"], c["norm_eps"], c["norm_bias"])


class MbAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.Wqkv = nn.Linear(h, 3 * h, bias=c["attention_bias"])
        self.Wo = nn.Linear(h, h, bias=c["attention_bias"])


class MbMlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.Wi = nn.Linear(h, 2 * i, bias=c["mlp_bias"])
        self.Wo = nn.Linear(i, h, bias=c["mlp_bias"])


class MbLayer(nn.Module):
    def __init__(self, c, n):
        super().__init__()
        h = c["hidden_size"]
        self.attn_norm = nn.Identity() if n == 0 else Norm(h, c["norm_eps"], c["norm_bias"])
        self.attn = MbAttention(c)
        self.mlp_norm = Norm(h, c["norm_eps"], c["norm_bias"])
        self.mlp = MbMlp(c)
        self.is_global = n % c["global_attn_every_n_layers"] == 0


class ModernBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        h = c["hidden_size"]
        self.embeddings = MbEmbeddings(c)
        self.layers = nn.ModuleList(MbLayer(c, n) for n in range(c["num_hidden_layers"]))
        self.final_norm = Norm(h, c["norm_eps"], c["norm_bias"])
        d = h // c["num_attention_heads"]
        for name, key in (("inv_global", "global_rope_theta"), ("inv_local", "local_rope_theta")):
            inv = 1.0 / (c[key] ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
            self.register_buffer(name, inv, persistent=False)
        act = c["hidden_activation"]
        if act == "gelu":
            self.act = lambda x: F.gelu(x)
        elif act in ("gelu_new", "gelu_pytorch_tanh"):
            self.act = lambda x: F.gelu(x, approximate="tanh")
        else:
            raise ValueError(f"hidden_activation {act!r}")

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        c = self.c
        h, nh = c["hidden_size"], c["num_attention_heads"]
        d = h // nh
        t = input_ids.shape[1]
        x = self.embeddings.norm(self.embeddings.tok_embeddings(input_ids))
        dt = x.dtype
        rope = {True: tuple(v.to(dt) for v in rotary(self.inv_global, t)),
                False: tuple(v.to(dt) for v in rotary(self.inv_local, t))}
        keys = key_mask(attention_mask, dt)  # [B, 1, 1, T]
        pos = torch.arange(t, device=input_ids.device)
        near = (pos[:, None] - pos[None, :]).abs() <= c["local_attention"] // 2  # [T, T]
        allowed = attention_mask[:, None, None, :].to(dt) * near.to(dt)[None, None]  # [B, 1, T, T]
        local_bias = (1.0 - allowed) * torch.finfo(dt).min
        for L in self.layers:
            qkv = L.attn.Wqkv(L.attn_norm(x))
            q, k, v = (heads(z, nh) for z in qkv.split(h, dim=-1))
            cos, sin = rope[L.is_global]
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            o = attend(q, k, v, keys if L.is_global else local_bias, d ** -0.5)
            x = x + L.attn.Wo(o)
            a, g = L.mlp.Wi(L.mlp_norm(x)).chunk(2, dim=-1)
            x = x + L.mlp.Wo(self.act(a) * g)
        return self.final_norm(x)


def build(c):
    if c["model_type"] == "new":
        return NewModel(c)
    if c["model_type"] == "modernbert":
        return ModernBertModel(c)
    raise ValueError(f"model_type {c['model_type']!r}")
