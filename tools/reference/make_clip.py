#!/usr/bin/python3
"""Independent reference for CLIP and SigLIP (src/model/arch/clip.c, src/image/): seeded random
weights in the exact Hugging Face layout, test images, and golden outputs.

Written from the published descriptions of transformers' modeling_clip.py / modeling_siglip.py
and their image processors (CLIPImageProcessor, SiglipImageProcessor); the computation below is
plain PyTorch, images go through Pillow (Debian's python3-pil) exactly as the processors do:
Image.open -> ImageOps.exif_transpose -> convert("RGB") -> resize(BICUBIC, reducing_gap=None) ->
center crop (top = (H - h) // 2) -> * rescale_factor -> (x - mean) / std.

Writes tests/fixtures/{clip-tiny,siglip-tiny}/ (config.json with text_config / vision_config,
preprocessor_config.json, tokenizer.json, model.safetensors), tests/fixtures/images/*, and
tests/golden/{clip-tiny,siglip-tiny,image-resize}.json. Run with Debian's /usr/bin/python3
(python3-torch, python3-pil, python3-numpy): `/usr/bin/python3 tools/reference/make_clip.py`.
"""
import base64
import io
import json
import math
import os
import re
import struct

import numpy as np
import torch
from PIL import Image, ImageOps

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIX = os.path.join(ROOT, "tests", "fixtures")
GOLD = os.path.join(ROOT, "tests", "golden")
IMG = os.path.join(FIX, "images")

TEXTS = ["a photo of a cat", "a photo of a dog", "red car!", "the blue dog"]
WORDS = ["a", "photo", "of", "cat", "dog", "red", "car", "the", "blue"]


# ---- safetensors writer ----

def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().contiguous().to(torch.float32).numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---- tokenizers ----

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_tokenizer():
    """A CLIP BPE tokenizer (byte-level alphabet, '</w>' word ends, merges that build WORDS),
    laid out as openai/clip-vit-base-patch32's tokenizer.json, and a Python encoder for it."""
    b2u = bytes_to_unicode()
    alphabet = list(b2u.values())
    vocab = {}
    for c in alphabet:
        vocab[c] = len(vocab)
    for c in alphabet:
        vocab[c + "</w>"] = len(vocab)
    merges = []
    for w in WORDS:
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            m = (parts[0], parts[1])
            if m not in merges:
                merges.append(m)
                if m[0] + m[1] not in vocab:
                    vocab[m[0] + m[1]] = len(vocab)
            parts = [parts[0] + parts[1]] + parts[2:]
    bos, eos = len(vocab), len(vocab) + 1
    vocab["<|startoftext|>"] = bos
    vocab["<|endoftext|>"] = eos
    ranks = {m: i for i, m in enumerate(merges)}

    def bpe(word):
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = [(ranks.get((parts[i], parts[i + 1]), 1 << 30), i) for i in range(len(parts) - 1)]
            r, _ = min(pairs)
            if r == 1 << 30:
                break
            a, b = merges[r]
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        return parts

    def encode(text):
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = [bos]
        for w in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", text):
            w = "".join(b2u[b] for b in w.encode())
            ids += [vocab[p] for p in bpe(w)]
        return ids + [eos]

    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [
            {"id": bos, "content": "<|startoftext|>", "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": True, "special": True},
            {"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": True, "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex":
                "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", eos],
                           "cls": ["<|startoftext|>", bos], "trim_offsets": False,
                           "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>",
                  "continuing_subword_prefix": "", "end_of_word_suffix": "</w>",
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": [a + " " + b for a, b in merges]},
    }
    return tok, encode, len(vocab), bos, eos


def siglip_tokenizer():
    """A SentencePiece Unigram tokenizer as tokenizer.json (Metaspace, '</s>' appended), whole
    words of WORDS as high-scoring pieces, and a Python encoder for texts made of them."""
    pieces = [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -5.0]]
    for w in WORDS:
        pieces.append(["\u2581" + w, -1.0])
    for c in "abcdefghijklmnopqrstuvwxyz!":
        pieces.append([c, -10.0])
    ids = {p: i for i, (p, _) in enumerate(pieces)}

    def encode(text):
        out = []
        for w in text.split():
            if w.endswith("!"):
                out += [ids["\u2581" + w[:-1]], ids["!"]]
            else:
                out.append(ids["\u2581" + w])
        return out + [1]

    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [
            {"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i, p in enumerate(["<pad>", "</s>", "<unk>"])],
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                          "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}},
                                    {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                    "split": True},
        "model": {"type": "Unigram", "unk_id": 2, "vocab": pieces, "byte_fallback": False},
    }
    return tok, encode, len(pieces)


def siglip_spm_tokenizer(d):
    """SigLIP as google/siglip-* ships it: spiece.model (trained here by the sentencepiece
    library, nmt_nfkc) and tokenizer_config.json, no tokenizer.json. The encoder is
    SiglipTokenizer's: lowercase, canonicalize_text (ASCII punctuation removed, whitespace runs
    made one space, stripped), sentencepiece, then </s>."""
    import string
    import sentencepiece as spm
    corpus = [t for t in TEXTS] + ["photos of cats and dogs", "the red car and the blue car",
                                   "a dog in the snow", "cats of the city"] * 10
    m = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=m,
                                   model_type="unigram", vocab_size=60, hard_vocab_limit=False,
                                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2)
    open(os.path.join(d, "spiece.model"), "wb").write(m.getvalue())
    json.dump({"tokenizer_class": "SiglipTokenizer", "do_lower_case": True,
               "model_max_length": 16, "eos_token": "</s>", "pad_token": "</s>",
               "unk_token": "<unk>"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    sp = spm.SentencePieceProcessor(model_proto=m.getvalue())

    def encode(text):
        text = text.lower().translate(str.maketrans("", "", string.punctuation))
        text = re.sub(r"\s+", " ", text).strip()
        return sp.encode(text) + [1]

    return encode, sp.get_piece_size()


# ---- images ----

def make_images():
    """Test images of several sizes, formats and modes (and an EXIF-rotated JPEG)."""
    os.makedirs(IMG, exist_ok=True)
    rng = np.random.RandomState(7)

    def smooth(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([(np.sin(x / (3 + k) + y / (5 + 2 * k) + k) * 0.5 + 0.5) for k in range(c)], -1)
        a = a * 200 + rng.randint(0, 55, size=(h, w, c))
        return a.clip(0, 255).astype(np.uint8)

    out = {}
    im = Image.fromarray(smooth(200, 300, 3), "RGB")
    im.save(os.path.join(IMG, "wide.jpg"), quality=90)
    out["wide.jpg"] = "jpeg"
    im = Image.fromarray(smooth(97, 64, 4), "RGBA")
    im.save(os.path.join(IMG, "alpha.png"))
    out["alpha.png"] = "png"
    im = Image.fromarray(smooth(50, 50, 3), "RGB").quantize(colors=40)
    im.save(os.path.join(IMG, "palette.png"))
    out["palette.png"] = "png"
    im = Image.fromarray(smooth(120, 40, 1)[:, :, 0], "L")
    im.save(os.path.join(IMG, "grey.png"))
    out["grey.png"] = "png"
    im = Image.fromarray(smooth(90, 160, 3), "RGB")
    im.save(os.path.join(IMG, "photo.webp"), quality=80)
    out["photo.webp"] = "webp"
    im = Image.fromarray(smooth(15, 20, 3), "RGB")
    im.save(os.path.join(IMG, "small.png"))
    out["small.png"] = "png"
    im = Image.fromarray(smooth(71, 33, 1)[:, :, 0], "L")
    im.save(os.path.join(IMG, "grey.jpg"), quality=85)
    out["grey.jpg"] = "jpeg"
    im = Image.fromarray(smooth(80, 120, 3), "RGB")
    ex = Image.Exif()
    ex[0x0112] = 6
    im.save(os.path.join(IMG, "rotated.jpg"), quality=90, exif=ex.tobytes())
    out["rotated.jpg"] = "jpeg"
    im = Image.fromarray(smooth(64, 48, 4), "RGBA")
    im.save(os.path.join(IMG, "alpha.webp"), lossless=True)
    out["alpha.webp"] = "webp"
    # Bad images: truncated, corrupt, unsupported.
    data = open(os.path.join(IMG, "wide.jpg"), "rb").read()
    open(os.path.join(IMG, "truncated.jpg"), "wb").write(data[: len(data) // 2])
    data = open(os.path.join(IMG, "alpha.png"), "rb").read()
    open(os.path.join(IMG, "corrupt.png"), "wb").write(data[:60] + bytes(200) + data[260:])
    buf = io.BytesIO()
    Image.fromarray(smooth(10, 10, 3), "RGB").save(buf, "GIF")
    open(os.path.join(IMG, "unsupported.gif"), "wb").write(buf.getvalue())
    return out


def load_rgb(name):
    im = Image.open(os.path.join(IMG, name))
    im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def preprocess(im, pp):
    """CLIPImageProcessor / SiglipImageProcessor on an RGB PIL image -> [3][h][w] float32."""
    w, h = im.size
    if "shortest_edge" in pp["size"]:
        s = pp["size"]["shortest_edge"]
        short, long = (w, h) if w <= h else (h, w)
        nl = int(s * long / short)
        nw, nh = (s, nl) if w <= h else (nl, s)
    else:
        nw, nh = pp["size"]["width"], pp["size"]["height"]
    a = np.array(im.resize((nw, nh), resample=Image.BICUBIC, reducing_gap=None))
    if pp.get("do_center_crop"):
        ch, cw = pp["crop_size"]["height"], pp["crop_size"]["width"]
        top, left = (nh - ch) // 2, (nw - cw) // 2
        a = a[top:top + ch, left:left + cw]
    a = (a.astype(np.float64) * pp["rescale_factor"]).astype(np.float32)
    mean = np.array(pp["image_mean"], dtype=np.float32)
    std = np.array(pp["image_std"], dtype=np.float32)
    a = (a - mean) / std
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


# ---- models ----

def act(name, x):
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if name in ("gelu_pytorch_tanh", "gelu_new"):
        return torch.nn.functional.gelu(x, approximate="tanh")
    return torch.nn.functional.gelu(x)


def layer_norm(w, pre, x, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], w[pre + ".weight"], w[pre + ".bias"], eps)


def linear(w, pre, x, bias=True):
    y = x @ w[pre + ".weight"].T
    return y + w[pre + ".bias"] if bias else y


def attention(w, pre, x, nh, causal):
    B, T, H = x.shape
    hd = H // nh
    q = linear(w, pre + ".q_proj", x) * hd ** -0.5
    k = linear(w, pre + ".k_proj", x)
    v = linear(w, pre + ".v_proj", x)
    q, k, v = (t.view(B, T, nh, hd).transpose(1, 2) for t in (q, k, v))
    s = q @ k.transpose(-1, -2)
    if causal:
        s = s + torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    p = torch.softmax(s, -1)
    o = (p @ v).transpose(1, 2).reshape(B, T, H)
    return linear(w, pre + ".out_proj", o)


def encoder(w, pre, x, cfg, causal):
    for i in range(cfg["num_hidden_layers"]):
        L = "%s.encoder.layers.%d" % (pre, i)
        r = x
        x = layer_norm(w, L + ".layer_norm1", x, cfg["layer_norm_eps"])
        x = r + attention(w, L + ".self_attn", x, cfg["num_attention_heads"], causal)
        r = x
        x = layer_norm(w, L + ".layer_norm2", x, cfg["layer_norm_eps"])
        x = r + linear(w, L + ".mlp.fc2", act(cfg["hidden_act"], linear(w, L + ".mlp.fc1", x)))
    return x


def patches(w, pre, pixels, cfg, bias):
    p = cfg["patch_size"]
    x = torch.nn.functional.conv2d(pixels, w[pre + ".embeddings.patch_embedding.weight"],
                                   w[pre + ".embeddings.patch_embedding.bias"] if bias else None,
                                   stride=p)
    return x.flatten(2).transpose(1, 2)


def clip_text(w, cfg, ids):
    t = cfg["text_config"]
    x = w["text_model.embeddings.token_embedding.weight"][ids] + \
        w["text_model.embeddings.position_embedding.weight"][: len(ids)]
    x = encoder(w, "text_model", x[None], t, True)
    x = layer_norm(w, "text_model.final_layer_norm", x, t["layer_norm_eps"])[0]
    ids_t = torch.tensor(ids)
    if t["eos_token_id"] == 2:
        pos = int(ids_t.argmax())
    else:
        pos = int((ids_t == t["eos_token_id"]).int().argmax())
    return x[pos] @ w["text_projection.weight"].T


def clip_vision(w, cfg, pixels):
    v = cfg["vision_config"]
    x = patches(w, "vision_model", pixels[None], v, False)
    cls = w["vision_model.embeddings.class_embedding"].view(1, 1, -1)
    x = torch.cat([cls, x], 1) + w["vision_model.embeddings.position_embedding.weight"]
    x = layer_norm(w, "vision_model.pre_layrnorm", x, v["layer_norm_eps"])
    x = encoder(w, "vision_model", x, v, False)
    pooled = layer_norm(w, "vision_model.post_layernorm", x[:, 0], v["layer_norm_eps"])
    return (pooled @ w["visual_projection.weight"].T)[0]


def siglip_text(w, cfg, ids):
    t = cfg["text_config"]
    P = t["max_position_embeddings"]
    ids = (ids[:P] + [t["pad_token_id"]] * P)[:P]
    x = w["text_model.embeddings.token_embedding.weight"][ids] + \
        w["text_model.embeddings.position_embedding.weight"][:P]
    x = encoder(w, "text_model", x[None], t, False)
    x = layer_norm(w, "text_model.final_layer_norm", x, t["layer_norm_eps"])[0]
    return linear(w, "text_model.head", x[-1]), ids


def siglip_vision(w, cfg, pixels):
    v = cfg["vision_config"]
    H, nh = v["hidden_size"], v["num_attention_heads"]
    x = patches(w, "vision_model", pixels[None], v, True)
    x = x + w["vision_model.embeddings.position_embedding.weight"]
    x = encoder(w, "vision_model", x, v, False)
    x = layer_norm(w, "vision_model.post_layernorm", x, v["layer_norm_eps"])
    # Multihead attention pooling: one learned probe attends over the patches.
    pre = "vision_model.head"
    Wi, bi = w[pre + ".attention.in_proj_weight"], w[pre + ".attention.in_proj_bias"]
    q = w[pre + ".probe"][0] @ Wi[:H].T + bi[:H]
    k = x[0] @ Wi[H:2 * H].T + bi[H:2 * H]
    vv = x[0] @ Wi[2 * H:].T + bi[2 * H:]
    hd = H // nh
    q, k, vv = q.view(1, nh, hd).transpose(0, 1), k.view(-1, nh, hd).transpose(0, 1), \
        vv.view(-1, nh, hd).transpose(0, 1)
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1)
    o = (p @ vv).transpose(0, 1).reshape(1, H)
    o = linear(w, pre + ".attention.out_proj", o)
    r = o
    o = layer_norm(w, pre + ".layernorm", o, v["layer_norm_eps"])
    o = r + linear(w, pre + ".mlp.fc2", act(v["hidden_act"], linear(w, pre + ".mlp.fc1", o)))
    return o[0]


def tower_weights(g, pre, c, w, bias_patch, cls, pos_n):
    H, I = c["hidden_size"], c["intermediate_size"]

    def r(*shape, s=0.2):
        return torch.randn(*shape, generator=g) * s

    for i in range(c["num_hidden_layers"]):
        L = "%s.encoder.layers.%d" % (pre, i)
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w["%s.self_attn.%s.weight" % (L, n)] = r(H, H)
            w["%s.self_attn.%s.bias" % (L, n)] = r(H, s=0.05)
        for n in ("layer_norm1", "layer_norm2"):
            w["%s.%s.weight" % (L, n)] = 1 + r(H, s=0.1)
            w["%s.%s.bias" % (L, n)] = r(H, s=0.05)
        w[L + ".mlp.fc1.weight"] = r(I, H)
        w[L + ".mlp.fc1.bias"] = r(I, s=0.05)
        w[L + ".mlp.fc2.weight"] = r(H, I)
        w[L + ".mlp.fc2.bias"] = r(H, s=0.05)
    w[pre + ".embeddings.position_embedding.weight"] = r(pos_n, H)


def build(kind):
    g = torch.Generator().manual_seed({"clip": 1234, "siglip": 4321}.get(kind, 777))
    r = lambda *s, sc=0.2: torch.randn(*s, generator=g) * sc  # noqa: E731
    H, I = 32, 64
    common = {"hidden_size": H, "intermediate_size": I, "num_hidden_layers": 2,
              "num_attention_heads": 4}
    if kind == "clip":
        tok, encode, V, bos, eos = clip_tokenizer()
        t = dict(common, model_type="clip_text_model", vocab_size=V, max_position_embeddings=16,
                 hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=bos,
                 eos_token_id=eos, pad_token_id=1, projection_dim=16)
        v = dict(common, model_type="clip_vision_model", image_size=32, patch_size=8,
                 num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16)
        cfg = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 16,
               "logit_scale_init_value": 2.6592, "text_config": t, "vision_config": v,
               "torch_dtype": "float32"}
        pp = {"crop_size": {"height": 32, "width": 32}, "do_center_crop": True,
              "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
              "image_mean": [0.48145466, 0.4578275, 0.40821073],
              "image_std": [0.26862954, 0.26130258, 0.27577711],
              "image_processor_type": "CLIPImageProcessor", "resample": 3,
              "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 32}}
    else:
        tok = None
        if kind == "siglip-spm":
            os.makedirs(os.path.join(FIX, kind + "-tiny"), exist_ok=True)
            encode, V = siglip_spm_tokenizer(os.path.join(FIX, kind + "-tiny"))
        else:
            tok, encode, V = siglip_tokenizer()
        t = dict(common, model_type="siglip_text_model", vocab_size=V, max_position_embeddings=16,
                 hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, pad_token_id=1,
                 eos_token_id=1, projection_size=H)
        v = dict(common, model_type="siglip_vision_model", image_size=32, patch_size=8,
                 num_channels=3, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
        cfg = {"architectures": ["SiglipModel"], "model_type": "siglip", "text_config": t,
               "vision_config": v, "torch_dtype": "float32"}
        pp = {"do_normalize": True, "do_rescale": True, "do_resize": True,
              "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
              "image_processor_type": "SiglipImageProcessor", "processor_class": "SiglipProcessor",
              "resample": 3, "rescale_factor": 0.00392156862745098,
              "size": {"height": 32, "width": 32}}
    w = {}
    tower_weights(g, "text_model", t, w, False, False, t["max_position_embeddings"])
    n_patch = (v["image_size"] // v["patch_size"]) ** 2
    tower_weights(g, "vision_model", v, w, kind != "clip", kind == "clip",
                  n_patch + (1 if kind == "clip" else 0))
    w["text_model.embeddings.token_embedding.weight"] = r(V, H, sc=0.5)
    for n in ("text_model.final_layer_norm", "vision_model.post_layernorm") + \
            (("vision_model.pre_layrnorm",) if kind == "clip" else ("vision_model.head.layernorm",)):
        w[n + ".weight"] = 1 + r(H, sc=0.1)
        w[n + ".bias"] = r(H, sc=0.05)
    p = v["patch_size"]
    w["vision_model.embeddings.patch_embedding.weight"] = r(H, 3, p, p, sc=0.1)
    if kind == "clip":
        w["vision_model.embeddings.class_embedding"] = r(H, sc=0.5)
        w["text_projection.weight"] = r(16, H)
        w["visual_projection.weight"] = r(16, H)
        w["logit_scale"] = torch.tensor(2.6592)
    else:
        w["vision_model.embeddings.patch_embedding.bias"] = r(H, sc=0.05)
        w["text_model.head.weight"] = r(H, H)
        w["text_model.head.bias"] = r(H, sc=0.05)
        w["vision_model.head.probe"] = r(1, 1, H, sc=0.5)
        w["vision_model.head.attention.in_proj_weight"] = r(3 * H, H)
        w["vision_model.head.attention.in_proj_bias"] = r(3 * H, sc=0.05)
        w["vision_model.head.attention.out_proj.weight"] = r(H, H)
        w["vision_model.head.attention.out_proj.bias"] = r(H, sc=0.05)
        w["vision_model.head.mlp.fc1.weight"] = r(I, H)
        w["vision_model.head.mlp.fc1.bias"] = r(I, sc=0.05)
        w["vision_model.head.mlp.fc2.weight"] = r(H, I)
        w["vision_model.head.mlp.fc2.bias"] = r(H, sc=0.05)
        w["logit_scale"] = torch.tensor([math.log(10.0)])
        w["logit_bias"] = torch.tensor([-2.5])
    d = os.path.join(FIX, kind + "-tiny")
    os.makedirs(d, exist_ok=True)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    json.dump(pp, open(os.path.join(d, "preprocessor_config.json"), "w"), indent=1)
    if tok is not None:
        json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w"), ensure_ascii=False)
    save_safetensors(os.path.join(d, "model.safetensors"), w)
    return cfg, pp, w, encode


def main():
    torch.set_grad_enabled(False)
    images = make_images()
    os.makedirs(GOLD, exist_ok=True)
    # Resize corpus: PIL's bicubic on every image to sizes up and down.
    resize = []
    for name in images:
        im = load_rgb(name)
        for (w, h) in [(32, 32), (17, 50), (100, 67), (im.size[0] // 3 + 1, im.size[1] * 2)]:
            a = np.array(im.resize((w, h), resample=Image.BICUBIC, reducing_gap=None))
            resize.append({"image": name, "w": w, "h": h,
                           "rgb": base64.b64encode(a.tobytes()).decode()})
    decoded = {n: {"w": load_rgb(n).size[0], "h": load_rgb(n).size[1],
                   "rgb": base64.b64encode(np.array(load_rgb(n)).tobytes()).decode()}
               for n in images}
    json.dump({"decoded": decoded, "resize": resize},
              open(os.path.join(GOLD, "image-resize.json"), "w"))
    for kind in ("clip", "siglip", "siglip-spm"):
        cfg, pp, w, encode = build(kind)
        texts = []
        for t in TEXTS + (["The Blue DOG.", "  a   Photo,of a CAT "] if kind == "siglip-spm" else []):
            ids = encode(t)
            if kind == "clip":
                e, used = clip_text(w, cfg, ids), ids
            else:
                e, used = siglip_text(w, cfg, ids)
            texts.append({"text": t, "ids": used, "embed": e.tolist()})
        imgs = []
        for name, fmt in images.items():
            px = preprocess(load_rgb(name), pp)
            e = (clip_vision if kind == "clip" else siglip_vision)(w, cfg, px)
            imgs.append({"image": name, "format": fmt, "embed": e.tolist(),
                         "pixels": px.flatten().tolist() if name in ("wide.jpg", "alpha.png") else None})
        # Zero-shot: the first text against every image.
        tq = torch.tensor(texts[0]["embed"])
        iv = torch.tensor([i["embed"] for i in imgs])
        cos = torch.nn.functional.normalize(iv, dim=-1) @ torch.nn.functional.normalize(tq, dim=0)
        logits = cos * w["logit_scale"].exp().reshape(())
        if kind == "clip":
            scores = torch.softmax(logits, 0)
        else:
            scores = torch.sigmoid(logits + w["logit_bias"].reshape(()))
        # Zero-shot classification: the first image against every text (the labels).
        te = torch.nn.functional.normalize(torch.tensor([t["embed"] for t in texts]), dim=-1)
        lg = (te @ torch.nn.functional.normalize(iv[0], dim=0)) * w["logit_scale"].exp().reshape(())
        label_scores = torch.softmax(lg, 0) if kind == "clip" else \
            torch.sigmoid(lg + w["logit_bias"].reshape(()))
        json.dump({"texts": texts, "images": imgs, "query": TEXTS[0], "scores": scores.tolist(),
                   "image_query": imgs[0]["image"], "label_scores": label_scores.tolist()},
                  open(os.path.join(GOLD, kind + "-tiny.json"), "w"))
    print("wrote", FIX, GOLD)


if __name__ == "__main__":
    main()
