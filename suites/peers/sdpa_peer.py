"""sdpa_peer.py — the peers of purbo's attention kernels, timed the same way.

Runs torch's scaled_dot_product_attention with the cuDNN backend and the
FlashAttention-2 backend, and FlexAttention (dense causal for prefill, no
mask for decode), in the same memory layout as purbo's kernels (token-major
(n, heads, d) viewed as (1, heads, n, d); q, k uniform in [-2, 2), v in
[-1, 1), bf16), GQA through enable_gqa (falls back to materialised K/V
repeats, flagged gqa=repeat, when a backend refuses it). Timing: warm-up,
then samples that are each a burst of back-to-back launches between two CUDA
events divided by the burst size (the burst sized once from one timed launch
to last ~0.5 ms, 1..50 launches), inputs rotated over sets that total
> 150 MB so no launch finds its inputs in L2.

Three modes:

    python3 sdpa_peer.py [--op prefill,decode] [--nmax-prefill N] [--nmax-decode N] [--flex]
        the shapes and lengths of kernels/cuda/dev/attn_{prefill,decode}.cu;
        prints the same RESULT lines as the dev harnesses (median of >= 10
        samples), plus the ceilings measured here.
    python3 sdpa_peer.py --serve
        a coprocess of the suite runner (suites/peer.c), one line per request
        on stdin, one line per answer on stdout:
          start   "ready card=H100|H200|NAME torch=VERSION device=GPU_NAME"
                  (spaces in names as _), or "error REASON" and exit 3 when
                  torch or CUDA is unusable
          ask     "time IMPL PHASE N_HEAD N_KV_HEAD HEAD_DIM N_CTX WARMUP REPEATS"
                  IMPL sdpa_cudnn | sdpa_fa2 | flex; PHASE prefill (causal,
                  N_CTX queries over N_CTX keys) | decode (1 query over N_CTX
                  cached keys, no mask); WARMUP >= 0, REPEATS >= 1
          answer  "ok gqa=native|repeat T1 ... TREPEATS": REPEATS samples, each
                  the time of one launch in microseconds (%.3f); or
                  "err REASON" (one line), after which it keeps serving
          or      "lists flex PHASE N_HEAD N_KV_HEAD HEAD_DIM N_CTX WARMUP REPEATS PATH":
                  FlexAttention on the block lists in PATH (sparse_peer.py's
                  format, 64-token blocks: the RTPurbo layer's lists of every
                  head, suites/runner_layer.c), the same answer
          "quit" or end of input: exit 0.
        Per request: one untimed launch checks that the backend takes the
        case (and picks the GQA path; for flex it compiles, once per
        (phase, shape), the compiled kernel kept for later requests), then
        WARMUP untimed launches, one timed launch that sizes the burst, then
        REPEATS samples. Inputs are allocated per request and freed after it
        (a 1M-token case needs most of an 80 GB card). Only protocol lines go
        to stdout: everything else (warnings, torch's and its compilers'
        output) is sent to stderr, file descriptor 1 included.
    python3 sdpa_peer.py --selftest
        checks the protocol's parsing, formatting, burst sizing and serve
        loop with a fake timer; needs no torch or GPU; exit 0 or 1.

Run it with the GPU machine's python3 (PyTorch 2.11), in the same call as
the kernels it is compared with.
"""
import argparse
import gc
import importlib
import io
import math
import os
import sys

# torch is imported by load_torch(): --selftest runs without it, and --serve
# must answer "error ..." (not a traceback) when it is missing.
torch = F = SDPBackend = sdpa_kernel = None

SHAPES = [("llama3-8b", 32, 8, 128), ("smollm2", 9, 3, 64)]
IMPLS = ("sdpa_cudnn", "sdpa_fa2", "flex")
PHASES = ("prefill", "decode")
ROTATE_BYTES = 150 << 20  # inputs of the sets a launch rotates over exceed this
BURST_MS = 0.5            # a sample's burst lasts about this long
BURST_MAX = 50
FLEX_BLOCK = 128          # FlexAttention's default sparse block size


def load_torch():
    global torch, F, SDPBackend, sdpa_kernel
    import torch as t
    import torch.nn.functional as f
    from torch.nn.attention import SDPBackend as b, sdpa_kernel as k
    torch, F, SDPBackend, sdpa_kernel = t, f, b, k


def backends():
    return [("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION), ("sdpa_fa2", SDPBackend.FLASH_ATTENTION)]


def card():
    name = torch.cuda.get_device_name(0)
    for c in ("H100", "H200"):
        if c in name:
            return c
    return name.replace(" ", "_")


# ---- timing -----------------------------------------------------------------

def burst_size(one_ms):
    """Launches per sample so that a burst lasts ~BURST_MS, from one launch's ms."""
    return int(min(BURST_MAX, max(1, math.ceil(BURST_MS / max(one_ms, 1e-4)))))


def rotate_sets(set_bytes):
    """How many input sets to rotate over so that together they exceed ROTATE_BYTES."""
    return ROTATE_BYTES // set_bytes + 1


def timed_samples(launch, warmup, repeats, elapsed_ms):
    """Times launch(i) (i = 0, 1, ... across all calls, so inputs rotate):
    warmup untimed launches, one timed launch that sizes the burst, then
    repeats samples of a burst each. elapsed_ms(body) runs body() between
    two timing marks and returns the milliseconds between them. Returns
    (samples in us per launch, burst)."""
    i = 0
    for _ in range(warmup):
        launch(i)
        i += 1

    def one():
        launch(i)

    burst = burst_size(elapsed_ms(one))
    i += 1
    ts = []
    for _ in range(repeats):
        def body(i0=i):
            for j in range(burst):
                launch(i0 + j)

        ts.append(elapsed_ms(body) * 1000.0 / burst)
        i += burst
    return ts, burst


def cuda_elapsed_ms(body):
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    a.record()
    body()
    b.record()
    b.synchronize()
    return a.elapsed_time(b)


def time_us(fn, reps, warmup=2):
    """Median time of one launch (us), timed as timed_samples does; the same
    method as kernels/cuda/dev/dev_common.cuh."""
    ts, _ = timed_samples(fn, warmup, reps, cuda_elapsed_ms)
    ts.sort()
    return ts[len(ts) // 2]


# ---- the peers --------------------------------------------------------------

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


def attend(q, k, v, causal, gqa):
    """SDPA with whatever backend the caller's sdpa_kernel context allows."""
    if gqa == "native":
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    g = q.shape[1] // k.shape[1]
    return F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), is_causal=causal)


def sdpa(backend, q, k, v, causal, gqa):
    with sdpa_kernel([backend]):
        return attend(q, k, v, causal, gqa)


def first_line(e, n=160):
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__)[:n]


def pick_gqa(backend, q, k, v, causal):
    for gqa in ("native", "repeat"):
        try:
            sdpa(backend, q, k, v, causal, gqa)
            torch.cuda.synchronize()
            return gqa
        except RuntimeError as e:
            print(f"# {backend}: gqa={gqa} refused: {first_line(e)}", flush=True)
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
            sets = min(nmax // n, rotate_sets(n * (H + 2 * KVH) * D * 2))
            flops = 2.0 * n * n * D * H
            reps = 30 if n <= 16384 else 10
            for kname, be in backends():
                q, k, v = views(qb, n, H, D, 0), views(kb, n, KVH, D, 0), views(vb, n, KVH, D, 0)
                gqa = pick_gqa(be, q, k, v, True)
                if gqa is None:
                    continue
                with sdpa_kernel([be]):  # once, not per launch: entering it costs ~0.1 ms of host time
                    us = time_us(lambda i: attend(views(qb, n, H, D, i % sets), views(kb, n, KVH, D, i % sets),
                                                  views(vb, n, KVH, D, i % sets), True, gqa), reps)
                print(f"RESULT op=prefill kernel={kname} card={card()} shape={name} n_head={H} n_kv_head={KVH} "
                      f"d={D} n={n} us={us:.1f} tflops={flops / (us * 1e-6) / 1e12:.1f} gqa={gqa} sets={sets}",
                      flush=True)
            if flex and name == "llama3-8b" and n in (32768, 131072):
                run_flex(qb, kb, vb, n, H, KVH, D, sets, flops, name)
            n *= 2
        del qb, kb, vb
        torch.cuda.empty_cache()


def causal_mask(b, h, qi, ki):
    return qi >= ki


def causal_block_mask(n):
    """FlexAttention's causal BlockMask for n queries over n keys, built from
    its block lists (memory ~ (n/128)^2 ints) rather than from the mask
    evaluated densely (n^2, a terabyte at 1M): query block i sees key blocks
    0..i-1 fully and block i partially (the diagonal, where causal_mask
    applies; it also keeps every key of the last, short block below n)."""
    from torch.nn.attention.flex_attention import BlockMask
    nb = (n + FLEX_BLOCK - 1) // FLEX_BLOCK
    idx = torch.arange(nb, device="cuda", dtype=torch.int32)
    partial_num = torch.ones(1, 1, nb, device="cuda", dtype=torch.int32)
    partial_idx = idx.view(1, 1, nb, 1).expand(1, 1, nb, nb).contiguous()  # row i: i, (unused)...
    full_num = idx.view(1, 1, nb).clone()                                    # row i: i blocks
    full_idx = idx.view(1, 1, 1, nb).expand(1, 1, nb, nb).contiguous()     # row i: 0, 1, ..., (unused)
    return BlockMask.from_kv_blocks(partial_num, partial_idx, full_num, full_idx, BLOCK_SIZE=FLEX_BLOCK,
                                    mask_mod=causal_mask, seq_lengths=(n, n))


def decode_block_mask(n):
    """One query over n keys, nothing masked, in 128-key blocks. (With no
    block mask at all flex makes the keys one block, which its split-KV
    decoding kernel cannot share out: 37 ms instead of 1.5 ms for 32/8/128
    at 1M keys on an H200.)"""
    from torch.nn.attention.flex_attention import create_block_mask, noop_mask
    return create_block_mask(noop_mask, None, None, 1, n, device="cuda")


def run_flex(qb, kb, vb, n, H, KVH, D, sets, flops, name):
    from torch.nn.attention.flex_attention import flex_attention
    fa = torch.compile(flex_attention, dynamic=False)
    bm = causal_block_mask(n)
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
            sets = min(nmax // n, rotate_sets(set_bytes))
            for kname, be in backends():
                q = views(qb, 1, H, D, 0)
                k, v = views(kb, n, KVH, D, 0), views(vb, n, KVH, D, 0)
                gqa = pick_gqa(be, q, k, v, False)
                if gqa is None:
                    continue
                with sdpa_kernel([be]):
                    us = time_us(lambda i: attend(views(qb, 1, H, D, i % 64), views(kb, n, KVH, D, i % sets),
                                                  views(vb, n, KVH, D, i % sets), False, gqa), 30, 3)
                print(f"RESULT op=decode kernel={kname} card={card()} shape={name} n_head={H} n_kv_head={KVH} "
                      f"d={D} n={n} us={us:.1f} gbs={set_bytes / (us * 1e-6) / 1e9:.0f} gqa={gqa} sets={sets}",
                      flush=True)
            n *= 2
        del kb, vb, qb
        torch.cuda.empty_cache()


# ---- --serve: the protocol (no torch below until serve_cuda) ---------------

class Request:
    """One "time ..." line, validated."""
    FIELDS = ("impl", "phase", "n_head", "n_kv_head", "head_dim", "n_ctx", "warmup", "repeats")

    def __init__(self, impl, phase, n_head, n_kv_head, head_dim, n_ctx, warmup, repeats, lists=None):
        self.impl, self.phase, self.lists = impl, phase, lists
        self.n_head, self.n_kv_head, self.head_dim, self.n_ctx = n_head, n_kv_head, head_dim, n_ctx
        self.warmup, self.repeats = warmup, repeats

    def __eq__(self, o):
        return all(getattr(self, f) == getattr(o, f) for f in self.FIELDS)

    def __repr__(self):
        return "Request(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS) + ")"


def parse_request(line):
    """A request line -> ("quit", None) or ("time", Request); ValueError with a
    one-line reason for anything else."""
    w = line.split()
    if w == ["quit"]:
        return "quit", None
    if not w or w[0] not in ("time", "lists"):
        raise ValueError(f"unknown request {line.strip()[:60]!r} (wanted 'time ...' or 'quit')")
    lists = None
    if w[0] == "lists":
        if len(w) != 10:
            raise ValueError(f"'lists' takes 9 fields ({' '.join(Request.FIELDS)} path), got {len(w) - 1}")
        if w[1] != "flex":
            raise ValueError(f"'lists' is for flex, not {w[1]!r}")
        lists = w.pop()
    if len(w) != 9:
        raise ValueError(f"'time' takes 8 fields ({' '.join(Request.FIELDS)}), got {len(w) - 1}")
    impl, phase = w[1], w[2]
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r} (wanted {', '.join(IMPLS)})")
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r} (wanted prefill or decode)")
    nums = []
    for name, s in zip(Request.FIELDS[2:], w[3:]):
        try:
            x = int(s, 10)
        except ValueError:
            raise ValueError(f"{name} is not an integer: {s!r}") from None
        if x < (0 if name == "warmup" else 1):
            raise ValueError(f"{name} must be {'>= 0' if name == 'warmup' else '>= 1'}, got {x}")
        nums.append(x)
    r = Request(impl, phase, *nums, lists=lists)
    if r.n_head % r.n_kv_head:
        raise ValueError(f"n_head {r.n_head} is not a multiple of n_kv_head {r.n_kv_head}")
    return "time", r


def format_ok(gqa, times_us):
    return f"ok gqa={gqa} " + " ".join(f"{t:.3f}" for t in times_us)


def format_err(msg):
    """One line: newlines and runs of blanks folded to one space, at most 400 characters."""
    s = " ".join(str(msg).split())
    return "err " + (s[:400] if s else "unknown error")


def serve_loop(inp, out, handle, after):
    """Reads requests from inp until "quit" or EOF and writes one answer line
    per request to out. handle(Request) -> (gqa, times in us) does the work;
    any exception it raises becomes "err ..." and serving goes on. after()
    runs after every timed request, with the request's objects (and the
    exception's traceback, which holds them) already dropped. Returns 0."""
    while True:
        line = inp.readline()
        if not line:
            return 0
        reply = None
        try:
            kind, req = parse_request(line)
        except ValueError as e:
            reply = format_err(e)
            kind = None
        if kind == "quit":
            return 0
        if kind == "time":
            try:
                gqa, ts = handle(req)
                if len(ts) != req.repeats:
                    raise RuntimeError(f"internal: {len(ts)} samples for {req.repeats} repeats")
                reply = format_ok(gqa, ts)
            except Exception as e:  # noqa: BLE001 - every failure is an answer
                reply = format_err(f"{req.impl} {req.phase} {type(e).__name__}: {e}")
            del req
            after()
        out.write(reply + "\n")
        out.flush()


class Peer:
    """The torch side of --serve: runs one request on the GPU."""

    def __init__(self):
        self.flex = {}  # (phase, n_head, n_kv_head, head_dim, n_ctx) -> compiled flex_attention

    def inputs(self, r):
        """Per-set views (q, k, v), each (1, heads, n, d) over token-major bf16
        buffers, enough sets that together they exceed ROTATE_BYTES."""
        nq = r.n_ctx if r.phase == "prefill" else 1
        H, KVH, D, n = r.n_head, r.n_kv_head, r.head_dim, r.n_ctx
        sets = rotate_sets((nq * H + 2 * n * KVH) * D * 2)
        bf = dict(device="cuda", dtype=torch.bfloat16)
        qb = torch.empty(sets * nq * H * D, **bf).uniform_(-2, 2)
        kb = torch.empty(sets * n * KVH * D, **bf).uniform_(-2, 2)
        vb = torch.empty(sets * n * KVH * D, **bf).uniform_(-1, 1)
        return [(views(qb, nq, H, D, s), views(kb, n, KVH, D, s), views(vb, n, KVH, D, s)) for s in range(sets)]

    def flex_fn(self, r):
        key = (r.phase, r.n_head, r.n_kv_head, r.head_dim, r.n_ctx, r.lists is not None)
        if key not in self.flex:
            from torch.nn.attention.flex_attention import flex_attention
            self.flex[key] = torch.compile(flex_attention, dynamic=False)
        return self.flex[key]

    def handle(self, r):
        from contextlib import nullcontext
        sets = self.inputs(r)
        causal = r.phase == "prefill"
        # flex on 64-token block lists needs 64 x 64 tiles (its default refuses them)
        opts_tries = (None, {"BLOCK_M": 64, "BLOCK_N": 64}) if r.lists else (None,)
        if r.impl == "flex":
            fa = self.flex_fn(r)
            if r.lists:
                import sparse_peer
                sparse_peer.sp = sys.modules[__name__]  # this module, torch loaded (not a second copy)
                n, H, KVH, D, n_items, off, idx = sparse_peer.read_lists(r.lists)
                if (n, H, KVH, D) != (r.n_ctx, r.n_head, r.n_kv_head, r.head_dim):
                    raise ValueError(f"{r.lists} holds {H}/{KVH}/{D} at {n}, not the request's shape")
                bm = sparse_peer.block_mask(n if causal else 1, n, H, n_items, off, idx, not causal)
            else:
                bm = causal_block_mask(r.n_ctx) if causal else decode_block_mask(r.n_ctx)

            def run(s, gqa, opts=None):
                q, k, v = sets[s]
                if gqa == "native":
                    return fa(q, k, v, block_mask=bm, enable_gqa=True, kernel_options=opts)
                g = q.shape[1] // k.shape[1]
                return fa(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), block_mask=bm,
                          kernel_options=opts)

            ctx = nullcontext()
        else:
            def run(s, gqa, opts=None):
                q, k, v = sets[s]
                return attend(q, k, v, causal, gqa)

            ctx = sdpa_kernel([dict(backends())[r.impl]])
        with ctx:
            gqa, opts, why = None, None, []
            for g, o in [(g, o) for g in ("native", "repeat") for o in opts_tries]:  # the check launch
                try:
                    run(0, g, o)
                    torch.cuda.synchronize()
                    gqa, opts = g, o
                    break
                except Exception as e:  # noqa: BLE001
                    why.append(f"gqa={g} options={o}: {first_line(e, 200)}")
                    print(f"# {r.impl} {r.phase}: gqa={g} options={o} refused: {first_line(e)}", file=sys.stderr,
                          flush=True)
            if gqa is None:
                raise RuntimeError("; ".join(why))
            ts, burst = timed_samples(lambda i: run(i % len(sets), gqa, opts), r.warmup, r.repeats,
                                      cuda_elapsed_ms)
        print(f"# {r.impl} {r.phase} {r.n_head}/{r.n_kv_head}/{r.head_dim} n={r.n_ctx}: gqa={gqa} options={opts} "
              f"lists={r.lists} sets={len(sets)} burst={burst}", file=sys.stderr, flush=True)
        return gqa, ts


def free_cuda():
    gc.collect()
    torch.cuda.empty_cache()


def serve():
    # The protocol gets its own copy of stdout; fd 1 becomes stderr, so that
    # nothing else (Python prints, C++ and compiler-worker output) reaches it.
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        load_torch()
    except Exception as e:  # noqa: BLE001
        proto.write(f"error cannot import torch: {' '.join(first_line(e, 300).split())}\n")
        proto.flush()
        return 3
    try:
        if not torch.cuda.is_available():
            raise RuntimeError(f"CUDA is not available to torch {torch.__version__}")
        torch.zeros(1, device="cuda").add_(1).item()
        dev = torch.cuda.get_device_name(0).replace(" ", "_")
    except Exception as e:  # noqa: BLE001
        proto.write(f"error {' '.join(first_line(e, 300).split())}\n")
        proto.flush()
        return 3
    # a compile per (phase, shape): lift dynamo's recompile limits
    dyn = importlib.import_module("torch._dynamo").config
    for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(dyn, name):
            setattr(dyn, name, max(getattr(dyn, name), 4096))
    proto.write(f"ready card={card()} torch={torch.__version__} device={dev}\n")
    proto.flush()
    return serve_loop(sys.stdin, proto, Peer().handle, free_cuda)


# ---- --selftest --------------------------------------------------------------

def selftest():
    fails = []

    def check(cond, what):
        if not cond:
            fails.append(what)

    # parsing
    k, r = parse_request("time sdpa_cudnn prefill 32 8 128 4096 3 10\n")
    check(k == "time" and r == Request("sdpa_cudnn", "prefill", 32, 8, 128, 4096, 3, 10), f"parse ok: {r}")
    k, r = parse_request("time flex decode 9 3 64 1048576 0 1")
    check(r == Request("flex", "decode", 9, 3, 64, 1048576, 0, 1), f"parse warmup 0: {r}")
    check(parse_request("quit\n") == ("quit", None), "parse quit")
    k, r = parse_request("lists flex prefill 32 8 128 32768 1 3 /tmp/l.bin")
    check(k == "time" and r == Request("flex", "prefill", 32, 8, 128, 32768, 1, 3) and r.lists == "/tmp/l.bin",
          f"parse lists: {r}")
    for bad, want in [("lists flex prefill 32 8 128 32768 1 3", "9 fields"),
                      ("lists sdpa_cudnn prefill 32 8 128 32768 1 3 /x", "is for flex")]:
        try:
            parse_request(bad)
            check(False, f"parse accepted {bad!r}")
        except ValueError as e:
            check(want in str(e), f"parse {bad!r}: {e}")
    for bad, want in [("", "unknown request"), ("tme x", "unknown request"), ("time sdpa_cudnn prefill 32 8 128", "8 fields"),
                      ("time sdpa prefill 32 8 128 4096 3 10", "unknown impl"),
                      ("time flex both 32 8 128 4096 3 10", "unknown phase"),
                      ("time flex decode 32 8 128 4k 3 10", "n_ctx is not an integer"),
                      ("time flex decode 32 8 128 4096 -1 10", "warmup must be >= 0"),
                      ("time flex decode 32 8 128 4096 1 0", "repeats must be >= 1"),
                      ("time flex decode 32 0 128 4096 1 1", "n_kv_head must be >= 1"),
                      ("time flex decode 32 5 128 4096 1 1", "not a multiple")]:
        try:
            parse_request(bad)
            check(False, f"parse accepted {bad!r}")
        except ValueError as e:
            check(want in str(e) and "\n" not in str(e), f"parse {bad!r}: {e}")
    # formatting
    check(format_ok("native", [1.0, 23.4567, 1e6]) == "ok gqa=native 1.000 23.457 1000000.000", "format_ok")
    check(format_err("CUDA out of memory.\nTried to allocate  8 GiB\r\n") ==
          "err CUDA out of memory. Tried to allocate 8 GiB", "format_err folds lines")
    check(format_err("") == "err unknown error", "format_err empty")
    check(len(format_err("x" * 1000)) == 404, "format_err length")
    # burst and rotation
    check(burst_size(1.0) == 1 and burst_size(0.5) == 1 and burst_size(0.1) == 5 and burst_size(0.0) == 50
          and burst_size(0.011) == 46 and burst_size(100.0) == 1, "burst_size")
    check(rotate_sets(1 << 30) == 1 and rotate_sets(16 << 20) == 10 and rotate_sets(150 << 20) == 2, "rotate_sets")

    # timed_samples with a fake clock: launch i costs (10 + i % 3) us
    def fake(warmup, repeats, cost_us):
        launched, clock = [], [0.0]

        def launch(i):
            launched.append(i)
            clock[0] += cost_us(i)

        def elapsed_ms(body):
            t0 = clock[0]
            body()
            return (clock[0] - t0) / 1000.0

        ts, burst = timed_samples(launch, warmup, repeats, elapsed_ms)
        return ts, burst, launched

    ts, burst, launched = fake(3, 4, lambda i: 10.0 + i % 3)
    check(burst == 50 and len(ts) == 4, f"timed_samples burst {burst}, {len(ts)} samples")
    check(launched == list(range(3 + 1 + 4 * 50)), "launch indices run 0.. without gaps or repeats")
    want = [sum(10.0 + i % 3 for i in range(4 + 50 * s, 4 + 50 * (s + 1))) / 50 for s in range(4)]
    check(all(abs(a - b) < 1e-9 for a, b in zip(ts, want)), f"samples {ts} != {want}")
    ts, burst, launched = fake(0, 2, lambda i: 200.0)  # 0.2 ms a launch -> bursts of 3
    check(burst == 3 and len(launched) == 1 + 2 * 3 and all(abs(t - 200.0) < 1e-9 for t in ts),
          f"warmup 0: burst {burst}, {launched}, {ts}")
    ts, burst, launched = fake(1, 1, lambda i: 5000.0)
    check(burst == 1 and launched == [0, 1, 2] and abs(ts[0] - 5000.0) < 1e-9, "slow launch: burst 1")

    # the serve loop: answers per line, errors keep it serving, quit and EOF end it
    calls = []

    def handle(r):
        calls.append(r.impl)
        if r.n_ctx == 666:
            raise RuntimeError("CUDA out of memory.\nTried to allocate 8.00 GiB")
        if r.impl == "sdpa_fa2":
            return "repeat", [float(r.n_ctx) + i for i in range(r.repeats)]
        return "native", [1.5] * r.repeats

    frees = []
    inp = io.StringIO("time sdpa_cudnn decode 32 8 128 4096 2 3\n"
                      "time sdpa_fa2 prefill 9 3 64 8 0 2\n"
                      "bogus\n"
                      "time flex prefill 32 8 128 666 1 1\n"
                      "time flex decode 32 8 128 4096 0 1\n"
                      "quit\n"
                      "time flex decode 32 8 128 4096 0 1\n")
    out = io.StringIO()
    rc = serve_loop(inp, out, handle, lambda: frees.append(1))
    lines = out.getvalue().split("\n")
    check(rc == 0 and lines == ["ok gqa=native 1.500 1.500 1.500", "ok gqa=repeat 8.000 9.000",
                                "err unknown request 'bogus' (wanted 'time ...' or 'quit')",
                                "err flex prefill RuntimeError: CUDA out of memory. Tried to allocate 8.00 GiB",
                                "ok gqa=native 1.500", ""], f"serve answers: {lines}")
    check(calls == ["sdpa_cudnn", "sdpa_fa2", "flex", "flex"] and len(frees) == 4, f"serve calls {calls} {frees}")
    out = io.StringIO()
    check(serve_loop(io.StringIO("time flex decode 32 8 128 4096 0 2"), out, lambda r: ("native", [1.0]),
                     lambda: None) == 0 and out.getvalue() == "err flex decode RuntimeError: internal: 1 samples "
          "for 2 repeats\n", f"serve at EOF without newline, short handler: {out.getvalue()!r}")
    out = io.StringIO()
    check(serve_loop(io.StringIO(""), out, handle, lambda: None) == 0 and out.getvalue() == "", "serve EOF")

    for f in fails:
        print(f"selftest FAIL: {f}", file=sys.stderr)
    print(f"selftest: {'ok' if not fails else f'{len(fails)} failed'}")
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--op", default="prefill,decode")
    ap.add_argument("--nmax-prefill", type=int, default=131072)
    ap.add_argument("--nmax-decode", type=int, default=1 << 20)
    ap.add_argument("--flex", action="store_true")
    ap.add_argument("--serve", action="store_true", help="coprocess of the suite runner (see the header)")
    ap.add_argument("--selftest", action="store_true", help="check the protocol code without torch")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    if a.serve:
        return serve()
    load_torch()
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
