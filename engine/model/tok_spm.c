/* tok_spm.c — SentencePiece BPE from a GGUF file (tok_spm.h).
 *
 * Token texts live in one buffer; a hash table maps text → id. Merging works
 * on the symbols of one span (byte ranges of the normalized span, linked
 * both ways) with a heap of candidate pairs ordered by the merged token's
 * score (higher first) and then by the left symbol's position (lower
 * first), as SentencePiece's own BPE does; a popped pair is stale when
 * either side changed since it was pushed (its length no longer adds up).
 */
#include "model/tok_spm.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "base/hash.h"

struct tok_spm {
    int n_vocab, bos, eos, unk, add_bos, space_prefix;
    char *text;                  /* token i: text[off[i] .. off[i+1]) as in the file */
    size_t *off;
    float *score;
    int32_t *type;
    int32_t *slots;              /* text → id, open addressing, -1 free */
    size_t mask;
    int byte_tok[256];           /* <0xNN> ids, -1 when absent */
    int *special;                /* control and user-defined ids by first byte, longest first */
    int sp_begin[257];           /* special[sp_begin[c] .. sp_begin[c+1]) start with byte c */
};

static const char SPACE_MARK[] = "\xe2\x96\x81";  /* U+2581, the escaped space */

static size_t tlen(const tok_spm *t, int id) { return t->off[id + 1] - t->off[id]; }

static uint64_t text_hash(const char *s, size_t n) { return pb_fnv1a64(PB_FNV1A64_INIT, s, n); }

static int lookup(const tok_spm *t, const char *s, size_t n)
{
    for (size_t i = text_hash(s, n) & t->mask;; i = (i + 1) & t->mask) {
        int id = t->slots[i];
        if (id < 0) return -1;
        if (tlen(t, id) == n && !memcmp(t->text + t->off[id], s, n)) return id;
    }
}

static int cmp_len_desc(const void *pa, const void *pb, void *ctx)
{
    const tok_spm *t = ctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    unsigned char fa = (unsigned char)t->text[t->off[a]], fb = (unsigned char)t->text[t->off[b]];
    if (fa != fb) return fa < fb ? -1 : 1;
    size_t la = tlen(t, a), lb = tlen(t, b);
    if (la != lb) return la > lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int get_opt_u32(const gguf *g, const char *key, int def, int *out, pb_err *err)
{
    *out = def;
    if (!gguf_find_kv(g, key)) return 1;
    uint32_t v;
    if (!gguf_get_u32(g, key, &v, err)) return 0;
    *out = (int)v;
    return 1;
}

static int get_opt_bool(const gguf *g, const char *key, int def, int *out, pb_err *err)
{
    *out = def;
    return !gguf_find_kv(g, key) || gguf_get_bool(g, key, out, err);
}

tok_spm *spm_from_gguf(const gguf *g, pb_err *err)
{
    const char *path = gguf_path(g);
    const gguf_kv *tokens = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, err);
    if (!tokens) return NULL;
    const gguf_kv *scores = gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_F32, err);
    if (!scores) return NULL;
    const gguf_kv *types = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_I32, err);
    if (!types) return NULL;
    if (tokens->n == 0 || tokens->n > INT32_MAX / 2 || scores->n != tokens->n || types->n != tokens->n)
        return pb_errf(err, path, (long long)tokens->file_offset,
                       "tokenizer.ggml.tokens/scores/token_type: %llu/%llu/%llu entries, want one each per token",
                       (unsigned long long)tokens->n, (unsigned long long)scores->n,
                       (unsigned long long)types->n), NULL;
    const int n = (int)tokens->n;
    int bos, eos, unk, add_bos, prefix;
    if (!get_opt_u32(g, "tokenizer.ggml.bos_token_id", -1, &bos, err) ||
        !get_opt_u32(g, "tokenizer.ggml.eos_token_id", -1, &eos, err) ||
        !get_opt_u32(g, "tokenizer.ggml.unknown_token_id", -1, &unk, err) ||
        !get_opt_bool(g, "tokenizer.ggml.add_bos_token", 1, &add_bos, err) ||
        !get_opt_bool(g, "tokenizer.ggml.add_space_prefix", 1, &prefix, err))
        return NULL;
    if (bos >= n || eos >= n || unk >= n)
        return pb_errf(err, path, -1, "tokenizer.ggml.%s_token_id is not below the vocabulary size %d",
                       bos >= n ? "bos" : eos >= n ? "eos" : "unknown", n), NULL;
    if (add_bos && bos < 0)
        return pb_errf(err, path, -1, "tokenizer.ggml.add_bos_token is set but tokenizer.ggml.bos_token_id is missing"),
               NULL;

    tok_spm *t = pb_calloc(1, sizeof *t);
    t->n_vocab = n;
    t->bos = bos;
    t->eos = eos;
    t->unk = unk;
    t->add_bos = add_bos;
    t->space_prefix = prefix;
    t->off = pb_malloc(((size_t)n + 1) * sizeof *t->off);
    t->score = pb_malloc((size_t)n * sizeof *t->score);
    t->type = pb_malloc((size_t)n * sizeof *t->type);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        t->off[i] = total;
        total += tokens->strs[i].len;
        t->score[i] = (float)gguf_arr_num(scores, (uint64_t)i);
        t->type[i] = (int32_t)gguf_arr_num(types, (uint64_t)i);
    }
    t->off[n] = total;
    t->text = pb_malloc(total + 1);
    for (int i = 0; i < n; i++) memcpy(t->text + t->off[i], tokens->strs[i].s, tokens->strs[i].len);

    size_t ts = 16;
    while (ts < 2 * (size_t)n) ts *= 2;
    t->mask = ts - 1;
    t->slots = pb_malloc(ts * sizeof *t->slots);
    memset(t->slots, 0xFF, ts * sizeof *t->slots);
    for (int i = 0; i < n; i++) {
        if (lookup(t, t->text + t->off[i], tlen(t, i)) >= 0) continue;  /* first id of a text wins */
        size_t k = text_hash(t->text + t->off[i], tlen(t, i)) & t->mask;
        while (t->slots[k] >= 0) k = (k + 1) & t->mask;
        t->slots[k] = i;
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int id = lookup(t, name, 6);
        t->byte_tok[b] = id >= 0 && t->type[id] == TOK_BYTE ? id : -1;
    }
    t->special = pb_malloc((size_t)n * sizeof *t->special);
    int ns = 0;
    for (int i = 0; i < n; i++) {
        if ((t->type[i] != TOK_CONTROL && t->type[i] != TOK_USER) || tlen(t, i) == 0) continue;
        t->special[ns++] = i;
        t->sp_begin[(unsigned char)t->text[t->off[i]] + 1]++;
    }
    for (int c = 0; c < 256; c++) t->sp_begin[c + 1] += t->sp_begin[c];
    qsort_r(t->special, (size_t)ns, sizeof *t->special, cmp_len_desc, t);
    return t;
}

void spm_free(tok_spm *t)
{
    if (!t) return;
    free(t->text);
    free(t->off);
    free(t->score);
    free(t->type);
    free(t->slots);
    free(t->special);
    free(t);
}

int spm_vocab_size(const tok_spm *t) { return t->n_vocab; }
int spm_bos(const tok_spm *t) { return t->bos; }
int spm_eos(const tok_spm *t) { return t->eos; }
int spm_add_bos(const tok_spm *t) { return t->add_bos; }
int spm_find(const tok_spm *t, const char *text, size_t len) { return lookup(t, text, len); }
int spm_byte_token(const tok_spm *t, int byte) { return byte >= 0 && byte < 256 ? t->byte_tok[byte] : -1; }

/* ---- encoding ---------------------------------------------------------- */

struct cand {
    float score;
    int left, right;     /* symbol indices */
    int len;             /* bytes of the merged text, to detect stale entries */
};

struct work {
    const tok_spm *t;
    int *out;
    size_t n_out, cap_out;
    char *s;             /* the normalized span */
    size_t cap_s;
    int *start, *len, *prev, *next;  /* per symbol */
    size_t cap_sym;
    struct cand *heap;
    size_t n_heap, cap_heap;
};

static void push_id(struct work *w, int id)
{
    if (w->n_out == w->cap_out) {
        w->cap_out = w->cap_out ? 2 * w->cap_out : 64;
        w->out = pb_realloc(w->out, w->cap_out * sizeof *w->out);
    }
    w->out[w->n_out++] = id;
}

static int cand_before(const struct cand *a, const struct cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

/* Pushes the pair (l, r) when their concatenation is a normal token. */
static void try_pair(struct work *w, int l, int r)
{
    if (l < 0 || r < 0) return;
    int n = w->len[l] + w->len[r];
    int id = lookup(w->t, w->s + w->start[l], (size_t)n);
    if (id < 0 || w->t->type[id] != TOK_NORMAL) return;
    if (w->n_heap == w->cap_heap) {
        w->cap_heap = w->cap_heap ? 2 * w->cap_heap : 256;
        w->heap = pb_realloc(w->heap, w->cap_heap * sizeof *w->heap);
    }
    struct cand c = {w->t->score[id], l, r, n};
    size_t i = w->n_heap++;
    while (i > 0 && cand_before(&c, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = c;
}

static struct cand pop(struct work *w)
{
    struct cand top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!cand_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Bytes of the UTF-8 character at s[0..n): 1 for an invalid byte. */
static int char_len(const unsigned char *s, size_t n)
{
    int k = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (k == 0 || (size_t)k > n) return 1;
    for (int i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    return k;
}

/* Encodes raw text[b, e) (no special tokens inside) and appends its ids. */
static void encode_span(struct work *w, const char *text, size_t b, size_t e, int at_start)
{
    const tok_spm *t = w->t;
    if (b >= e) return;
    /* normalize: optional leading mark, ' ' → U+2581 */
    size_t need = 3 * (e - b) + 3;
    if (need > w->cap_s) {
        w->cap_s = 2 * need;
        w->s = pb_realloc(w->s, w->cap_s);
    }
    size_t n = 0;
    if (t->space_prefix && at_start) { memcpy(w->s, SPACE_MARK, 3); n = 3; }
    for (size_t i = b; i < e; i++) {
        if (text[i] == ' ') { memcpy(w->s + n, SPACE_MARK, 3); n += 3; }
        else w->s[n++] = text[i];
    }
    if (n > w->cap_sym) {
        w->cap_sym = 2 * n;
        w->start = pb_realloc(w->start, w->cap_sym * sizeof *w->start);
        w->len = pb_realloc(w->len, w->cap_sym * sizeof *w->len);
        w->prev = pb_realloc(w->prev, w->cap_sym * sizeof *w->prev);
        w->next = pb_realloc(w->next, w->cap_sym * sizeof *w->next);
    }
    int ns = 0;
    for (size_t i = 0; i < n; ns++) {
        w->start[ns] = (int)i;
        w->len[ns] = char_len((const unsigned char *)w->s + i, n - i);
        w->prev[ns] = ns - 1;
        w->next[ns] = ns + 1;
        i += (size_t)w->len[ns];
    }
    w->next[ns - 1] = -1;
    w->n_heap = 0;
    for (int i = 0; i + 1 < ns; i++) try_pair(w, i, i + 1);
    while (w->n_heap) {
        struct cand c = pop(w);
        if (w->len[c.left] == 0 || w->len[c.right] == 0 || w->next[c.left] != c.right ||
            w->len[c.left] + w->len[c.right] != c.len)
            continue;
        w->len[c.left] = c.len;
        w->len[c.right] = 0;
        int r = w->next[c.right];
        w->next[c.left] = r;
        if (r >= 0) w->prev[r] = c.left;
        try_pair(w, w->prev[c.left], c.left);
        try_pair(w, c.left, r);
    }
    for (int i = 0; i >= 0; i = w->next[i]) {
        int id = lookup(t, w->s + w->start[i], (size_t)w->len[i]);
        if (id >= 0 && t->type[id] == TOK_NORMAL) { push_id(w, id); continue; }
        for (int k = 0; k < w->len[i]; k++) {  /* byte fallback */
            int bt = t->byte_tok[(unsigned char)w->s[w->start[i] + k]];
            if (bt >= 0) push_id(w, bt);
            else if (t->unk >= 0) { push_id(w, t->unk); break; }
        }
    }
}

/* The longest control (when allowed) or user-defined token at s[i..e), or -1. */
static int match_special(const tok_spm *t, const char *s, size_t i, size_t e, int allow_control)
{
    const unsigned char c = (unsigned char)s[i];
    for (int k = t->sp_begin[c]; k < t->sp_begin[c + 1]; k++) {
        int id = t->special[k];
        size_t n = tlen(t, id);
        if (n > e - i || memcmp(s + i, t->text + t->off[id], n) != 0) continue;
        if (t->type[id] == TOK_USER || allow_control) return id;
    }
    return -1;
}

int spm_encode(const tok_spm *t, const char *text, size_t len, int allow_special, int **ids)
{
    PB_CHECK(len < (size_t)INT_MAX / 4, "tok_encode: %zu bytes is too long", len);
    struct work w = {.t = t};
    w.cap_out = len / 3 + 16;
    w.out = pb_malloc(w.cap_out * sizeof *w.out);
    /* U+2581 is the escaped space: the same as ' ' from here on */
    char *raw = NULL;
    if (memmem(text, len, SPACE_MARK, 3)) {
        raw = pb_malloc(len + 1);
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            if (i + 3 <= len && !memcmp(text + i, SPACE_MARK, 3)) { raw[o++] = ' '; i += 3; }
            else raw[o++] = text[i++];
        }
        text = raw;
        len = o;
    }
    size_t seg = 0;
    for (size_t i = 0; i < len;) {
        int id = match_special(t, text, i, len, allow_special);
        if (id < 0) { i++; continue; }
        encode_span(&w, text, seg, i, seg == 0);
        push_id(&w, id);
        i += tlen(t, id);
        seg = i;
    }
    encode_span(&w, text, seg, len, seg == 0);
    free(raw);
    free(w.s);
    free(w.start);
    free(w.len);
    free(w.prev);
    free(w.next);
    free(w.heap);
    *ids = w.out;
    return (int)w.n_out;
}

/* ---- decoding ---------------------------------------------------------- */

size_t spm_decode_append(const tok_spm *t, int id, char **buf, size_t len, size_t *cap)
{
    if (id < 0 || id >= t->n_vocab) return len;
    const char *s = t->text + t->off[id];
    size_t n = tlen(t, id);
    if (len + n + 1 > *cap) {
        *cap = 2 * (len + n + 1);
        *buf = pb_realloc(*buf, *cap);
    }
    if (t->type[id] == TOK_BYTE) {
        for (int b = 0; b < 256; b++)
            if (t->byte_tok[b] == id) (*buf)[len++] = (char)b;
        return len;
    }
    if (t->type[id] != TOK_NORMAL) {
        memcpy(*buf + len, s, n);
        return len + n;
    }
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(s + i, SPACE_MARK, 3)) { (*buf)[len++] = ' '; i += 3; }
        else (*buf)[len++] = s[i++];
    }
    return len;
}
