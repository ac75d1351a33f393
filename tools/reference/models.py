"""Reference forward passes of the BERT-family encoders, written from the published Hugging Face
model code (transformers' modeling_bert.py, modeling_roberta.py, modeling_distilbert.py) and the
sentence-transformers Pooling / Dense / Normalize modules, without depending on either package.

The module tree mirrors the Hugging Face base models attribute for attribute, so that
`state_dict()` names are exactly the tensor names Hugging Face saves (for example
"encoder.layer.0.attention.self.query.weight" or "transformer.layer.0.ffn.lin1.weight"), and
`load_state_dict(strict=True)` proves that a safetensors file has the right names and shapes.

Facts followed (eval mode, so dropout is the identity):

BERT (BertModel)
  embeddings = LayerNorm(word[ids] + position[0..T-1] + token_type[tt]), eps = layer_norm_eps.
  per layer:  q, k, v = Linear(x); heads split as [B, T, n_heads, head_dim] -> [B, n_heads, T, head_dim]
              scores = q k^T / sqrt(head_dim) + ext_mask, ext_mask = (1 - mask) * finfo(dtype).min
              (only keys are masked: padded query rows still attend to the valid keys)
              ctx = softmax(scores) v, heads merged back to [B, T, H]
              a = LayerNorm(Linear_o(ctx) + x)
              y = LayerNorm(Linear_2(act(Linear_1(a))) + a)
  pooler:     tanh(Linear(h[:, 0]))
RoBERTa (RobertaModel) = BERT except positions: mask = (ids != pad_token_id),
  position = cumsum(mask) * mask + pad_token_id, so real tokens count from pad_token_id + 1 and pad
  tokens (id == pad_token_id) sit at position pad_token_id. Token types default to 0.
DistilBERT (DistilBertModel)
  embeddings = LayerNorm(word[ids] + position[0..T-1]), eps 1e-12, no token types.
  per layer:  q = q_lin(x) / sqrt(head_dim); scores = q k^T, masked_fill(mask == 0, finfo.min)
              sa = sa_layer_norm(out_lin(ctx) + x); y = output_layer_norm(lin2(act(lin1(sa))) + sa)
  no pooler.
Activations: "gelu" is the exact erf form; "gelu_new" / "gelu_pytorch_tanh" the tanh approximation
  0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
sentence-transformers
  Pooling: cls = h[:, 0]; mean = sum(h * m) / clamp(sum(m), 1e-9); max = max over tokens after
  setting padded positions to -1e9; lasttoken = h at the last position whose mask is 1.
  Dense: act(W x + b). Normalize: x / max(||x||_2, 1e-12).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def activation(name):
    """Maps a Hugging Face hidden_act / activation name to a function."""
    if name == "gelu":
        return lambda x: F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        c = math.sqrt(2.0 / math.pi)
        return lambda x: 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * x * x * x)))
    if name == "relu":
        return F.relu
    if name in ("silu", "swish"):
        return F.silu
    raise ValueError(f"config.json: hidden_act {name!r} is not supported by the reference")


def _split_heads(x, n_heads):
    b, t, h = x.shape
    return x.view(b, t, n_heads, h // n_heads).transpose(1, 2)


def _merge_heads(x):
    b, n, t, d = x.shape
    return x.transpose(1, 2).contiguous().view(b, t, n * d)


# ---------------------------------------------------------------- BERT / RoBERTa


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, input_ids, token_type_ids, position_ids):
        e = self.word_embeddings(input_ids)
        e = e + self.token_type_embeddings(token_type_ids)
        e = e + self.position_embeddings(position_ids)
        return self.LayerNorm(e)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.n_heads = c["num_attention_heads"]
        self.scale = 1.0 / math.sqrt(h // self.n_heads)
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)

    def forward(self, x, ext_mask):
        q = _split_heads(self.query(x), self.n_heads)
        k = _split_heads(self.key(x), self.n_heads)
        v = _split_heads(self.value(x), self.n_heads)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        scores = scores + ext_mask
        return _merge_heads(torch.matmul(torch.softmax(scores, dim=-1), v))


class BertDenseNorm(nn.Module):
    """BertSelfOutput and BertOutput: LayerNorm(dense(x) + residual)."""

    def __init__(self, n_in, n_out, eps):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        self.LayerNorm = nn.LayerNorm(n_out, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        # The attribute is literally named "self" in Hugging Face's module tree.
        setattr(self, "self", BertSelfAttention(c))
        self.output = BertDenseNorm(c["hidden_size"], c["hidden_size"], c["layer_norm_eps"])

    def forward(self, x, ext_mask):
        return self.output(getattr(self, "self")(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.act = activation(c["hidden_act"])

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertDenseNorm(c["intermediate_size"], c["hidden_size"], c["layer_norm_eps"])

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, ext_mask):
        for lay in self.layer:
            x = lay(x, ext_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    """BertModel, or RobertaModel when config model_type is "roberta" (only positions differ)."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.is_roberta = c.get("model_type") in ("roberta", "xlm-roberta", "camembert")
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def position_ids(self, input_ids):
        if self.is_roberta:
            pad = self.config["pad_token_id"]
            m = input_ids.ne(pad).long()
            return torch.cumsum(m, dim=1) * m + pad
        # 0..T-1 on every row, written as a cumulative sum so that an ONNX export keeps T dynamic.
        return torch.cumsum(torch.ones_like(input_ids), dim=1) - 1

    def forward(self, input_ids, attention_mask, token_type_ids):
        """input_ids, attention_mask, token_type_ids: int [B, T]. Returns last_hidden_state [B, T, H]."""
        dtype = self.embeddings.word_embeddings.weight.dtype
        x = self.embeddings(input_ids, token_type_ids, self.position_ids(input_ids))
        ext = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return self.encoder(x, ext)

    def pool(self, h):
        return self.pooler(h)


# ---------------------------------------------------------------- DistilBERT


class DistilEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["dim"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["dim"])
        self.LayerNorm = nn.LayerNorm(c["dim"], eps=1e-12)

    def forward(self, input_ids):
        pos = torch.cumsum(torch.ones_like(input_ids), dim=1) - 1
        return self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(pos))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.n_heads = c["n_heads"]
        self.scale = 1.0 / math.sqrt(d // self.n_heads)
        self.q_lin = nn.Linear(d, d)
        self.k_lin = nn.Linear(d, d)
        self.v_lin = nn.Linear(d, d)
        self.out_lin = nn.Linear(d, d)

    def forward(self, x, attention_mask):
        q = _split_heads(self.q_lin(x), self.n_heads)
        k = _split_heads(self.k_lin(x), self.n_heads)
        v = _split_heads(self.v_lin(x), self.n_heads)
        q = q * self.scale
        scores = torch.matmul(q, k.transpose(-1, -2))
        masked = (attention_mask == 0)[:, None, None, :].expand_as(scores)
        scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
        return self.out_lin(_merge_heads(torch.matmul(torch.softmax(scores, dim=-1), v)))


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lin1 = nn.Linear(c["dim"], c["hidden_dim"])
        self.lin2 = nn.Linear(c["hidden_dim"], c["dim"])
        self.act = activation(c["activation"])

    def forward(self, x):
        return self.lin2(self.act(self.lin1(x)))


class TransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)

    def forward(self, x, attention_mask):
        sa = self.sa_layer_norm(self.attention(x, attention_mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class DistilTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(c) for _ in range(c["n_layers"])])

    def forward(self, x, attention_mask):
        for lay in self.layer:
            x = lay(x, attention_mask)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c.get("sinusoidal_pos_embds"):
            # With sinusoidal positions the table is still saved in the state dict, so the forward
            # below stays correct as long as the file holds it; we only never generate one.
            pass
        self.config = c
        self.embeddings = DistilEmbeddings(c)
        self.transformer = DistilTransformer(c)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        """token_type_ids is accepted for a uniform signature and ignored, as DistilBERT has none."""
        return self.transformer(self.embeddings(input_ids), attention_mask)

    def pool(self, h):
        return None


def build(config):
    """Returns the reference module for a Hugging Face config dict (float32, untrained)."""
    mt = config.get("model_type")
    if mt in ("bert", "roberta", "xlm-roberta", "camembert"):
        return BertModel(config)
    if mt == "distilbert":
        return DistilBertModel(config)
    raise ValueError(f"config.json: model_type {mt!r} is not supported by the reference")


def max_tokens(config):
    """The longest input (special tokens included) the model's position table can hold."""
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert"):
        return config["max_position_embeddings"] - config["pad_token_id"] - 1
    return config["max_position_embeddings"]


# ---------------------------------------------------------------- sentence-transformers


def pool(h, mask, mode):
    """sentence-transformers Pooling for one mode: h [B, T, H], mask int [B, T] -> [B, H]."""
    m = mask.unsqueeze(-1).to(h.dtype)
    if mode == "cls":
        return h[:, 0]
    if mode == "mean":
        return (h * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    if mode == "max":
        return h.masked_fill(m == 0, -1e9).max(dim=1).values
    if mode == "lasttoken":
        # Right padding: the last valid position is (number of valid tokens) - 1.
        last = torch.clamp(mask.long().sum(1) - 1, min=0)
        return (h * m)[torch.arange(h.shape[0]), last]
    raise ValueError(f"pooling mode {mode!r} is not supported by the reference")


ST_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": torch.tanh,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.ReLU": F.relu,
}


def dense(x, weight, bias, activation_function):
    """sentence-transformers Dense: act(x W^T + b). weight [out, in], bias [out] or None."""
    return ST_ACTIVATIONS[activation_function](F.linear(x, weight, bias))


def normalize(x):
    """sentence-transformers Normalize: L2 normalisation along the last axis."""
    return F.normalize(x, p=2, dim=-1)
