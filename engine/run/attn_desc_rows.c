/* attn_desc_rows.c — attn_desc to attn_rows_rule (attn_desc_rows.h): the
 * kinds map one to one; the fields carry over as they are. */
#include "run/attn_desc_rows.h"

#include <string.h>

int attn_desc_rows(const attn_desc *d, attn_rows_rule *rule)
{
    int r;
    switch (d->kind) {
    case ATTN_LOCAL: r = ROWS_LOCAL; break;
    case ATTN_QUEST: r = ROWS_QUEST; break;
    case ATTN_TOPK: r = ROWS_TOPK; break;
    case ATTN_TOPP: r = ROWS_TOPP; break;
    case ATTN_RTPURBO: r = ROWS_RTPURBO; break;
    case ATTN_RTPURBO_TOPK: r = ROWS_RTPURBO_TOPK; break;
    default: return 0;
    }
    memset(rule, 0, sizeof *rule);
    rule->rule = r;
    rule->sink = d->sink;
    rule->window = d->window;
    rule->block = d->block;
    rule->local = d->local;
    rule->page = d->page;
    rule->k_units = d->k_units;
    rule->kmin = d->kmin;
    rule->r = d->rank;
    rule->p = d->p;
    return 1;
}
