/* attn_desc_rows.h — a policy's description (attn_desc, attention.h) as the
 * rule of the GPU row kernels (kernels/attn_rows.h): the one mapping the
 * CUDA backend (backend_cuda_policy.cu) and the GPU tests share. Plain C,
 * no device needed.
 */
#ifndef PURBO_ATTN_DESC_ROWS_H
#define PURBO_ATTN_DESC_ROWS_H

#include "kernels/attn_rows.h"
#include "run/attention.h"

/* 1 and *rule filled for the kinds the row kernels run (LOCAL, QUEST, TOPK,
 * TOPP, RTPURBO, RTPURBO_TOPK); 0 for DENSE and OPAQUE (rule untouched). */
int attn_desc_rows(const attn_desc *d, attn_rows_rule *rule);

#endif
