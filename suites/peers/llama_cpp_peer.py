"""llama_cpp_peer.py — llama.cpp's CPU prefill and decode, timed the way
`purbo-bench bench` times the engine, on the same GGUF and the same token ids.

The peer is llama.cpp through its Python binding (the `llama_cpp` module of
the PyPI package llama-cpp-python, which builds llama.cpp from source when
installed); nothing of llama.cpp is in this repository. The bench runs this
script with the interpreter in $PURBO_PYTHON (default python3):

    python3 llama_cpp_peer.py MODEL IDS_FILE THREADS SIZES DECODE_CTX DECODE_TOKENS REPEATS

IDS_FILE holds the bench's token ids (whitespace-separated); SIZES is
comma-separated. Output, one line each:

    ready llama_cpp=VERSION flash_attn=best-of-off,on|auto|on|off type_k=K extra_bufts=0|1 threads=T system=FLAGS
    prefill N T1 .. TREPEATS flash_attn=on|off
                                  seconds per run: N tokens in one llama_decode
                                  on a cleared cache, the last position's logits
    decode CTX M T1 .. TREPEATS flash_attn=on|off
                                  seconds per run: M single-token llama_decode
                                  calls after an untimed prefill of CTX tokens

or "error REASON" and exit 3 when the binding cannot be imported or the
model does not load. Times are wall clock around the llama_decode calls of
a run and a final llama_synchronize (the binding's perf counters do not
separate the runs of one context); the context uses the library's defaults (n_ubatch 512, f16 KV cache,
flash attention auto) with n_threads = n_threads_batch = THREADS.
"""
import ctypes
import os
import sys
import time

# $PURBO_LLAMA_EXTRA_BUFTS=0 turns off llama.cpp's repacked and AMX weight
# layouts (a build whose AMX kernels crash on a CPU that reports AMX needs it,
# or a build without AMX). Flash attention: each case is timed with it off
# and on and the faster setting's runs are reported (on a 2-core Xeon it
# helps prefill and halves decode at 2K); $PURBO_LLAMA_FA = off, on or auto
# times that one setting only.
EXTRA_BUFTS = os.environ.get("PURBO_LLAMA_EXTRA_BUFTS", "1") != "0"
FLASH_ATTN = os.environ.get("PURBO_LLAMA_FA", "best")
FA_NAME = {-1: "auto", 0: "off", 1: "on"}


def fail(why):
    print("error " + " ".join(str(why).split()), flush=True)
    sys.exit(3)


def main():
    if len(sys.argv) != 8:
        fail("usage: llama_cpp_peer.py MODEL IDS_FILE THREADS SIZES DECODE_CTX DECODE_TOKENS REPEATS")
    model_path, ids_path = sys.argv[1], sys.argv[2]
    threads, sizes = int(sys.argv[3]), [int(s) for s in sys.argv[4].split(",") if s]
    decode_ctx, decode_tokens, repeats = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
    try:
        import llama_cpp as L
    except Exception as e:  # the peer is optional: say why it is missing
        fail("python module llama_cpp not importable (%s; pip install llama-cpp-python)" % e)
    with open(ids_path) as f:
        ids = [int(t) for t in f.read().split()]
    n_ctx = max(sizes + [decode_ctx + decode_tokens])
    if len(ids) < n_ctx:
        fail("%d token ids for a context of %d" % (len(ids), n_ctx))

    quiet = L.llama_log_callback(lambda level, text, user: None)
    L.llama_log_set(quiet, ctypes.c_void_p())
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.use_extra_bufts = EXTRA_BUFTS
    model = L.llama_model_load_from_file(model_path.encode(), mp)
    if not model:
        fail("llama.cpp could not load " + model_path)
    system = L.llama_print_system_info().decode().replace(" ", "").replace("|", ",").strip(",")
    modes = {"off": [0], "on": [1], "auto": [-1]}.get(FLASH_ATTN, [0, 1])
    contexts = []
    for fa in modes:
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_ctx
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.flash_attn_type = fa
        ctx = L.llama_init_from_model(model, cp)
        if not ctx:
            fail("llama.cpp could not make a context of %d" % n_ctx)
        contexts.append((FA_NAME[fa], ctx))
    print("ready llama_cpp=%s flash_attn=%s type_k=%d extra_bufts=%d threads=%d system=%s"
          % (L.__version__, "best-of-off,on" if len(modes) > 1 else FA_NAME[modes[0]], int(cp.type_k),
             int(EXTRA_BUFTS), threads, system), flush=True)

    def feed(ctx, start, n):
        """n tokens from ids[start] in one llama_decode at positions start.."""
        tok = (L.llama_token * n)(*ids[start:start + n])
        rc = L.llama_decode(ctx, L.llama_batch_get_one(tok, n))
        if rc != 0:
            fail("llama_decode returned %d" % rc)

    def timed(ctx, start, n, step):
        """Seconds to feed ids[start:start+n] in calls of `step` tokens."""
        t = time.perf_counter()
        for i in range(start, start + n, step):
            feed(ctx, i, min(step, start + n - i))
        L.llama_synchronize(ctx)
        return time.perf_counter() - t

    def run(ctx, prefix, n, step):
        """repeats runs: clear, feed prefix tokens untimed, time n more."""
        ts = []
        for _ in range(repeats):
            L.llama_memory_clear(L.llama_get_memory(ctx), True)
            if prefix:
                feed(ctx, 0, prefix)
            ts.append(timed(ctx, prefix, n, step))
        return ts

    def best(prefix, n, step):
        """(times, flash-attention setting) of the setting with the lower median."""
        out = [(run(ctx, prefix, n, step), name) for name, ctx in contexts]
        return min(out, key=lambda r: sorted(r[0])[len(r[0]) // 2])

    for name, ctx in contexts:  # warm-up: first-touch pages, thread start
        L.llama_memory_clear(L.llama_get_memory(ctx), True)
        feed(ctx, 0, min(64, n_ctx))
    for n in sizes:
        ts, fa = best(0, n, n)
        print("prefill %d %s flash_attn=%s" % (n, " ".join("%.6f" % t for t in ts), fa), flush=True)
    ts, fa = best(decode_ctx, decode_tokens, 1)
    print("decode %d %d %s flash_attn=%s" % (decode_ctx, decode_tokens, " ".join("%.6f" % t for t in ts), fa),
          flush=True)
    for _, ctx in contexts:
        L.llama_free(ctx)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
