"""sparse_peer.py — the torch peers of purbo's block-sparse attention kernels,
timed on the very block lists the kernels were timed on, in the same GPU call.

    python3 sparse_peer.py DIR

DIR holds the lists the dev harness wrote (kernels/cuda/dev/attn_sparse.cu
--dump DIR): lists_SHAPE_N_RHO.bin (prefill: one list per 64-query block and
head) and lists_SHAPE_decode_N_RHO.bin (decode: one list per head); each is
int32 n, n_head, n_kv_head, d, n_items, pad; int64 off[n_items + 1]; int32
idx[] (CSR, ascending, 64-key blocks). For each file:
  - prefill: cuDNN SDPA dense causal at n (once per shape and n), and
    FlexAttention given the same lists as a BlockMask of 64 x 64 blocks
    (the diagonal block partial with the causal mask_mod, the others full),
    GQA native; FLOPs counted as the harness counts them (4*64*64*d per
    listed block, the diagonal half), so the TFLOP/s compare per computed
    block;
  - decode: cuDNN SDPA dense decode at n (once per shape and n) and flex on
    the lists (one query, every listed block full).
Timing, inputs and the RESULT line format: sdpa_peer.py (imported; its
time_us is the method of kernels/cuda/dev/dev_common.cuh). A peer that
fails prints "# ... failed: REASON" and the others go on.
"""
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdpa_peer as sp  # noqa: E402

BLOCK = 64


def read_lists(path):
    hdr = np.fromfile(path, dtype=np.int32, count=6)
    n, H, KVH, D, n_items = (int(x) for x in hdr[:5])
    off = np.fromfile(path, dtype=np.int64, count=n_items + 1, offset=24)
    idx = np.fromfile(path, dtype=np.int32, offset=24 + 8 * (n_items + 1))
    return n, H, KVH, D, n_items, off, idx


def inputs(n_q, n, H, KVH, D):
    t = sp.torch
    q = (t.rand(n_q * H * D, device="cuda") * 4 - 2).to(t.bfloat16)
    k = (t.rand(n * KVH * D, device="cuda") * 4 - 2).to(t.bfloat16)
    v = (t.rand(n * KVH * D, device="cuda") * 2 - 1).to(t.bfloat16)
    return sp.views(q, n_q, H, D, 0), sp.views(k, n, KVH, D, 0), sp.views(v, n, KVH, D, 0)


def cudnn_us(q, k, v, causal, reps):
    be = sp.SDPBackend.CUDNN_ATTENTION
    gqa = sp.pick_gqa(be, q, k, v, causal)
    if gqa is None:
        return None, None
    with sp.sdpa_kernel([be]):
        return sp.time_us(lambda i: sp.attend(q, k, v, causal, gqa), reps), gqa


def block_mask(n_q, n, H, n_items, off, idx, decode):
    """BlockMask (1, H, n_qb, n_kb) from CSR lists; prefill: the diagonal
    block partial (causal mask_mod), the rest full; decode: all full."""
    t = sp.torch
    from torch.nn.attention.flex_attention import BlockMask
    n_qb, n_kb = n_items // H, (n + BLOCK - 1) // BLOCK
    off_t = t.from_numpy(off).cuda()
    idx_t = t.from_numpy(idx).cuda().long()
    counts = off_t[1:] - off_t[:-1]
    item = t.repeat_interleave(t.arange(n_items, device="cuda"), counts)
    pos = t.arange(idx_t.numel(), device="cuda") - off_t[item]
    qb, h = item // H, item % H
    diag = (idx_t == qb) if not decode else t.zeros_like(idx_t, dtype=t.bool)
    has_diag = t.zeros(n_items, device="cuda", dtype=t.int64).index_add_(0, item[diag], t.ones_like(item[diag]))
    full_idx = t.zeros(H, n_qb, n_kb, device="cuda", dtype=t.int32)
    part_idx = t.zeros(H, n_qb, n_kb, device="cuda", dtype=t.int32)
    nd = ~diag
    full_idx[h[nd], qb[nd], pos[nd]] = idx_t[nd].int()  # the diagonal is each list's last entry
    part_idx[h[diag], qb[diag], 0] = idx_t[diag].int()
    full_num = (counts - has_diag).view(n_qb, H).t().contiguous().int()
    part_num = has_diag.view(n_qb, H).t().contiguous().int()
    return BlockMask.from_kv_blocks(part_num[None], part_idx[None], full_num[None], full_idx[None],
                                    BLOCK_SIZE=BLOCK, mask_mod=sp.causal_mask, seq_lengths=(n_q, n))


def flex_us(q, k, v, bm, reps):
    t = sp.torch
    from torch.nn.attention.flex_attention import flex_attention
    fa = t.compile(flex_attention, dynamic=False)
    for opts in (None, {"BLOCK_M": 64, "BLOCK_N": 64}):
        try:
            fa(q, k, v, block_mask=bm, enable_gqa=True, kernel_options=opts)
            t.cuda.synchronize()
        except Exception as e:  # noqa: BLE001 - report and try the next options
            print(f"# flex kernel_options={opts} refused: {sp.first_line(e)}", flush=True)
            continue
        us = sp.time_us(lambda i: fa(q, k, v, block_mask=bm, enable_gqa=True, kernel_options=opts), reps)
        return us, "default" if opts is None else "64x64"
    return None, None


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    sp.load_torch()
    t = sp.torch
    card = sp.card()
    print(f"device: {t.cuda.get_device_name(0)}, torch {t.__version__}, cudnn {t.backends.cudnn.version()}",
          flush=True)
    done = set()
    for path in sorted(glob.glob(os.path.join(d, "lists_*.bin"))):
        m = re.match(r"lists_(.+)_(\d+)_([0-9.e-]+)\.bin$", os.path.basename(path))
        if not m:
            continue
        name, rho = m.group(1), m.group(3)
        decode = name.endswith("_decode")
        shape = name[:-len("_decode")] if decode else name
        n, H, KVH, D, n_items, off, idx = read_lists(path)
        n_q = 1 if decode else n
        try:
            q, k, v = inputs(n_q, n, H, KVH, D)
            op = "decode" if decode else "prefill"
            reps = 20 if decode else (10 if n <= 131072 else 5)
            if (shape, n, op) not in done:
                done.add((shape, n, op))
                us, gqa = cudnn_us(q, k, v, not decode, reps)
                if us is not None:
                    print(f"RESULT op={op} kernel=sdpa_cudnn card={card} shape={shape} n={n} us={us:.2f} "
                          f"gqa={gqa}", flush=True)
            blocks = int(off[-1])
            flops = (blocks - (0 if decode else 0.5 * n_items)) * 4.0 * BLOCK * BLOCK * D
            bm = block_mask(n_q, n, H, n_items, off, idx, decode)
            us, opts = flex_us(q, k, v, bm, reps)
            if us is not None:
                print(f"RESULT op=sparse_{op} kernel=flex_lists card={card} shape={shape} n={n} rho={rho} "
                      f"blocks={blocks} us={us:.2f} tflops={flops / (us * 1e-6) / 1e12:.1f} options={opts}",
                      flush=True)
            del q, k, v, bm
        except Exception as e:  # noqa: BLE001 - one failed case must not end the others
            print(f"# {os.path.basename(path)} failed: {sp.first_line(e, 300)}", flush=True)
        t.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
