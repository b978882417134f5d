#!/usr/bin/env python3
"""gen_dequant_ref.py — reference data for tests/test_quant.c, made with an
independent dequantizer (gguf-py's numpy code, `pip install gguf`).

Writes two files next to this script:
  dequant_ref.bin   random but valid blocks of every supported type and the
                    floats gguf-py makes of them. Little-endian:
                    "PBDQ", u32 version (1), u32 n_records, then per record
                    u32 ggml type, u32 n_elems, u32 n_bytes, n_bytes raw
                    bytes, n_elems f32.
  model_dequant_ref.txt
                    one line per tensor of the SmolLM2 model:
                    "name type n_elems checksum" where checksum (16 hex
                    digits) = sum over i of bits(y[i]) * (2i + 1) mod 2^64,
                    y the dequantized tensor in file order (ne[0] fastest).
                    Any change to any one float changes it (2i + 1 is odd).

Usage: python3 tests/data/gen_dequant_ref.py [MODEL]   (from the repo root)
"""
import os
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader
from gguf.quants import dequantize

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct.Q4_1.gguf"

rng = np.random.default_rng(20261127)

# (type, block elems, block bytes, byte offsets of the f16 scales in a block)
TYPES = [
    (T.F32, 1, 4, []),
    (T.F16, 1, 2, []),
    (T.BF16, 1, 2, []),
    (T.Q4_0, 32, 18, [0]),
    (T.Q4_1, 32, 20, [0, 2]),
    (T.Q5_0, 32, 22, [0]),
    (T.Q8_0, 32, 34, [0]),
    (T.Q4_K, 256, 144, [0, 2]),
    (T.Q6_K, 256, 210, [208]),
]


def finite_f16(n):
    """Random finite f16 bit patterns over every exponent (subnormals too)."""
    sign = rng.integers(0, 2, n, dtype=np.uint16) << 15
    exp = rng.integers(0, 31, n, dtype=np.uint16) << 10
    mant = rng.integers(0, 1024, n, dtype=np.uint16)
    return sign | exp | mant


def not_nan16(bits, exp_mask, mant_mask):
    """Replaces NaN patterns by infinities (NaN payloads are tested in C)."""
    nan = ((bits & exp_mask) == exp_mask) & ((bits & mant_mask) != 0)
    return np.where(nan, bits & ~np.uint16(mant_mask), bits).astype(np.uint16)


def random_blocks(qtype, belems, bbytes, scale_offs):
    if qtype == T.F32:
        n = 64
        raw = rng.integers(0, 2**32, n, dtype=np.uint32)
        exp = (raw >> 23) & 0xFF
        raw = np.where(exp == 0xFF, raw & 0x807FFFFF, raw).astype(np.uint32)  # finite
        return raw.view(np.uint8)
    if qtype == T.F16:
        return not_nan16(rng.integers(0, 2**16, 64, dtype=np.uint16), 0x7C00, 0x03FF).view(np.uint8)
    if qtype == T.BF16:
        return not_nan16(rng.integers(0, 2**16, 64, dtype=np.uint16), 0x7F80, 0x007F).view(np.uint8)
    nb = 8 if belems == 32 else 4
    raw = rng.integers(0, 256, (nb, bbytes), dtype=np.uint8)
    for off in scale_offs:
        raw[:, off:off + 2] = finite_f16(nb).view(np.uint8).reshape(nb, 2)
    return raw.reshape(-1)


def write_blocks():
    recs = []
    for qtype, belems, bbytes, scale_offs in TYPES:
        raw = random_blocks(qtype, belems, bbytes, scale_offs)
        y = dequantize(raw.copy(), qtype).astype(np.float32).reshape(-1)
        assert y.size == raw.size // bbytes * belems
        recs.append(struct.pack("<III", int(qtype), y.size, raw.size) + raw.tobytes() + y.tobytes())
    with open(os.path.join(HERE, "dequant_ref.bin"), "wb") as f:
        f.write(b"PBDQ" + struct.pack("<II", 1, len(recs)) + b"".join(recs))


def checksum(y):
    bits = y.reshape(-1).view(np.uint32).astype(np.uint64)
    w = np.arange(bits.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return int(np.sum(bits * w, dtype=np.uint64))


def write_model():
    r = GGUFReader(MODEL)
    lines = []
    for t in r.tensors:
        y = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32)
        assert y.size == t.n_elements
        lines.append(f"{t.name} {t.tensor_type.name} {t.n_elements} {checksum(y):016x}\n")
    with open(os.path.join(HERE, "model_dequant_ref.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    write_blocks()
    write_model()
