"""llama.cpp's own GGUF writer (gguf-py, from the llama.cpp tree that bench/llama/build_llama.sh
clones into bench/out/llama.cpp-src), shared by the scripts that hand llama.cpp the weights
Switchyard loads (bench/llama/make_models.py: the Qwen3 decoder shape of `make bench-llama`;
bench/llama/bert_gguf.py: the BERT shapes of `make bench`). gguf-py is used from that tree, not
installed, so the writer always matches the llama.cpp that reads the files; it needs only numpy.

write() takes the metadata as (key, value, gguf.GGUFValueType) triples so that every key is
spelled out exactly as llama.cpp reads it, and quantises to Q8_0 with gguf-py's quants module
(its Q8_0 is bit-exact with ggml's reference quantiser: per block of 32 weights along a row, an
fp16 scale max|w| / 127 and round(w / scale) as int8), as convert_hf_to_gguf.py does for
--outtype q8_0.
"""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRC = os.environ.get("LLAMA_SRC", os.path.join(REPO, "bench", "out", "llama.cpp-src"))
if not os.path.isdir(os.path.join(SRC, "gguf-py", "gguf")):
    sys.exit(f"{SRC}/gguf-py not found: run bench/llama/build_llama.sh first (it clones llama.cpp)")
sys.path.insert(0, os.path.join(SRC, "gguf-py"))
import gguf  # noqa: E402
from gguf import quants  # noqa: E402

import numpy as np  # noqa: E402

F32, Q8_0 = gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.Q8_0
# general.file_type of an all-F32 and a mostly-Q8_0 file
FILE_TYPE = {F32: gguf.LlamaFileType.ALL_F32, Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0}
POOLING = {"none": gguf.PoolingType.NONE, "mean": gguf.PoolingType.MEAN,
           "cls": gguf.PoolingType.CLS, "last": gguf.PoolingType.LAST}
TOKEN_NORMAL, TOKEN_CONTROL = gguf.TokenType.NORMAL, gguf.TokenType.CONTROL
V = gguf.GGUFValueType


def model_meta(name, arch, file_type, cfg):
    """The keys every GGUF of the benchmarks starts with: its name and file type (F32 or Q8_0),
    then arch's layer count, context, widths and query heads from a Hugging Face config.json."""
    return [
        ("general.name", name, V.STRING),
        ("general.file_type", FILE_TYPE[file_type], V.UINT32),
        (f"{arch}.block_count", cfg["num_hidden_layers"], V.UINT32),
        (f"{arch}.context_length", cfg["max_position_embeddings"], V.UINT32),
        (f"{arch}.embedding_length", cfg["hidden_size"], V.UINT32),
        (f"{arch}.feed_forward_length", cfg["intermediate_size"], V.UINT32),
        (f"{arch}.attention.head_count", cfg["num_attention_heads"], V.UINT32),
    ]


def write(path, arch, meta, tensors):
    """Writes a GGUF file (through PATH.tmp, so a failed run leaves no half file): arch is
    general.architecture (the writer adds it), meta a list of (key, value, GGUFValueType; for an
    array, the elements' type is that of the first), tensors a list of (name, float32 numpy array
    in PyTorch's row-major shape, F32 or Q8_0)."""
    w = gguf.GGUFWriter(path + ".tmp", arch)
    # The alignment is gguf's default (32); written out as the hand-rolled writer before did.
    w.add_custom_alignment(32)
    for key, value, vtype in meta:
        if vtype == V.ARRAY:
            w.add_array(key, value)
        else:
            w.add_key_value(key, int(value) if vtype in (V.UINT32, V.INT32) else value, vtype)
    for name, a, ttype in tensors:
        a = np.ascontiguousarray(a, dtype=np.float32)
        if ttype == Q8_0:
            w.add_tensor(name, quants.quantize(a, Q8_0), raw_dtype=Q8_0)
        else:
            w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".tmp", path)
