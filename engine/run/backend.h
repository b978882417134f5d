/* backend.h — THE compute interface of the forward pass: one struct of
 * function pointers, implemented for the CPU (backend_cpu.c, the reference:
 * f32 everywhere, the kernels/cpu operations) and for CUDA (backend_cuda.cu:
 * bf16 weights and GEMM inputs, cuBLAS, the fused kernels of kernels/cuda).
 * The forward pass calls only these; it never learns which one runs.
 *
 * Buffers live where the backend computes (host memory for the CPU, device
 * memory for CUDA) and are passed as plain pointers that only the backend
 * dereferences. Two element types appear in signatures:
 *   float *  f32 values (the residual stream, GEMM outputs, RoPE input);
 *   void *   "act" values: inputs of a matrix product (normed rows, the
 *            attention output, the SwiGLU product). act_bytes says their
 *            size: 4 (f32) on the CPU, 2 (bf16) on CUDA.
 * Weights are handles made at backend_open (b->w): the model's own f32
 * arrays on the CPU, bf16 device copies (norm vectors f32) on CUDA.
 *
 * Calls are ordered as issued; results reach the host only through download,
 * download_act and logits, which wait for the work before them. Failures are
 * runtime errors (exit 1) naming the source line (METHOD.md §6).
 */
#ifndef PURBO_BACKEND_H
#define PURBO_BACKEND_H

#include "run/attention.h"
#include "base/common.h"
#include "model/model.h"

/* One layer's weights as the backend holds them (see model.h for shapes). */
typedef struct {
    const void *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w_gate, *w_up, *w_down;
    const void *q_norm, *k_norm, *post_attn_norm, *post_ffn_norm;  /* NULL when the model has none */
} bk_layer;

typedef struct {
    const void *tok_embd;   /* (n_vocab, n_embd) */
    const void *out_norm;   /* (n_embd) */
    const void *output;     /* (n_vocab, n_embd) */
    bk_layer *layers;       /* [n_layer] */
} bk_weights;

/* A KV cache of one sequence, in the backend's own layout (opaque). */
typedef struct bk_kv bk_kv;

/* The storage of one (layer, KV head): window 0 = full cache (n_ctx rows);
 * otherwise positions < n_sink and the last `window` positions only (a ring). */
typedef struct {
    int n_sink, window;
} kv_ring;

/* Density counts of one (layer, query head). */
typedef struct {
    long long kept;     /* (query, key) pairs attended */
    long long visible;  /* (query, key) pairs causally visible */
} attn_count;

/* One layer's attention over the cache, for n new tokens at pos0 .. pos0+n-1
 * whose k/v were appended (kv_append) before the call. */
typedef struct {
    int layer, pos0, n;
    int window;                     /* 0: global layer; W: sliding, query p sees p-W+1 .. p */
    const float *q;                 /* (n, n_head, d) f32, post-RoPE */
    const float *q_pre;             /* (n, n_head, d) f32, pre-RoPE (policies with indexers) */
    const float *k_pre;             /* (n, n_head_kv, d) f32, pre-RoPE (policies' on_append) */
    void *out;                      /* (n, n_head, d) act */
    const attn_policy *const *policy; /* [n_head] of this layer (CUDA: described kinds only) */
    const attn_observer *obs;       /* may be NULL (CUDA: rows of dense heads only) */
    attn_count *count;              /* [n_head] of this layer, host: kept/visible added (a backend
                                     * may hold kept back until count_flush) */
} bk_attn;

enum { DECODE_GRAPH = 1, DECODE_DIRECT = 2, DECODE_PDL = 4 };

typedef struct backend backend;
struct backend {
    const char *name;       /* "cpu" or "cuda" */
    /* How products of several rows run: "f32" or "bf16" on the CPU (the
     * product mode, backend_cpu_products below), NULL on CUDA (bf16 always). */
    const char *products;
    char device[128];       /* "cpu" or the GPU's name */
    int act_bytes;          /* 4: act is f32; 2: act is bf16 */
    int neox_rope;          /* 1: rope takes ROPE_NEOX */
    int sliding;            /* 1: attention honours bk_attn.window */
    /* Whole-step decode (the decode hook below): 0 off (op by op), else
     * DECODE_GRAPH (a CUDA graph replayed per token) or DECODE_DIRECT (the
     * same fused kernels launched one by one), either ORed with DECODE_PDL
     * (programmatic dependent launch). CUDA sets it from $PURBO_CUDA_GRAPH
     * (0, graph, direct, pdl = graph + PDL, direct-pdl; unset: pdl);
     * callers may change it between steps. */
    int decode_graph;
    /* Tokens per prefill chunk where every head is dense and nothing
     * observes rows (0: the session's own max_batch). CUDA: 2048 (fewer
     * launches, and the prefill attention fills the device). */
    int prefill_batch;
    /* 1: prefill_batch applies on models with sliding layers too (the CPU:
     * its dense attention honours the window at any chunk length). */
    int prefill_sliding;
    const model *m;
    bk_weights w;
    void *impl;             /* the implementation's state */

    /* ---- buffers (bytes; alloc never returns NULL) ---- */
    void *(*alloc)(backend *b, size_t bytes);
    void (*free)(backend *b, void *p);
    void (*upload)(backend *b, void *dst, const void *src_host, size_t bytes);
    void (*download)(backend *b, void *dst_host, const void *src, size_t bytes);
    /* Between two of the backend's buffers. */
    void (*copy)(backend *b, void *dst, const void *src, size_t bytes);
    /* n act values from/to host f32 (rounding to bf16 on CUDA). */
    void (*upload_act)(backend *b, void *dst, const float *src_host, size_t n);
    void (*download_act)(backend *b, float *dst_host, const void *src, size_t n);

    /* ---- the operations (shapes as in kernels/ops.h) ---- */
    /* x: (n, n_embd) f32 = tok_embd rows of ids[0..n) (ids on the host, in range). */
    void (*embed)(backend *b, float *x, const int *ids, int n);
    /* y: (n, out) f32 = x (n, in) act · W^T, W a weight handle (out, in). */
    void (*matmul)(backend *b, float *y, const void *x, const void *w, int n, int in, int out);
    /* y: (n, dim) act = rmsnorm of x (n, dim) f32 times the weight w (dim). */
    void (*rmsnorm)(backend *b, void *y, const float *x, const void *w, int n, int dim, float eps);
    /* x: (n, n_heads, d) f32 rotated in place, positions pos0 .. ; style: enum
     * rope_style (model.h; ops.h: cpu_rope, cpu_rope_neox). */
    void (*rope)(backend *b, float *x, int n, int n_heads, int d, int pos0, float base, int style);
    /* out: (n) act = silu(g) * u, g, u: (n) f32. */
    void (*swiglu)(backend *b, void *out, const float *g, const float *u, long n);
    /* The operations only some model families need; NULL where the backend
     * lacks them (backend_supports says whether a model can run). */
    /* x: (n, dim) f32 = rmsnorm(x) * w (dim), in place (QK-norm, post-norms). */
    void (*norm_rows)(backend *b, float *x, const void *w, int n, int dim, float eps);
    /* x: (n) f32 *= s. */
    void (*scale)(backend *b, float *x, long n, float s);
    /* out: (n) act = gelu_tanh(g) * u, g, u: (n) f32. */
    void (*geglu)(backend *b, void *out, const float *g, const float *u, long n);
    /* x += y, both (n) f32 (the residual add). */
    void (*add)(backend *b, float *x, const float *y, long n);

    /* ---- KV cache and attention ---- */
    bk_kv *(*kv_new)(backend *b, int n_ctx);   /* every head a full cache */
    void (*kv_free)(backend *b, bk_kv *kv);
    /* Sets the storage of every (layer, KV head) (layout [n_layer * n_head_kv];
     * a ring no smaller than n_ctx is a full cache) and empties the cache.
     * Returns 0 when the backend cannot take the layout. Both keep a ring of
     * S + W rows per KV head asked to be one (CUDA: when the layer's rings
     * are all of one S and W, else that layer stays full), the other KV heads
     * full (a ring is a memory saving, not a rule: the local policy reads
     * only what a ring would hold); kv_bytes says what each holds. */
    int (*kv_layout)(backend *b, bk_kv *kv, const kv_ring *layout);
    /* Bytes of k + v the cache holds (full != 0: with full caches everywhere). */
    size_t (*kv_bytes)(backend *b, const bk_kv *kv, int full);
    /* Stores k (post-RoPE), v: (n, n_head_kv, d) f32 of layer at pos0 ... */
    void (*kv_append)(backend *b, bk_kv *kv, int layer, int pos0, int n, const float *k, const float *v);
    /* CPU: each head's attn_policy (after the policies' on_append hooks; ring
     * heads store their k/v after attention); CUDA: dense causal flash
     * attention for dense heads, the policy kernels for the others (each
     * head's attn_desc). Adds to a->count when it is set. */
    void (*attention)(backend *b, bk_kv *kv, const bk_attn *a);
    /* May be NULL. Adds the kept counts the backend holds back (CUDA keeps
     * the sparse heads' counts on the device) into count [n_layer * n_head]
     * and forgets them; the session calls it before it reads its counts. */
    void (*count_flush)(backend *b, bk_kv *kv, attn_count *count);

    /* out_host: (n, n_vocab) f32 = output · rmsnorm(x rows, out_norm); x: (n, n_embd) f32. */
    void (*logits)(backend *b, float *out_host, const float *x, int n);

    /* Optional (NULL: none). One whole decode step with dense attention on
     * every head over full caches: token at position pos (the cache holds
     * 0 .. pos-1), its k/v appended, out_host: NULL or (n_vocab) f32 logits.
     * Returns 0, having done nothing, when decode_graph is 0 or the model is
     * one it lacks; the caller then runs the step op by op. The forward pass
     * calls it only where every head is dense and nothing observes rows. */
    int (*decode)(backend *b, bk_kv *kv, int token, int pos, float *out_host);

    void (*close)(backend *b);
};

/* "cpu", "cuda" or "auto" (cuda when a device and cuBLAS are usable, else cpu).
 * Returns NULL and fills err (one line, e.g. "no CUDA device") when the kind
 * is unknown or cuda was asked for and cannot run. */
backend *backend_open(const char *kind, const model *m, pb_err *err);
/* The checks of backend_open that need no model (name; a device for cuda;
 * for cpu and auto the CPU product mode), so commands can refuse before
 * loading. 1 ok; 0 and err. */
int backend_check(const char *kind, pb_err *err);
void backend_close(backend *b);

/* What backend `name` can run, known without opening it (no device needed):
 * 1 when its attention runs policies of kind (enum attn_desc_kind): the CPU runs
 * every policy as code, opaque ones included; CUDA runs the described kinds
 * (every kind but ATTN_OPAQUE) with its own kernels. Whether a plan can run
 * on a backend is decided from this (plan_runs_on, policy.h). */
int backend_runs_kind(const char *name, int kind);
/* 1 when b can run m's description (its norms, activation, RoPE style and
 * sliding layers); 0 and a one-line reason in why otherwise. */
int backend_supports(const backend *b, const model *m, char *why, size_t why_len);

/* The CPU backend's product mode for products of several rows (prefill):
 *   CPU_PRODUCTS_F32   the default and the reference: sgemm over the
 *                      model's f32 weights (the golden tests, the CUDA twins);
 *   CPU_PRODUCTS_BF16  opt-in: the layers' weights packed as bf16 at open,
 *                      each product's input rounded to bf16, f32 sums
 *                      (kernels/gemm_bf16.h; needs AVX-512 BF16).
 * One-row products (decode) are the quantized gemv in both modes, and the
 * output matrix (logits) stays f32. The mode comes from the --cpu-products
 * option of the commands that open a backend (backend_cpu_products_set), or
 * else from $PURBO_CPU_PRODUCTS (unset or empty: f32). */
enum { CPU_PRODUCTS_F32, CPU_PRODUCTS_BF16 };
/* Sets the mode of the CPU backends opened after it from its name ("f32",
 * "bf16"; NULL: $PURBO_CPU_PRODUCTS again). 1 ok; 0 and a one-line err for
 * an unknown name or bf16 on a CPU without AVX-512 BF16. */
int backend_cpu_products_set(const char *name, pb_err *err);
/* The mode in effect, or -1 and err as backend_cpu_products_set says. */
int backend_cpu_products(pb_err *err);
/* "f32" or "bf16". */
const char *backend_cpu_products_name(int mode);

/* The CPU backend over m's f32 weights in the mode in effect (cannot fail;
 * a mode that cannot run is one line and exit 2, as backend_check says). */
backend *backend_cpu_new(const model *m);
/* The same in a given mode (CPU_PRODUCTS_BF16 only where backend_cpu_products_set
 * accepts it). */
backend *backend_cpu_new_mode(const model *m, int products);
/* The CUDA backend: weights converted and uploaded once. NULL and a one-line
 * reason in why (e.g. "no CUDA device") when it cannot run here. */
backend *backend_cuda_new(const model *m, char *why, size_t why_len);
/* 1 when a CUDA device is present (why: the reason otherwise; may be NULL). */
int backend_cuda_available(char *why, size_t why_len);
/* Device 0's name ("NVIDIA H200"), or "cuda" when it cannot be read. */
void backend_cuda_device_name(char *name, size_t len);
/* The roofline's two ceilings of device 0, measured (fastest of 10 after one
 * untimed run): *bw = bytes read + written per second by a device-to-device
 * copy of copy_bytes; *flops = 2 n^3 per second of an n x n x n cuBLAS bf16
 * GEMM with f32 accumulation and output (n = gemm_n). probe, when not NULL,
 * is then called once with a function that runs one such GEMM (to check FLOP
 * counters against 2 n^3). 1, or 0 and why (no device, no cuBLAS, out of
 * device memory). */
int backend_cuda_ceilings(size_t copy_bytes, int gemm_n, double *bw, double *flops,
                          void (*probe)(void (*fn)(void *), void *arg, void *ctx), void *ctx, char *why,
                          size_t why_len);
/* CUDA runtime and driver versions ("13.0"), for the runs table; "" without CUDA. */
void backend_cuda_versions(char *runtime, char *driver, size_t len);

#endif
