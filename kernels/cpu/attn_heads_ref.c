/* attn_heads_ref.c — CPU twins of the head gather and scatter
 * (kernels/attn_heads.h): plain loops, the oracle of the CUDA launchers.
 */
#include "kernels/attn_heads.h"

#include <string.h>

#include "kernels/attn_kernels.h"

void attn_heads_gather_ref(uint16_t *dst, const float *src, int n, int src_heads, const int *map, int n_map, int d)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < n_map; i++)
            for (int e = 0; e < d; e++)
                dst[((size_t)t * n_map + i) * d + e] =
                    attn_f32_to_bf16(src[((size_t)t * src_heads + map[i]) * d + e]);
}

void attn_heads_scatter_ref(uint16_t *dst, int dst_heads, const uint16_t *src, int n, const int *map, int n_map,
                            int d)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < n_map; i++)
            memcpy(dst + ((size_t)t * dst_heads + map[i]) * d, src + ((size_t)t * n_map + i) * d,
                   (size_t)d * sizeof *dst);
}
