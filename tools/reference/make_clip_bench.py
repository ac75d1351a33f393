#!/usr/bin/python3
"""A CLIPModel directory of the ViT-B/32 or ViT-B/16 vision shape (seeded random weights, a
one-layer text tower so that the file stays small) for bench/images.sh.
Usage: make_clip_bench.py b32|b16 OUT_DIR"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_clip import clip_tokenizer, save_safetensors, tower_weights  # noqa: E402


def main():
    shape, out = sys.argv[1], sys.argv[2]
    patch = {"b32": 32, "b16": 16}[shape]
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(5)
    tok, _, V, bos, eos = clip_tokenizer()
    t = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
             vocab_size=V, max_position_embeddings=77, hidden_act="quick_gelu",
             layer_norm_eps=1e-5, bos_token_id=bos, eos_token_id=eos, projection_dim=512)
    v = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
             num_attention_heads=12, image_size=224, patch_size=patch, hidden_act="quick_gelu",
             layer_norm_eps=1e-5, projection_dim=512)
    cfg = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 512,
           "text_config": t, "vision_config": v}
    w = {}
    tower_weights(g, "text_model", t, w, False, False, 77)
    tower_weights(g, "vision_model", v, w, False, True, (224 // patch) ** 2 + 1)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02  # noqa: E731
    w["text_model.embeddings.token_embedding.weight"] = r(V, 64)
    for n, h in (("text_model.final_layer_norm", 64), ("vision_model.post_layernorm", 768),
                 ("vision_model.pre_layrnorm", 768)):
        w[n + ".weight"] = torch.ones(h)
        w[n + ".bias"] = torch.zeros(h)
    w["vision_model.embeddings.patch_embedding.weight"] = r(768, 3, patch, patch)
    w["vision_model.embeddings.class_embedding"] = r(768)
    w["text_projection.weight"] = r(512, 64)
    w["visual_projection.weight"] = r(512, 768)
    w["logit_scale"] = torch.tensor(2.6592)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"))
    json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w"))
    json.dump({"crop_size": {"height": 224, "width": 224}, "do_center_crop": True,
               "do_normalize": True, "do_rescale": True, "do_resize": True,
               "image_mean": [0.48145466, 0.4578275, 0.40821073],
               "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
               "rescale_factor": 1 / 255, "size": {"shortest_edge": 224}},
              open(os.path.join(out, "preprocessor_config.json"), "w"))
    save_safetensors(os.path.join(out, "model.safetensors"), w)


if __name__ == "__main__":
    main()
