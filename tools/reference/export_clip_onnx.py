#!/usr/bin/python3
"""The vision tower of a CLIPModel directory (bench/images.sh, written by make_clip_bench.py) as
model.onnx for ONNX Runtime, with the same weights: pixel_values [batch, 3, S, S] ->
image_embeds [batch, projection_dim], the computation of make_clip.clip_vision (written from
transformers' modeling_clip.py) batched. Also writes pixels.f32 (the bench image preprocessed
as CLIPImageProcessor does) and embed.f32 (its embedding in PyTorch) for the check.
Usage: export_clip_onnx.py MODEL_DIR IMAGE"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_clip  # noqa: E402
import safetensors_io  # noqa: E402
from make_clip import clip_vision, encoder, preprocess  # noqa: E402


def layer_norm(w, pre, x, eps):
    # the normalised width from the weight (a constant), not from x's traced shape
    g = w[pre + ".weight"]
    return torch.nn.functional.layer_norm(x, (int(g.shape[0]),), g, w[pre + ".bias"], eps)


make_clip.layer_norm = layer_norm  # encoder() looks it up in make_clip at call time
from PIL import Image, ImageOps  # noqa: E402


class Vision(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        self.w = {k: torch.nn.Parameter(v, requires_grad=False) for k, v in w.items()
                  if k.startswith("vision_model.") or k == "visual_projection.weight"}
        for i, (k, v) in enumerate(self.w.items()):
            self.register_parameter("p%d" % i, v)
        self.cfg = cfg

    def forward(self, pixels):
        v = self.cfg["vision_config"]
        w = self.w
        x = torch.nn.functional.conv2d(pixels, w["vision_model.embeddings.patch_embedding.weight"],
                                       stride=v["patch_size"]).flatten(2).transpose(1, 2)
        cls = w["vision_model.embeddings.class_embedding"].view(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], 1) + w["vision_model.embeddings.position_embedding.weight"]
        x = layer_norm(w, "vision_model.pre_layrnorm", x, v["layer_norm_eps"])
        x = encoder(w, "vision_model", x, v, False)
        pooled = layer_norm(w, "vision_model.post_layernorm", x[:, 0], v["layer_norm_eps"])
        return pooled @ w["visual_projection.weight"].T


def main():
    d, image = sys.argv[1], sys.argv[2]
    torch.set_grad_enabled(False)
    cfg = json.load(open(os.path.join(d, "config.json")))
    pp = json.load(open(os.path.join(d, "preprocessor_config.json")))
    tensors, _ = safetensors_io.load(os.path.join(d, "model.safetensors"))
    w = {k: v.float() for k, v in tensors.items()}
    px = preprocess(ImageOps.exif_transpose(Image.open(image)).convert("RGB"), pp)
    m = Vision(w, cfg).eval()
    ref = clip_vision(w, cfg, px)
    got = m(px[None])[0]
    assert torch.nn.functional.cosine_similarity(ref, got, dim=0) > 0.99999
    px.numpy().astype("<f4").tofile(os.path.join(d, "pixels.f32"))
    ref.numpy().astype("<f4").tofile(os.path.join(d, "embed.f32"))
    torch.onnx.export(m, (px[None],), os.path.join(d, "model.onnx"), input_names=["pixel_values"],
                      output_names=["image_embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                      opset_version=14, do_constant_folding=True)


if __name__ == "__main__":
    main()
