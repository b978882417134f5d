/* attn_common.cuh — device helpers shared by the attention kernels: the
 * sm_80-style warp matrix instructions (mma.sync m16n8k16, ldmatrix),
 * cp.async, the shared-memory swizzle and bf16 packing.
 *
 * Fragment layouts (PTX ISA, mma.m16n8k16, bf16), lane = 4*g + t:
 *   A (16x16, row-major): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..),
 *                         a3 = (g+8, 2t+8..)
 *   B (16x8, "col"):      b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g)
 *   C (16x8, f32):        c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1)
 * Tiles in shared memory are rows of D bf16 (D = 64 or 128) cut into 16-byte
 * chunks; chunk c of row r is stored at chunk c ^ (r & 7), so that the 8 row
 * addresses of one ldmatrix 8x8 matrix hit 8 different bank groups.
 */
#ifndef PURBO_ATTN_COMMON_CUH
#define PURBO_ATTN_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#define ATTN_LN2 0.69314718055994531f
#define ATTN_LOG2E 1.4426950408889634f

/* Element offset of (row, 16-byte chunk) in a swizzled tile of rows of D bf16. */
template <int D>
__device__ __forceinline__ int swz(int row, int chunk)
{
    return row * D + ((chunk ^ (row & 7)) << 3);
}

__device__ __forceinline__ uint32_t smem_u32(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16-byte global -> shared copy; when !pred the 16 bytes are zero-filled
 * (src must still be a valid address). */
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool pred)
{
    int n = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::);
}
template <int N>
__device__ __forceinline__ void cp_async_wait(void)
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t r[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t r[4], uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* c += a * b, m16n8k16, bf16 in, f32 accumulate. */
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Two floats into one bf16x2 register: lo in the low half (lower column). */
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 x = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&x;
}

/* 2^x, approximate (MUFU.EX2); 2^-inf = 0. */
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

/* Hopper prefill (attn_prefill_sm90.cu), called by the version table in
 * attn_prefill.cu: variant 1 = TMA + wgmma, 2 stages; 2 = the same with
 * O += P V as two N = 64 wgmma; 3 = 3 stages; 4 = 3 stages with softmax
 * overlapped with the products; 5 = the same with 2 stages. */
int attn_prefill_sm90(int variant, const void *q, const void *k, const void *v, void *out, float *lse, int n_q,
                      int kv_len, int q_offset, int n_head, int n_kv_head, int d, cudaStream_t st);
/* Variant 4 with the local heads' rule (sinks + sliding window, S >= 0,
 * W >= 1: position p sees keys j <= p with j < S or j > p - W) over a plain
 * token-major k, v; the same arguments otherwise, d 64 or 128, lse may be
 * NULL. Called by attn_local.cu. */
int attn_prefill_sm90_local(const void *q, const void *k, const void *v, void *out, float *lse, int n_q, int kv_len,
                            int q_offset, int S, int W, int n_head, int n_kv_head, int d, cudaStream_t st);

#endif
