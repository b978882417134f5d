/* tokenizer.c — byte-level BPE (GPT-2 family) as GGUF files describe it.
 *
 * Encoding, in order:
 *   1. special tokens: control (and unknown) tokens when allow_special is
 *      set, user-defined tokens always, are cut out of the text first; at
 *      each position the longest one wins, leftmost position first;
 *   2. pre-tokenizer on each remaining span: for "smollm" every \p{N} code
 *      point is a piece of its own and the spans between them go through
 *      the GPT-2 regex
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      (split_gpt2 below is that regex written out by hand; the lookahead
 *      sees only its own span, as in HF tokenizers' sequence of splits);
 *   3. BPE on each piece: every byte starts as the token of its GPT-2
 *      byte→unicode character, then the adjacent pair of lowest merge rank is
 *      merged (leftmost on ties) until no pair has a merge.
 * Merges are kept as (left id, right id) → (rank, result id), so BPE never
 * builds strings. Invalid UTF-8 stays bytes: an invalid byte is one code
 * point of class "other" (as U+FFFD would be) and BPE sees its raw byte, so
 * decode(encode(s)) == s for every byte string, except that a byte whose
 * character is not in the vocabulary is dropped before BPE (its neighbours
 * in the piece may then merge), as HF tokenizers' BPE does. SmolLM2 lacks 21
 * such bytes: 04 06 13 14 16 1D C0 C1 F1 F2 F5–FF.
 *
 * Decoding: a control/unknown/user-defined token gives its text verbatim;
 * any other token maps each character back through the byte table (a token
 * with a character outside the table gives its UTF-8 text, as HF's ByteLevel
 * decoder does).
 */
#include "model/tokenizer.h"
#include "model/tok_spm.h"
#include "model/unicode.h"

#include <limits.h>
#include <string.h>

enum { PRE_SMOLLM, PRE_GPT2 };

struct merge_slot {
    uint64_t key; /* left id << 32 | right id; MERGE_EMPTY if free */
    int32_t rank;
    int32_t id;   /* the merged token */
};
#define MERGE_EMPTY UINT64_MAX

struct tokenizer {
    tok_spm *spm;                /* a SentencePiece file: everything below unused */
    int n_vocab, bos, eos, pre;
    /* token i: text (as in the file) text[text_off[i] .. text_off[i+1]),
     * decoded bytes bytes[byte_off[i] .. byte_off[i+1]) */
    char *text, *bytes;
    size_t *text_off, *byte_off;
    int32_t *types;
    int32_t *tok_slots;          /* text → id, open addressing, -1 free */
    size_t tok_mask;
    struct merge_slot *merge_slots;
    size_t merge_mask;
    int byte_tok[256];           /* byte → id of its one-character token, or -1 */
    int *special;                /* ids of matchable tokens, longest first */
    int n_special;
    uint8_t special_first[256];  /* 1 if some special token starts with the byte */
};

/* ---- the GPT-2 byte ↔ unicode table -------------------------------------- */

/* Bytes 33–126, 161–172 and 174–255 stand for themselves; the other 68 get
 * 256, 257, … in byte order, so every byte has a printable character. */
static void byte_to_unicode(uint32_t map[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        map[b] = self ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    /* the table only needs code points below 0x800 */
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* ---- hash tables ------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return key;
}

static size_t table_size(size_t n)
{
    size_t s = 16;
    while (s < 2 * n) s <<= 1;
    return s;
}

static int find_text(const tokenizer *t, const char *s, size_t n)
{
    for (size_t i = hash_bytes(s, n) & t->tok_mask;; i = (i + 1) & t->tok_mask) {
        int32_t id = t->tok_slots[i];
        if (id < 0) return -1;
        size_t len = t->text_off[id + 1] - t->text_off[id];
        if (len == n && memcmp(t->text + t->text_off[id], s, n) == 0) return id;
    }
}

/* The first of several tokens with one text keeps it. */
static void insert_text(tokenizer *t, int id)
{
    const char *s = t->text + t->text_off[id];
    size_t n = t->text_off[id + 1] - t->text_off[id];
    if (find_text(t, s, n) >= 0) return;
    size_t i = hash_bytes(s, n) & t->tok_mask;
    while (t->tok_slots[i] >= 0) i = (i + 1) & t->tok_mask;
    t->tok_slots[i] = id;
}

static const struct merge_slot *find_merge(const tokenizer *t, int a, int b)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (size_t i = hash_pair(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        const struct merge_slot *m = &t->merge_slots[i];
        if (m->key == key) return m;
        if (m->key == MERGE_EMPTY) return NULL;
    }
}

/* The lowest rank of a pair keeps it. */
static void insert_merge(tokenizer *t, int a, int b, int rank, int id)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t i = hash_pair(key) & t->merge_mask;
    for (; t->merge_slots[i].key != MERGE_EMPTY; i = (i + 1) & t->merge_mask)
        if (t->merge_slots[i].key == key) return;
    t->merge_slots[i] = (struct merge_slot){key, rank, id};
}

/* ---- construction ------------------------------------------------------ */

static int pre_from_name(gguf_str name)
{
    if (gguf_str_eq(name, "smollm")) return PRE_SMOLLM;
    if (gguf_str_eq(name, "gpt2")) return PRE_GPT2;
    return -1;
}

static int is_special_type(int32_t type)
{
    return type == TOK_CONTROL || type == TOK_UNKNOWN || type == TOK_USER;
}

/* Decoded bytes of a normal token: each character through the byte table,
 * or the text itself if some character is not in the table. */
static size_t decode_text(const char *s, size_t n, const int16_t *unmap, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (cp >= 512 || unmap[cp] < 0) {
            memcpy(out, s, n);
            return n;
        }
        out[o++] = (char)unmap[cp];
    }
    return o;
}

static int cmp_special(const void *pa, const void *pb, void *ctx)
{
    const tokenizer *t = ctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    size_t la = t->text_off[a + 1] - t->text_off[a], lb = t->text_off[b + 1] - t->text_off[b];
    if (la != lb) return la > lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

static tokenizer *fail(tokenizer *t)
{
    tok_free(t);
    return NULL;
}

tokenizer *tok_from_spec(const tok_spec *sp, pb_err *err)
{
    const char *src = sp->source ? sp->source : "tokenizer";
    if (!gguf_str_eq(sp->model, "gpt2")) {
        pb_errf(err, src, -1, "tokenizer.ggml.model is \"%.*s\": only \"gpt2\" (byte-level BPE) is supported",
                (int)(sp->model.len > 64 ? 64 : sp->model.len), sp->model.s ? sp->model.s : "");
        return NULL;
    }
    int pre = pre_from_name(sp->pre);
    if (pre < 0) {
        pb_errf(err, src, -1, "tokenizer.ggml.pre: unknown pre-tokenizer \"%.*s\" (supported: smollm, gpt2)",
                (int)(sp->pre.len > 64 ? 64 : sp->pre.len), sp->pre.s ? sp->pre.s : "");
        return NULL;
    }
    if (sp->n_tokens == 0 || sp->n_tokens > INT32_MAX / 2) {
        pb_errf(err, src, -1, "tokenizer.ggml.tokens: %llu tokens", (unsigned long long)sp->n_tokens);
        return NULL;
    }
    int n = (int)sp->n_tokens;
    if (sp->bos < -1 || sp->bos >= n || sp->eos < -1 || sp->eos >= n) {
        pb_errf(err, src, -1, "tokenizer.ggml.%s_token_id %lld is not below the vocabulary size %d",
                (sp->bos < -1 || sp->bos >= n) ? "bos" : "eos",
                (long long)((sp->bos < -1 || sp->bos >= n) ? sp->bos : sp->eos), n);
        return NULL;
    }

    tokenizer *t = pb_calloc(1, sizeof *t);
    t->n_vocab = n;
    t->pre = pre;
    t->bos = (int)sp->bos;
    t->eos = (int)sp->eos;
    t->types = pb_malloc((size_t)n * sizeof *t->types);
    t->text_off = pb_malloc(((size_t)n + 1) * sizeof *t->text_off);
    t->byte_off = pb_malloc(((size_t)n + 1) * sizeof *t->byte_off);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        t->types[i] = sp->types ? sp->types[i] : TOK_NORMAL;
        t->text_off[i] = total;
        total += sp->tokens[i].len;
    }
    t->text_off[n] = total;
    t->text = pb_malloc(total);
    t->bytes = pb_malloc(total); /* decoded text is never longer */
    for (int i = 0; i < n; i++)
        if (sp->tokens[i].len) memcpy(t->text + t->text_off[i], sp->tokens[i].s, sp->tokens[i].len);

    uint32_t map[256];
    int16_t unmap[512];
    byte_to_unicode(map);
    for (int i = 0; i < 512; i++) unmap[i] = -1;
    for (int b = 0; b < 256; b++) unmap[map[b]] = (int16_t)b;
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *s = t->text + t->text_off[i];
        size_t len = t->text_off[i + 1] - t->text_off[i];
        t->byte_off[i] = o;
        if (is_special_type(t->types[i])) {
            memcpy(t->bytes + o, s, len);
            o += len;
        } else {
            o += decode_text(s, len, unmap, t->bytes + o);
        }
    }
    t->byte_off[n] = o;

    size_t ts = table_size((size_t)n);
    t->tok_mask = ts - 1;
    t->tok_slots = pb_malloc(ts * sizeof *t->tok_slots);
    memset(t->tok_slots, 0xFF, ts * sizeof *t->tok_slots);
    for (int i = 0; i < n; i++) insert_text(t, i);

    for (int b = 0; b < 256; b++) {
        char c[4];
        size_t len = utf8_put(c, map[b]);
        t->byte_tok[b] = find_text(t, c, len); /* -1: the byte is dropped */
    }

    if (sp->n_merges > INT32_MAX / 2) {
        pb_errf(err, src, -1, "tokenizer.ggml.merges: %llu merges", (unsigned long long)sp->n_merges);
        return fail(t);
    }
    size_t ms = table_size((size_t)sp->n_merges);
    t->merge_mask = ms - 1;
    t->merge_slots = pb_malloc(ms * sizeof *t->merge_slots);
    for (size_t i = 0; i < ms; i++) t->merge_slots[i].key = MERGE_EMPTY;
    char *buf = NULL;
    size_t buf_cap = 0;
    for (uint64_t r = 0; r < sp->n_merges; r++) {
        gguf_str m = sp->merges[r];
        /* "left right": split at the first space after the first byte */
        size_t sep = 1;
        while (sep < m.len && m.s[sep] != ' ') sep++;
        if (m.len < 3 || sep >= m.len - 1) {
            free(buf);
            pb_errf(err, src, -1, "tokenizer.ggml.merges[%llu]: \"%.*s\" is not \"left right\"",
                    (unsigned long long)r, (int)(m.len > 64 ? 64 : m.len), m.s ? m.s : "");
            return fail(t);
        }
        int a = find_text(t, m.s, sep), b = find_text(t, m.s + sep + 1, m.len - sep - 1);
        if (m.len > buf_cap) {
            buf_cap = 2 * m.len;
            buf = pb_realloc(buf, buf_cap);
        }
        memcpy(buf, m.s, sep);
        memcpy(buf + sep, m.s + sep + 1, m.len - sep - 1);
        int id = find_text(t, buf, m.len - 1);
        if (a < 0 || b < 0 || id < 0) {
            free(buf);
            pb_errf(err, src, -1, "tokenizer.ggml.merges[%llu]: \"%.*s\": %s is not a token",
                    (unsigned long long)r, (int)(m.len > 64 ? 64 : m.len), m.s,
                    a < 0 ? "the left part" : b < 0 ? "the right part" : "the merged text");
            return fail(t);
        }
        insert_merge(t, a, b, (int)r, id);
    }
    free(buf);

    t->special = pb_malloc((size_t)n * sizeof *t->special);
    for (int i = 0; i < n; i++) {
        if (!is_special_type(t->types[i]) || t->text_off[i + 1] == t->text_off[i]) continue;
        t->special[t->n_special++] = i;
        t->special_first[(unsigned char)t->text[t->text_off[i]]] = 1;
    }
    qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special, t);
    return t;
}

void tok_free(tokenizer *t)
{
    if (!t) return;
    spm_free(t->spm);
    free(t->text);
    free(t->bytes);
    free(t->text_off);
    free(t->byte_off);
    free(t->types);
    free(t->tok_slots);
    free(t->merge_slots);
    free(t->special);
    free(t);
}

/* Reads an optional token id key: -1 if absent. */
static int get_opt_id(const gguf *g, const char *key, int64_t *out, pb_err *err)
{
    *out = -1;
    if (!gguf_find_kv(g, key)) return 1;
    uint32_t v;
    if (!gguf_get_u32(g, key, &v, err)) return 0;
    *out = v;
    return 1;
}

tokenizer *tok_from_gguf(const gguf *g, pb_err *err)
{
    const char *path = gguf_path(g);
    tok_spec sp = {.source = path};
    if (!gguf_get_str(g, "tokenizer.ggml.model", &sp.model, err)) return NULL;
    if (gguf_str_eq(sp.model, "llama")) {  /* SentencePiece: tok_spm.c */
        tok_spm *spm = spm_from_gguf(g, err);
        if (!spm) return NULL;
        tokenizer *t = pb_calloc(1, sizeof *t);
        t->spm = spm;
        t->n_vocab = spm_vocab_size(spm);
        t->bos = spm_bos(spm);
        t->eos = spm_eos(spm);
        return t;
    }
    if (!gguf_get_str(g, "tokenizer.ggml.pre", &sp.pre, err)) return NULL;
    const gguf_kv *pre = gguf_find_kv(g, "tokenizer.ggml.pre");
    if (pre_from_name(sp.pre) < 0) {
        pb_errf(err, path, (long long)pre->file_offset,
                "tokenizer.ggml.pre: unknown pre-tokenizer \"%.*s\" (supported: smollm, gpt2)",
                (int)(sp.pre.len > 64 ? 64 : sp.pre.len), sp.pre.s);
        return NULL;
    }
    const gguf_kv *tokens = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, err);
    if (!tokens) return NULL;
    const gguf_kv *merges = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, err);
    if (!merges) return NULL;
    sp.tokens = tokens->strs;
    sp.n_tokens = tokens->n;
    sp.merges = merges->strs;
    sp.n_merges = merges->n;
    if (!get_opt_id(g, "tokenizer.ggml.bos_token_id", &sp.bos, err)) return NULL;
    if (!get_opt_id(g, "tokenizer.ggml.eos_token_id", &sp.eos, err)) return NULL;

    int32_t *types = NULL;
    const gguf_kv *tt = gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (tt) {
        if (tt->type != GGUF_ARRAY || tt->arr_type == GGUF_STRING || tt->arr_type == GGUF_ARRAY ||
            tt->n != tokens->n) {
            pb_errf(err, path, (long long)tt->file_offset,
                    "tokenizer.ggml.token_type: want %llu integers, one per token",
                    (unsigned long long)tokens->n);
            return NULL;
        }
        types = pb_malloc((size_t)tt->n * sizeof *types + 1);
        for (uint64_t i = 0; i < tt->n; i++) {
            double v = gguf_arr_num(tt, i);
            types[i] = (v >= 0 && v <= 255) ? (int32_t)v : 0;
        }
        sp.types = types;
    }
    tokenizer *t = tok_from_spec(&sp, err);
    free(types);
    return t;
}

int tok_vocab_size(const tokenizer *t) { return t->n_vocab; }
int tok_bos(const tokenizer *t) { return t->bos; }
int tok_eos(const tokenizer *t) { return t->eos; }

int tok_add_bos(const tokenizer *t) { return t->spm ? spm_add_bos(t->spm) : 0; }

int tok_byte_token(const tokenizer *t, int byte)
{
    if (t->spm) return spm_byte_token(t->spm, byte);
    return byte >= 0 && byte < 256 ? t->byte_tok[byte] : -1;
}

int tok_find(const tokenizer *t, const char *text)
{
    if (t->spm) return spm_find(t->spm, text, strlen(text));
    return find_text(t, text, strlen(text));
}

/* ---- BPE --------------------------------------------------------------- */

struct pair {
    int32_t rank, left, right, a, b, id; /* symbols left, right with ids a, b merge into id */
};

/* Work space of one tok_encode call: the output and the symbols of a piece. */
struct enc {
    const tokenizer *t;
    const unsigned char *s;
    int *out;
    size_t n_out, cap_out;
    int32_t *sym, *next, *prev; /* per byte of the piece; sym -1: merged away */
    struct pair *heap;
    size_t cap, n_heap;
};

static void push_id(struct enc *x, int id)
{
    if (x->n_out == x->cap_out) {
        x->cap_out = x->cap_out ? 2 * x->cap_out : 64;
        x->out = pb_realloc(x->out, x->cap_out * sizeof *x->out);
    }
    x->out[x->n_out++] = id;
}

static int pair_less(const struct pair *p, const struct pair *q)
{
    return p->rank < q->rank || (p->rank == q->rank && p->left < q->left);
}

static void heap_push(struct enc *x, int left, int right)
{
    const struct merge_slot *m = find_merge(x->t, x->sym[left], x->sym[right]);
    if (!m) return;
    struct pair p = {m->rank, left, right, x->sym[left], x->sym[right], m->id};
    size_t i = x->n_heap++;
    while (i > 0 && pair_less(&p, &x->heap[(i - 1) / 2])) {
        x->heap[i] = x->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    x->heap[i] = p;
}

static struct pair heap_pop(struct enc *x)
{
    struct pair top = x->heap[0], last = x->heap[--x->n_heap];
    size_t i = 0, n = x->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_less(&x->heap[c + 1], &x->heap[c])) c++;
        if (!pair_less(&x->heap[c], &last)) break;
        x->heap[i] = x->heap[c];
        i = c;
    }
    if (n) x->heap[i] = last;
    return top;
}

/* Encodes the piece s[b, e) by BPE and appends its ids. */
static void bpe_piece(struct enc *x, size_t b, size_t e)
{
    const tokenizer *t = x->t;
    size_t n = e - b;
    if (n == 1) {
        if (t->byte_tok[x->s[b]] >= 0) push_id(x, t->byte_tok[x->s[b]]);
        return;
    }
    if (n > x->cap) {
        /* a piece has at most n - 1 live pairs, and each merge adds at most two */
        x->cap = n > 2 * x->cap ? n : 2 * x->cap;
        x->sym = pb_realloc(x->sym, x->cap * sizeof *x->sym);
        x->next = pb_realloc(x->next, x->cap * sizeof *x->next);
        x->prev = pb_realloc(x->prev, x->cap * sizeof *x->prev);
        x->heap = pb_realloc(x->heap, 3 * x->cap * sizeof *x->heap);
    }
    /* bytes without a token are left out, so their neighbours meet */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((x->sym[m] = t->byte_tok[x->s[b + i]]) >= 0) m++;
    if (m == 0) return;
    n = m;
    for (size_t i = 0; i < n; i++) {
        x->prev[i] = (int32_t)i - 1;
        x->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    x->n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++) heap_push(x, (int)i, (int)i + 1);
    while (x->n_heap) {
        struct pair p = heap_pop(x);
        /* stale if either side was merged away or changed since the push */
        if (x->sym[p.left] != p.a || x->sym[p.right] != p.b || x->next[p.left] != p.right) continue;
        x->sym[p.left] = p.id;
        x->sym[p.right] = -1;
        int r = x->next[p.right];
        x->next[p.left] = r;
        if (r >= 0) x->prev[r] = p.left;
        if (x->prev[p.left] >= 0) heap_push(x, x->prev[p.left], p.left);
        if (r >= 0) heap_push(x, p.left, r);
    }
    for (int i = 0; i >= 0; i = x->next[i]) push_id(x, x->sym[i]);
}

/* ---- pre-tokenizer ----------------------------------------------------- */

/* Class of the code point at s[i] (i < e); its length goes to *len. */
static int class_at(const unsigned char *s, size_t i, size_t e, size_t *len, uint32_t *cp)
{
    *len = utf8_next(s + i, e - i, cp);
    return uc_class(*cp);
}

/* The GPT-2 regex over s[b, e), alternative by alternative. */
static void split_gpt2(struct enc *x, size_t b, size_t e)
{
    const unsigned char *s = x->s;
    size_t i = b, len, len2;
    uint32_t c, c2;
    while (i < e) {
        int k = class_at(s, i, e, &len, &c);
        /* 's 't 're 've 'm 'll 'd (case-sensitive) */
        if (c == '\'' && i + 1 < e) {
            unsigned char n1 = s[i + 1], n2 = i + 2 < e ? s[i + 2] : 0;
            size_t m = 0;
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') m = 2;
            else if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) m = 3;
            if (m) {
                bpe_piece(x, i, i + m);
                i += m;
                continue;
            }
        }
        /* ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then
         * a run of one class */
        size_t j = i + len;
        if (c == ' ' && j < e) {
            int k2 = class_at(s, j, e, &len2, &c2);
            if (k2 != UC_SPACE) {
                k = k2;
                j += len2;
            }
        }
        if (k != UC_SPACE) {
            while (j < e && class_at(s, j, e, &len2, &c2) == k) j += len2;
            bpe_piece(x, i, j);
            i = j;
            continue;
        }
        /* `\s+(?!\S)|\s+`: a whitespace run; unless it reaches the end, its
         * last character is left to start the next piece (a space then joins
         * the word after it) */
        size_t last = i;
        j = i + len;
        while (j < e && class_at(s, j, e, &len2, &c2) == UC_SPACE) {
            last = j;
            j += len2;
        }
        if (j < e && last > i) j = last;
        bpe_piece(x, i, j);
        i = j;
    }
}

/* The pre-tokenizer over s[b, e), then BPE on each piece. */
static void encode_span(struct enc *x, size_t b, size_t e)
{
    if (x->t->pre == PRE_GPT2) {
        split_gpt2(x, b, e);
        return;
    }
    /* smollm: each \p{N} code point alone, the GPT-2 regex between them */
    size_t seg = b, len;
    uint32_t c;
    for (size_t i = b; i < e; i += len) {
        if (class_at(x->s, i, e, &len, &c) != UC_NUMBER) continue;
        split_gpt2(x, seg, i);
        bpe_piece(x, i, i + len);
        seg = i + len;
    }
    split_gpt2(x, seg, e);
}

/* The longest special token matching at s[i..e), or -1. */
static int match_special(const tokenizer *t, const unsigned char *s, size_t i, size_t e, int allow_control)
{
    for (int k = 0; k < t->n_special; k++) {
        int id = t->special[k];
        size_t n = t->text_off[id + 1] - t->text_off[id];
        if (n > e - i || memcmp(s + i, t->text + t->text_off[id], n) != 0) continue;
        if (t->types[id] == TOK_USER || allow_control) return id;
    }
    return -1;
}

int tok_encode(const tokenizer *t, const char *text, size_t len, int allow_special, int **ids)
{
    if (t->spm) return spm_encode(t->spm, text, len, allow_special, ids);
    PB_CHECK(len < (size_t)INT_MAX, "tok_encode: %zu bytes is too long", len);
    struct enc x = {.t = t, .s = (const unsigned char *)text};
    x.cap_out = len / 3 + 16;
    x.out = pb_malloc(x.cap_out * sizeof *x.out);
    size_t seg = 0;
    if (t->n_special) {
        for (size_t i = 0; i < len;) {
            int id = t->special_first[x.s[i]] ? match_special(t, x.s, i, len, allow_special) : -1;
            if (id < 0) {
                i++;
                continue;
            }
            encode_span(&x, seg, i);
            push_id(&x, id);
            i += t->text_off[id + 1] - t->text_off[id];
            seg = i;
        }
    }
    encode_span(&x, seg, len);
    free(x.sym);
    free(x.next);
    free(x.prev);
    free(x.heap);
    *ids = x.out;
    return (int)x.n_out;
}

size_t tok_decode_append(const tokenizer *t, int id, char **buf, size_t len, size_t *cap)
{
    if (t->spm) return spm_decode_append(t->spm, id, buf, len, cap);
    if (id < 0 || id >= t->n_vocab) return len;
    size_t n = t->byte_off[id + 1] - t->byte_off[id];
    if (len + n + 1 > *cap) {
        *cap = 2 * (len + n + 1);
        *buf = pb_realloc(*buf, *cap);
    }
    memcpy(*buf + len, t->bytes + t->byte_off[id], n);
    return len + n;
}

char *tok_chat_prompt(const tokenizer *t, const char *system, const char *user)
{
    char *out;
    size_t n;
    if (tok_find(t, "<start_of_turn>") >= 0 && tok_find(t, "<end_of_turn>") >= 0) {
        /* Gemma's turns: no system role; a system text opens the user turn */
        static const char fmt[] = "%s<start_of_turn>user\n%s%s%s<end_of_turn>\n<start_of_turn>model\n";
        const char *sep = system ? "\n\n" : "";
        if (!system) system = "";
        char *bos = NULL;  /* the BOS text, matched back to its id by tok_encode's allow_special */
        size_t nb = 0, cb = 0;
        if (tok_add_bos(t) && (nb = tok_decode_append(t, tok_bos(t), &bos, 0, &cb))) bos[nb] = 0;
        n = strlen(fmt) + nb + strlen(system) + strlen(sep) + strlen(user) + 1;
        out = pb_malloc(n);
        snprintf(out, n, fmt, nb ? bos : "", system, sep, user);
        free(bos);
        return out;
    }
    static const char def[] = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    if (!system) system = def;
    static const char fmt[] =
        "<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n";
    n = strlen(fmt) + strlen(system) + strlen(user) + 1;
    out = pb_malloc(n);
    snprintf(out, n, fmt, system, user);
    return out;
}

char *tok_chat_turn(const tokenizer *t, const char *user)
{
    int gemma = tok_find(t, "<start_of_turn>") >= 0 && tok_find(t, "<end_of_turn>") >= 0;
    const char *fmt = gemma ? "<end_of_turn>\n<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n"
                            : "<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n";
    size_t n = strlen(fmt) + strlen(user) + 1;
    char *out = pb_malloc(n);
    snprintf(out, n, fmt, user);
    return out;
}

int tok_chat_stop(const tokenizer *t)
{
    int id = tok_find(t, "<end_of_turn>");
    return id >= 0 ? id : tok_find(t, "<|im_end|>");
}
