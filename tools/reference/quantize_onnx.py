#!/usr/bin/python3
"""Rewrites an fp32 ONNX encoder (export_onnx.py's model.onnx) into the int8 graph ONNX Runtime's
dynamic quantisation makes, so that `make bench` can time ORT's own int8 path beside Switchyard's.

What onnxruntime.quantization.quantize_dynamic does with its defaults (per_channel=False,
reduce_range=False, activation_type=QUInt8, weight_type=QInt8, MatMulConstBOnly: only a MatMul
whose B is a constant is quantised), written here with the onnx package alone (Debian's
python3-onnx; onnxruntime's Python package is not needed):

  - every MatMul whose B is a 2-D float initializer W [k, n] becomes
        DynamicQuantizeLinear(A) -> A_q (uint8), A_scale, A_zero_point   (per tensor, asymmetric)
        MatMulInteger(A_q, W_q, A_zero_point, W_zero_point) -> int32
        Cast(float) * (A_scale * W_scale)
    with W_q int8, symmetric (zero point 0), one scale for the whole tensor (max |W| / 127), or
    one per output column with --per-channel (quantize_dynamic(per_channel=True));
  - one DynamicQuantizeLinear per distinct activation tensor, shared by the MatMuls that read it
    (Q, K and V read the same layer input), as the quantizer does;
  - the bias Add, the attention MatMuls (both operands computed), Softmax, LayerNorm, GELU and the
    embeddings stay float32.

ONNX Runtime's graph optimiser (level "all", as bench/peer/ort_bench.js sets) then fuses each
DynamicQuantizeLinear + MatMulInteger + Cast + Mul chain into its DynamicQuantizeMatMul /
MatMulIntegerToFloat kernels (u8 x s8, VNNI where the CPU has it), exactly as it does for a model
quantize_dynamic wrote.

  /usr/bin/python3 tools/reference/quantize_onnx.py IN.onnx OUT.onnx [--per-channel]
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize_weight(w, per_channel):
    """Symmetric int8 of W [k, n]: returns (W_q int8 [k, n], scale float32 [] or [n])."""
    amax = np.abs(w).max(axis=0) if per_channel else np.abs(w).max()
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def rewrite(model, per_channel):
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    dql = {}  # activation tensor -> (A_q, A_scale, A_zero_point)
    nodes, new_inits, n_quantised = [], [], 0
    for node in g.node:
        w_name = node.input[1] if node.op_type == "MatMul" else None
        w_init = inits.get(w_name) if w_name else None
        if w_init is None or w_init.data_type != TensorProto.FLOAT or len(w_init.dims) != 2:
            nodes.append(node)
            continue
        a = node.input[0]
        if a not in dql:
            base = a.replace("/", "_").strip("_") + "_dql"
            dql[a] = (base + "_q", base + "_scale", base + "_zp")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(dql[a]), name=base))
        a_q, a_scale, a_zp = dql[a]
        wq, ws = quantize_weight(numpy_helper.to_array(w_init).astype(np.float32), per_channel)
        new_inits += [numpy_helper.from_array(wq, w_name + "_q"),
                      numpy_helper.from_array(ws, w_name + "_scale"),
                      numpy_helper.from_array(np.zeros(ws.shape, np.int8), w_name + "_zp")]
        out = node.output[0]
        base = (node.name or out).replace("/", "_").strip("_")
        nodes += [
            helper.make_node("MatMulInteger", [a_q, w_name + "_q", a_zp, w_name + "_zp"],
                             [base + "_i32"], name=base + "_MatMulInteger"),
            helper.make_node("Cast", [base + "_i32"], [base + "_f32"], to=TensorProto.FLOAT,
                             name=base + "_Cast"),
            helper.make_node("Mul", [a_scale, w_name + "_scale"], [base + "_scale"],
                             name=base + "_ScaleMul"),
            helper.make_node("Mul", [base + "_f32", base + "_scale"], [out], name=base + "_Mul"),
        ]
        n_quantised += 1
    used = {i for n in nodes for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    return n_quantised


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--per-channel", action="store_true",
                    help="one weight scale per output column (quantize_dynamic(per_channel=True))")
    args = ap.parse_args()
    model = onnx.load(args.input)
    n = rewrite(model, args.per_channel)
    if n == 0:
        sys.exit(f"{args.input}: no MatMul with a constant float32 B to quantise")
    onnx.checker.check_model(model)
    onnx.save(model, args.output)
    print(f"quantize_onnx: {n} MatMuls -> DynamicQuantizeLinear + MatMulInteger (int8 weights, "
          f"{'per channel' if args.per_channel else 'per tensor'}), written to {args.output}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
