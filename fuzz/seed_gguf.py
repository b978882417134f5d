#!/usr/bin/env python3
"""seed_gguf.py — seed corpus for fuzz/fuzz_gguf.c, written with an
independent GGUF writer (gguf-py, `pip install gguf`).

Writes into fuzz/corpus_gguf/ (git-ignored): the model's first 64 KB, a
small model-like file (every model key, arrays shortened to 16 entries,
three small tensors cut from the model), a file with one key of every value
type and a tensor of every supported type, the same with alignment 8, and
an empty GGUF. Run from the repo root: python3 fuzz/seed_gguf.py
"""
import os

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader, GGUFValueType as V, GGUFWriter

MODEL = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = "fuzz/corpus_gguf"
rng = np.random.default_rng(7)


def all_types(path, alignment=None):
    w = GGUFWriter(path, "llama")
    if alignment:
        w.add_custom_alignment(alignment)
    for i, vt in enumerate([V.UINT8, V.INT8, V.UINT16, V.INT16, V.UINT32, V.INT32, V.FLOAT32,
                            V.UINT64, V.INT64, V.FLOAT64]):
        w.add_key_value(f"t.{vt.name.lower()}", i + 1, vt)
    w.add_key_value("t.bool", True, V.BOOL)
    w.add_key_value("t.str", "hello", V.STRING)
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_str", ["a", "bc", ""])
    w.add_array("t.arr_f32", [0.5, -1.5])
    w.add_key_value("t.arr_bool", [True, False], V.ARRAY, sub_type=V.BOOL)
    w.add_tensor("f32", rng.standard_normal((2, 4)).astype(np.float32))
    w.add_tensor("f16", rng.standard_normal(8).astype(np.float16))
    # (type, block elems, block bytes, f16 scale offsets)
    for qt, be, bb, scales in [(T.BF16, 1, 2, []), (T.Q4_0, 32, 18, [0]), (T.Q4_1, 32, 20, [0, 2]),
                               (T.Q5_0, 32, 22, [0]), (T.Q8_0, 32, 34, [0]),
                               (T.Q4_K, 256, 144, [0, 2]), (T.Q6_K, 256, 210, [208])]:
        nb = 2 if be == 256 else 4
        raw = rng.integers(0, 256, (nb, bb), dtype=np.uint8)
        for o in scales:
            raw[:, o:o + 2] = np.full(nb, 0.25, np.float16).view(np.uint8).reshape(nb, 2)
        if qt == T.BF16:
            raw = np.full(nb * bb // 2, 0x3f80, np.uint16).view(np.uint8).reshape(nb, bb)
        w.add_tensor(qt.name.lower(), raw, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def model_like(path):
    r = GGUFReader(MODEL)
    w = GGUFWriter(path, "llama")
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        vt = f.types[0]
        if vt == V.ARRAY:
            sub = f.types[1]
            vals = [f.contents(i) for i in range(min(16, len(f.data)))]
            w.add_key_value(f.name, vals, V.ARRAY, sub_type=sub)
        else:
            w.add_key_value(f.name, f.contents(), vt)
    for t in r.tensors:
        if t.name in ("blk.0.attn_norm.weight", "output_norm.weight"):
            w.add_tensor(t.name, np.array(t.data[:64]))
        if t.name == "blk.0.attn_k.weight":
            w.add_tensor(t.name, np.array(t.data[:2]), raw_dtype=T.Q4_1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(MODEL, "rb") as f, open(f"{OUT}/model_head64k.gguf", "wb") as o:
        o.write(f.read(65536))
    model_like(f"{OUT}/model_like.gguf")
    all_types(f"{OUT}/all_types.gguf")
    all_types(f"{OUT}/all_types_align8.gguf", alignment=8)
    w = GGUFWriter(f"{OUT}/empty.gguf", "llama")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()


if __name__ == "__main__":
    main()
