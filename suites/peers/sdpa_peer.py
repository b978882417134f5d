"""sdpa_peer.py — the peers of purbo's attention kernels, timed the same way.

Runs torch's scaled_dot_product_attention with the cuDNN backend and the
FlashAttention-2 backend (and FlexAttention dense causal with --flex) on the
shapes and lengths of kernels/cuda/dev/attn_{prefill,decode}.cu, in the same
memory layout (token-major (n, heads, d) viewed as (1, heads, n, d)), GQA
through enable_gqa (falls back to materialised K/V repeats, flagged
gqa=repeat, when a backend refuses it). Timing: warm-up, median of >= 10
launches timed with CUDA events, inputs rotated over > 150 MB. Prints the same
RESULT lines as the dev harnesses, plus the ceilings measured here.

    python3 sdpa_peer.py [--op prefill,decode] [--nmax-prefill N] [--nmax-decode N] [--flex]

Run it with the GPU machine's python3 (PyTorch 2.11), in the same call as
the kernels it is compared with.
"""
import argparse
import math
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

SHAPES = [("llama3-8b", 32, 8, 128), ("smollm2", 9, 3, 64)]
BACKENDS = [("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION), ("sdpa_fa2", SDPBackend.FLASH_ATTENTION)]


def card():
    name = torch.cuda.get_device_name(0)
    for c in ("H100", "H200"):
        if c in name:
            return c
    return name.replace(" ", "_")


def time_us(fn, reps, warmup=2):
    """Median time of one launch (us). Each sample is a burst of back-to-back
    launches (~0.5 ms) between two CUDA events, so host overhead stays hidden;
    the same method as kernels/cuda/dev/dev_common.cuh."""
    i = 0
    for _ in range(warmup):
        fn(i)
        i += 1
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    a.record()
    fn(i)
    i += 1
    b.record()
    b.synchronize()
    one = a.elapsed_time(b)
    burst = int(min(50, max(1, math.ceil(0.5 / max(one, 1e-4)))))
    ts = []
    for _ in range(reps):
        a.record()
        for _ in range(burst):
            fn(i)
            i += 1
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1000.0 / burst)
    ts.sort()
    return ts[len(ts) // 2]


def ceilings():
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    us = time_us(lambda i: torch.mm(a, b), 10, 3)
    tf = 2 * n ** 3 / (us * 1e-6) / 1e12
    x = torch.empty(1 << 30, device="cuda", dtype=torch.uint8).fill_(1)
    y = torch.empty_like(x)
    us = time_us(lambda i: y.copy_(x), 10, 2)
    gbs = 2 * x.numel() / (us * 1e-6) / 1e9
    print(f"CEILING card={card()} source=torch gemm_bf16_8192_tflops={tf:.0f} copy_gbs={gbs:.0f}", flush=True)
    del a, b, x, y


def sdpa(backend, q, k, v, causal, gqa):
    with sdpa_kernel([backend]):
        if gqa == "native":
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        g = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1),
                                              is_causal=causal)


def pick_gqa(backend, q, k, v, causal):
    for gqa in ("native", "repeat"):
        try:
            sdpa(backend, q, k, v, causal, gqa)
            torch.cuda.synchronize()
            return gqa
        except RuntimeError as e:
            print(f"# {backend}: gqa={gqa} refused: {str(e).splitlines()[0][:160]}", flush=True)
    return None


def views(buf, n, heads, d, s):
    """Set s of a flat buffer as (1, heads, n, d), token-major underneath."""
    return buf[s * n * heads * d:(s + 1) * n * heads * d].view(1, n, heads, d).transpose(1, 2)


def run_prefill(nmax, flex):
    for name, H, KVH, D in SHAPES:
        qb = (torch.rand(nmax * H * D, device="cuda") * 4 - 2).to(torch.bfloat16)
        kb = (torch.rand(nmax * KVH * D, device="cuda") * 4 - 2).to(torch.bfloat16)
        vb = (torch.rand(nmax * KVH * D, device="cuda") * 2 - 1).to(torch.bfloat16)
        n = 4096
        while n <= nmax:
            sets = min(nmax // n, (150 << 20) // (n * (H + 2 * KVH) * D * 2) + 1)
            flops = 2.0 * n * n * D * H
            reps = 30 if n <= 16384 else 10
            for kname, be in BACKENDS:
                q, k, v = views(qb, n, H, D, 0), views(kb, n, KVH, D, 0), views(vb, n, KVH, D, 0)
                gqa = pick_gqa(be, q, k, v, True)
                if gqa is None:
                    continue
                us = time_us(lambda i: sdpa(be, views(qb, n, H, D, i % sets), views(kb, n, KVH, D, i % sets),
                                            views(vb, n, KVH, D, i % sets), True, gqa), reps)
                print(f"RESULT op=prefill kernel={kname} card={card()} shape={name} n_head={H} n_kv_head={KVH} "
                      f"d={D} n={n} us={us:.1f} tflops={flops / (us * 1e-6) / 1e12:.1f} gqa={gqa} sets={sets}",
                      flush=True)
            if flex and name == "llama3-8b" and n in (32768, 131072):
                run_flex(qb, kb, vb, n, H, KVH, D, sets, flops, name)
            n *= 2
        del qb, kb, vb
        torch.cuda.empty_cache()


def run_flex(qb, kb, vb, n, H, KVH, D, sets, flops, name):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    fa = torch.compile(flex_attention, dynamic=False)
    bm = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, n, n, device="cuda")
    fn = lambda i: fa(views(qb, n, H, D, i % sets), views(kb, n, KVH, D, i % sets), views(vb, n, KVH, D, i % sets),
                      block_mask=bm, enable_gqa=True)
    us = time_us(fn, 10, 3)
    print(f"RESULT op=prefill kernel=flex_dense card={card()} shape={name} n_head={H} n_kv_head={KVH} d={D} "
          f"n={n} us={us:.1f} tflops={flops / (us * 1e-6) / 1e12:.1f} gqa=native sets={sets}", flush=True)


def run_decode(nmax):
    for name, H, KVH, D in SHAPES:
        kb = (torch.rand(nmax * KVH * D, device="cuda") * 4 - 2).to(torch.bfloat16)
        vb = (torch.rand(nmax * KVH * D, device="cuda") * 2 - 1).to(torch.bfloat16)
        qb = (torch.rand(64 * H * D, device="cuda") * 4 - 2).to(torch.bfloat16)
        n = 4096
        while n <= nmax:
            set_bytes = n * KVH * D * 2 * 2
            sets = min(nmax // n, (150 << 20) // set_bytes + 1)
            for kname, be in BACKENDS:
                q = views(qb, 1, H, D, 0)
                k, v = views(kb, n, KVH, D, 0), views(vb, n, KVH, D, 0)
                gqa = pick_gqa(be, q, k, v, False)
                if gqa is None:
                    continue
                us = time_us(lambda i: sdpa(be, views(qb, 1, H, D, i % 64), views(kb, n, KVH, D, i % sets),
                                            views(vb, n, KVH, D, i % sets), False, gqa), 30, 3)
                print(f"RESULT op=decode kernel={kname} card={card()} shape={name} n_head={H} n_kv_head={KVH} "
                      f"d={D} n={n} us={us:.1f} gbs={set_bytes / (us * 1e-6) / 1e9:.0f} gqa={gqa} sets={sets}",
                      flush=True)
            n *= 2
        del kb, vb, qb
        torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--op", default="prefill,decode")
    ap.add_argument("--nmax-prefill", type=int, default=131072)
    ap.add_argument("--nmax-decode", type=int, default=1 << 20)
    ap.add_argument("--flex", action="store_true")
    a = ap.parse_args()
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"cudnn {torch.backends.cudnn.version()}", flush=True)
    ceilings()
    if "prefill" in a.op:
        run_prefill(a.nmax_prefill, a.flex)
    if "decode" in a.op:
        run_decode(a.nmax_decode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
