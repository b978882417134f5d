/* test_suite_gen.c — the task generators with the bundled model's tokenizer:
 * determinism (seed -> prompt hash), prompts that fill their token budget
 * without passing it, answers really in the prompt, needles at the depth
 * asked for (niah, passkey) or at RULER's depths (niah_*, essay), RULER's
 * structure for vt, cwe and fwe, and gen_check's located errors. */
#include <ctype.h>

#include "tests/fixture.h"
#include "suites/gen.h"
#include "suites/gen_impl.h"
#include "tests/test.h"
#include "suites/words.h"

static suite *parse(const char *tasks, pb_err *e)
{
    char text[4096];
    snprintf(text, sizeof text, "name: t\nmodel: m\nmethods: [{policy: dense}]\ntasks:\n%s", tasks);
    return suite_parse("gen-test.yaml", text, strlen(text), e);
}

static int ntok(const char *s, size_t n)
{
    int *ids;
    int k = tok_encode(fixture_tok(), s, n, 1, &ids);
    free(ids);
    return k;
}

static int count(const char *s, size_t n, const char *what)
{
    int c = 0;
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++) c += !memcmp(s + i, what, k);
    return c;
}

/* sentence ends ([.?!] then a space) in s[0, n) */
static int ends_before(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i + 1 < n; i++) c += strchr(".?!", s[i]) && s[i] && s[i + 1] == ' ';
    return c;
}

static const char *ALL_TYPES =
    "  - {type: passkey, contexts: [1024], samples: 2}\n"
    "  - {type: niah, contexts: [1024], depths: [50], samples: 2}\n"
    "  - {type: niah_single_1, contexts: [1024], samples: 2}\n"
    "  - {type: niah_single_2, contexts: [1024], samples: 2}\n"
    "  - {type: niah_single_3, contexts: [1024], samples: 2}\n"
    "  - {type: niah_multikey_1, contexts: [1024], samples: 2}\n"
    "  - {type: niah_multikey_2, contexts: [1024], samples: 2}\n"
    "  - {type: niah_multikey_3, contexts: [1024], samples: 2}\n"
    "  - {type: niah_multivalue, contexts: [1024], samples: 2}\n"
    "  - {type: niah_multiquery, contexts: [1024], samples: 2}\n"
    "  - {type: vt, contexts: [1024], samples: 2}\n"
    "  - {type: cwe, contexts: [1024], samples: 2}\n"
    "  - {type: fwe, contexts: [1024], samples: 2}\n";

TEST(suite_gen_deterministic)
{
    pb_err e;
    suite *s = parse(ALL_TYPES, &e), *s2;
    CHECK_MSG(s, "%s", e.msg);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", ALL_TYPES);
    for (char *p = buf; (p = strstr(p, "samples: 2")); p++) memcpy(p, "seed: 777 ", 10);
    s2 = parse(buf, &e);
    CHECK_MSG(s2, "%s", e.msg);
    for (int ti = 0; ti < s->n_tasks; ti++) {
        suite_case a, b, c, d;
        CHECK_MSG(gen_case(s, ti, 0, fixture_tok(), &a, &e), "%s", e.msg);
        CHECK_MSG(gen_case(s, ti, 0, fixture_tok(), &b, &e), "%s", e.msg);
        CHECK_MSG(gen_case(s, ti, 1, fixture_tok(), &c, &e), "%s", e.msg);
        CHECK_MSG(gen_case(s2, ti, 0, fixture_tok(), &d, &e), "%s", e.msg);
        const char *name = s->tasks[ti].name;
        CHECK_MSG(strlen(a.hash) == 16 && !strcmp(a.hash, b.hash) && !strcmp(a.prompt, b.prompt), "%s: same seed", name);
        CHECK_MSG(a.n_answers == b.n_answers && !strcmp(a.answers[0], b.answers[0]), "%s", name);
        CHECK_MSG(a.n_ids == b.n_ids && !memcmp(a.ids, b.ids, (size_t)a.n_ids * sizeof(int)), "%s", name);
        CHECK_MSG(strcmp(a.hash, c.hash) && strcmp(a.answers[0], c.answers[0]), "%s: sample 1 = sample 0", name);
        CHECK_MSG(strcmp(a.hash, d.hash) && strcmp(a.prompt, d.prompt), "%s: seed 777 = seed 42", name);
        CHECK(a.seed != c.seed && a.seed != d.seed);
        gen_case_free(&a), gen_case_free(&b), gen_case_free(&c), gen_case_free(&d);
    }
    suite_free(s);
    suite_free(s2);
}

/* The prompt: chat-templated, answer prefix last, within budget and close to it. */
TEST(suite_gen_budget)
{
    pb_err e;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", ALL_TYPES);
    for (char *p = buf; (p = strstr(p, "[1024]")); p++) memcpy(p, "[2500]", 6);
    suite *s = parse(buf, &e);
    CHECK_MSG(s, "%s", e.msg);
    const char *assistant = "<|im_start|>assistant\n";
    for (int ti = 0; ti < s->n_tasks; ti++) {
        const suite_task *t = &s->tasks[ti];
        suite_case c;
        CHECK_MSG(gen_case(s, ti, 0, fixture_tok(), &c, &e), "%s", e.msg);
        CHECK_MSG(c.n_ids == ntok(c.prompt, c.prompt_len), "%s: ids are not the prompt's", t->name);
        CHECK_MSG(c.budget == 2500 - t->max_new && c.n_ids <= c.budget, "%s: %d tokens > %d", t->name, c.n_ids, c.budget);
        /* within 3% of the budget, plus one haystack unit where a unit is a whole line */
        int unit = t->type == TASK_NIAH_MULTIKEY_3 ? 75 : t->type == TASK_NIAH_MULTIKEY_2 ? 30 : 24;
        CHECK_MSG(c.n_ids >= c.budget - c.budget * 3 / 100 - unit, "%s: %d tokens, budget %d", t->name, c.n_ids, c.budget);
        CHECK(!strncmp(c.prompt, "<|im_start|>system\n", 19));
        const char *a = strstr(c.prompt, assistant);
        CHECK_MSG(a && strstr(c.prompt, "<|im_start|>user\n") < a, "%s: no chat template", t->name);
        const char *prefix = a + strlen(assistant);
        if (t->type >= TASK_NIAH_SINGLE_1 && t->type <= TASK_NIAH_MULTIQUERY)
            CHECK_MSG(!strncmp(prefix, " The special magic", 18) && prefix[strlen(prefix) - 1] != ' ', "%s", t->name);
        if (t->type >= TASK_VT && t->type <= TASK_FWE) CHECK_MSG(!strncmp(prefix, " Answer:", 8), "%s", t->name);
        CHECK(c.hay_begin < c.hay_end && c.hay_end < (size_t)(a - c.prompt));
        for (int i = 0; i < c.n_needles; i++) CHECK(c.needles[i] >= c.hay_begin && c.needles[i] < c.hay_end);
        gen_case_free(&c);
    }
    suite_free(s);
}

/* niah: the needle at the sentence start nearest to depth% of the haystack,
 * so within a sentence of depth x length in tokens. */
TEST(suite_gen_niah_depth)
{
    pb_err e;
    suite *s = parse("  - {type: niah, contexts: [1024, 3000], depths: [0, 10, 33, 50, 75, 90, 100]}\n"
                     "  - {type: niah, name: noise, haystack: noise, contexts: [1024], depths: [0, 40, 100],\n"
                     "     needle: 'The code is {value}.', value_type: words, answers: ['{value}', code]}\n",
                     &e);
    CHECK_MSG(s, "%s", e.msg);
    for (int ti = 0; ti < s->n_tasks; ti++)
        for (int i = 0; i < gen_n_cases(&s->tasks[ti]); i++) {
            suite_case c;
            CHECK_MSG(gen_case(s, ti, i, fixture_tok(), &c, &e), "%s", e.msg);
            const char *p = c.prompt;
            char needle[128];
            if (ti == 0) snprintf(needle, sizeof needle, "The special magic number is %s.", c.answers[0]);
            else snprintf(needle, sizeof needle, "The code is %s.", c.answers[0]);
            size_t nl = strlen(needle), at = c.needles[0];
            CHECK(c.n_needles == 1 && !strncmp(p + at, needle, nl) && count(p, c.prompt_len, needle) == 1);
            CHECK(ti == 0 || (c.n_answers == 2 && !strcmp(c.answers[1], "code") && strchr(c.answers[0], '-')));
            /* in tokens: haystack tokens before the needle / all haystack tokens */
            double frac = (double)ntok(p + c.hay_begin, at - c.hay_begin) / ntok(p + c.hay_begin, c.hay_end - c.hay_begin);
            CHECK_MSG(fabs(frac - c.depth / 100) < 0.05, "ctx %d depth %g: needle at %.3f", c.context, c.depth, frac);
            /* in bytes: no sentence start of the haystack (without the needle) is nearer the target */
            sbuf hay = {0};
            sb_putn(&hay, p + c.hay_begin, at - c.hay_begin);
            size_t pos = hay.n;
            if (at + nl < c.hay_end) sb_putn(&hay, p + at + nl + 1, c.hay_end - at - nl - 1);
            else if (hay.n) hay.s[pos = --hay.n] = 0; /* at the end: "HAY needle" */
            CHECK_MSG(pos == 0 || pos == hay.n || (hay.s[pos - 1] == ' ' && strchr(".?!\"')", hay.s[pos - 2])),
                      "ctx %d depth %g: needle after \"%.20s\"", c.context, c.depth, hay.s + (pos > 20 ? pos - 20 : 0));
            double target = c.depth / 100 * (double)hay.n, d = fabs((double)pos - target);
            size_t *st;
            int ns = gen_sentences(hay.s, hay.n, &st);
            for (int k = 0; k < ns; k++) CHECK_MSG(fabs((double)st[k] - target) >= d, "a nearer sentence start");
            CHECK(fabs((double)hay.n - target) >= d);
            free(st);
            free(hay.s);
            gen_case_free(&c);
        }
    suite_free(s);
}

TEST(suite_gen_passkey_depth)
{
    pb_err e;
    suite *s = parse("  - {type: passkey, contexts: [2048], depths: [0, 30, 60, 100]}\n", &e);
    CHECK_MSG(s, "%s", e.msg);
    for (int i = 0; i < 4; i++) {
        suite_case c;
        CHECK_MSG(gen_case(s, 0, i, fixture_tok(), &c, &e), "%s", e.msg);
        CHECK(c.metric == METRIC_EXACT && c.n_answers == 1 && strlen(c.answers[0]) == 5);
        CHECK(!strncmp(c.prompt + c.needles[0], "The pass key is ", 16));
        CHECK(!strncmp(c.prompt + c.needles[0] + 16, c.answers[0], 5));
        double frac = (double)ntok(c.prompt + c.hay_begin, c.needles[0] - c.hay_begin) /
                      ntok(c.prompt + c.hay_begin, c.hay_end - c.hay_begin);
        CHECK_MSG(fabs(frac - c.depth / 100) < 0.03, "depth %g: key at %.3f", c.depth, frac);
        gen_case_free(&c);
    }
    suite_free(s);
}

/* RULER niah_*: the needles, their keys and values, the question, and the
 * essay needles at int(S * d / 100) sentences for d in RULER's 40 depths. */
TEST(suite_gen_ruler_niah)
{
    pb_err e;
    suite *s = parse("  - {type: niah_single_1, contexts: [2048]}\n  - {type: niah_single_2, contexts: [2048]}\n"
                     "  - {type: niah_single_3, contexts: [2048]}\n  - {type: niah_multikey_1, contexts: [2048]}\n"
                     "  - {type: niah_multikey_2, contexts: [2048]}\n  - {type: niah_multikey_3, contexts: [2048]}\n"
                     "  - {type: niah_multivalue, contexts: [2048]}\n  - {type: niah_multiquery, contexts: [2048]}\n"
                     "  - {type: niah_multikey_1, name: mk8, contexts: [3000], num_keys: 8, num_queries: 3}\n",
                     &e);
    CHECK_MSG(s, "%s", e.msg);
    for (int ti = 0; ti < s->n_tasks; ti++) {
        const suite_task *t = &s->tasks[ti];
        suite_case c;
        CHECK_MSG(gen_case(s, ti, 0, fixture_tok(), &c, &e), "%s", e.msg);
        const char *p = c.prompt, *hay = p + c.hay_begin, *vn = t->value_type == VAL_UUIDS ? "uuids" : "numbers";
        size_t hn = c.hay_end - c.hay_begin;
        int k = t->num_keys * t->num_values, single = t->num_values * t->num_queries == 1;
        CHECK_MSG(c.n_needles == k && c.n_answers == t->num_queries * t->num_values, "%s", t->name);
        int lines = count(hay, hn, "One of the special magic ");
        CHECK_MSG(t->haystack == HAY_NEEDLE ? lines == c.amount + k : lines == k, "%s: %d needles", t->name, lines);
        CHECK(count(p, c.prompt_len, single ? "A special magic " : "Some special magic ") == 1);
        for (int a = 0; a < c.n_answers; a++) {
            /* the value is in exactly one needle, whose key is asked for */
            const char *v = strstr(hay, c.answers[a]);
            CHECK_MSG(v && v < p + c.hay_end && count(p, c.prompt_len, c.answers[a]) == 1, "%s: %s", t->name, c.answers[a]);
            const char *line = v;
            while (line > hay && strncmp(line, "One of", 6)) line--;
            char key[64];
            CHECK(sscanf(line, "One of the special magic %*s for %63s is:", key) == 1 && !strncmp(line + 25, vn, 5));
            char q[128];
            snprintf(q, sizeof q, "for %s", key);
            const char *question = strstr(p + c.hay_end, "\nWhat ");
            CHECK_MSG(question && strstr(question, key), "%s: key %s not asked", t->name, key);
            CHECK(count(p + c.hay_end, strlen(p + c.hay_end), key) == 2); /* question and answer prefix */
            CHECK(t->key_type != VAL_WORDS || strchr(key, '-'));
        }
        if (t->num_queries > 1) CHECK(strstr(p + c.hay_end, ", and "));
        if (t->haystack == HAY_ESSAY) {
            /* cut the needles out; count the sentences before each */
            sbuf clean = {0};
            size_t from = c.hay_begin;
            int before[64];
            for (int i = 0; i < k; i++) {
                sb_putn(&clean, p + from, c.needles[i] - from);
                before[i] = ends_before(clean.s, clean.n);
                from = c.needles[i] + strcspn(p + c.needles[i], ".") + 2;
            }
            if (from < c.hay_end) sb_putn(&clean, p + from, c.hay_end - from);
            size_t *st;
            int S = gen_sentences(clean.s, clean.n, &st);
            free(st);
            for (int i = 0; i < k; i++) {
                int ok = 0;
                for (int d = 0; d < 40; d++) ok |= S * gen_ruler_depth(d) / 100 == before[i];
                CHECK_MSG(ok, "%s: needle %d after %d of %d sentences: not a RULER depth", t->name, i, before[i], S);
            }
            free(clean.s);
        }
        gen_case_free(&c);
    }
    suite_free(s);
}

TEST(suite_gen_vt)
{
    pb_err e;
    suite *s = parse("  - {type: vt, contexts: [2048]}\n"
                     "  - {type: vt, name: two, contexts: [1024], num_chains: 2, num_hops: 2, fewshot_tokens: 0}\n"
                     "  - {type: vt, name: essay, contexts: [1024], haystack: essay}\n",
                     &e);
    CHECK_MSG(s, "%s", e.msg);
    for (int ti = 0; ti < s->n_tasks; ti++) {
        const suite_task *t = &s->tasks[ti];
        suite_case c;
        CHECK_MSG(gen_case(s, ti, 0, fixture_tok(), &c, &e), "%s", e.msg);
        const char *p = c.prompt, *user = strstr(p, "<|im_start|>user\n") + 17;
        CHECK(c.n_answers == t->num_hops + 1 && c.n_needles == t->num_chains * (t->num_hops + 1));
        /* the chain: VAR a0 = V, VAR a1 = VAR a0, ... in order; V is asked for */
        char line[64];
        snprintf(line, sizeof line, "VAR %s = ", c.answers[0]);
        const char *at = strstr(p + c.hay_begin, line);
        CHECK(at && isdigit((unsigned char)at[strlen(line)]));
        char value[8] = {0};
        memcpy(value, at + strlen(line), 5);
        char q[96];
        snprintf(q, sizeof q, "assigned the value %s in the text above.", value);
        CHECK(strstr(p + c.hay_end, q) && count(p + c.hay_end, strlen(p + c.hay_end), value) == 2);
        for (int h = 1; h < c.n_answers; h++) {
            snprintf(line, sizeof line, "VAR %s = VAR %s%s", c.answers[h], c.answers[h - 1],
                     t->haystack == HAY_ESSAY ? "." : " \n");
            const char *next = strstr(p + c.hay_begin, line);
            CHECK_MSG(next && next > at && next < p + c.hay_end, "%s: hop %d", t->name, h);
            at = next;
        }
        CHECK(strlen(c.answers[0]) == 5 && isupper((unsigned char)c.answers[0][4]));
        if (t->fewshot_tokens) /* a solved example with 3-letter names first */
            CHECK(!strncmp(user, "Memorize", 8) && strstr(user, "they are:  ") < p + c.hay_begin &&
                  user[strstr(user, "they are:  ") - user + 14] == ' ');
        else
            CHECK(!strncmp(user, "Memorize", 8) && count(user, (size_t)(p + c.hay_begin - user), "they are:") == 0);
        gen_case_free(&c);
    }
    suite_free(s);
}

TEST(suite_gen_cwe)
{
    pb_err e;
    suite *s = parse("  - {type: cwe, contexts: [1024, 4200]}\n", &e);
    CHECK_MSG(s, "%s", e.msg);
    for (int i = 0; i < 2; i++) {
        suite_case c;
        CHECK_MSG(gen_case(s, 0, i, fixture_tok(), &c, &e), "%s", e.msg);
        CHECK(c.n_answers == 10 && c.amount >= 10);
        int cr = c.context < 4096 ? 6 : 30, ur = c.context < 4096 ? 1 : 3;
        /* the numbered list 1. w 2. w ...: each common word cr times, the others ur times */
        char *list = strndup(c.prompt + c.hay_begin, c.hay_end - c.hay_begin), *save, *tok;
        int n = 0, bad = 0;
        char *words[4096];
        for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n++) {
            if (n % 2 == 0) bad |= atoi(tok) != n / 2 + 1;
            else if (n / 2 < 4096) words[n / 2] = tok;
        }
        CHECK(!bad && n % 2 == 0 && n / 2 == 10 * cr + (int)(c.amount - 10) * ur);
        for (int w = 0; w < n / 2; w++) {
            int same = 0, common = 0;
            for (int v = 0; v < n / 2; v++) same += !strcmp(words[v], words[w]);
            for (int a = 0; a < 10; a++) common |= !strcmp(words[w], c.answers[a]);
            CHECK_MSG(same == (common ? cr : ur), "%s appears %d times", words[w], same);
        }
        free(list);
        CHECK(count(c.prompt, c.prompt_len, "Answer: The top 10 words that appear most often in the list are: 1. ") == 1);
        gen_case_free(&c);
    }
    suite_free(s);
}

TEST(suite_gen_fwe)
{
    pb_err e;
    suite *s = parse("  - {type: fwe, contexts: [2048]}\n", &e);
    CHECK_MSG(s, "%s", e.msg);
    suite_case c;
    CHECK_MSG(gen_case(s, 0, 0, fixture_tok(), &c, &e), "%s", e.msg);
    char *text = strndup(c.prompt + c.hay_begin, c.hay_end - c.hay_begin), *save;
    char *vocab[256];
    int cnt[256] = {0}, nv = 0, dots = 0, total = 0;
    for (char *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save), total++) {
        if (!strcmp(w, "...")) {
            dots++;
            continue;
        }
        int k = 0;
        while (k < nv && strcmp(vocab[k], w)) k++;
        CHECK(k < 256 && strlen(w) == 6);
        if (k == nv) vocab[nv++] = w;
        cnt[k]++;
    }
    CHECK(nv <= c.budget / 50 - 1 && c.n_answers == 3);
    /* the answers are the three most frequent words, in order, all rarer than the dots */
    int prev = dots;
    for (int a = 0; a < 3; a++) {
        int k = 0;
        while (k < nv && strcmp(vocab[k], c.answers[a])) k++;
        CHECK(k < nv && cnt[k] < prev);
        for (int o = 0; o < nv; o++) {
            int is_ans = 0;
            for (int b = 0; b <= a; b++) is_ans |= !strcmp(vocab[o], c.answers[b]);
            CHECK(is_ans || cnt[o] < cnt[k]);
        }
        prev = cnt[k];
    }
    /* zeta(2) counts: n / (zeta(2) k^2) */
    CHECK(abs(dots - (int)(c.amount / 1.6449340668482264)) <= 1);
    free(text);
    gen_case_free(&c);
    suite_free(s);
}

TEST(suite_gen_check)
{
    pb_err e;
    const char *files[] = {"suites/smoke.yaml", "suites/default.yaml", "suites/long.yaml"};
    for (int f = 0; f < 3; f++) {
        suite *s = suite_load(files[f], &e);
        CHECK_MSG(s, "%s", e.msg);
        CHECK_MSG(gen_check(s, fixture_tok(), &e), "%s", e.msg);
        suite_free(s);
    }
    suite *s = parse("  - {type: passkey, contexts: [512]}\n  - {type: cwe, contexts: [1024, 512]}\n", &e);
    CHECK_MSG(s, "%s", e.msg);
    CHECK(!gen_check(s, fixture_tok(), &e));
    CHECK_MSG(!strncmp(e.msg, "gen-test.yaml:6:5: task 'cwe': at context 512 the prompt takes ", 63), "%s", e.msg);
    suite_free(s);
    s = parse("  - {type: vt, contexts: [2048], fewshot_tokens: 100}\n", &e);
    CHECK(s && !gen_check(s, fixture_tok(), &e) && strstr(e.msg, "the few-shot example (fewshot_tokens) takes"));
    suite_free(s);
}

TEST(suite_gen_words)
{
    int n[3];
    const char *const *l[3] = {words_adjectives(&n[0]), words_nouns(&n[1]), words_verbs(&n[2])};
    CHECK(n[0] * n[1] > 30000);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < n[k]; i++) {
            for (const char *c = l[k][i]; *c; c++) CHECK_MSG(*c >= 'a' && *c <= 'z', "%s", l[k][i]);
            for (int j = 0; j < i; j++) CHECK_MSG(strcmp(l[k][i], l[k][j]), "%s twice", l[k][i]);
        }
    pb_rng r = {1};
    char v[48];
    gen_value(&r, VAL_UUIDS, v);
    CHECK(strlen(v) == 36 && v[14] == '4' && strchr("89ab", v[19]) && v[8] == '-' && v[23] == '-');
    gen_value(&r, VAL_NUMBERS, v);
    CHECK(strlen(v) == 7 && v[0] != '0');
    CHECK(gen_ruler_depth(0) == 0 && gen_ruler_depth(1) == 3 && gen_ruler_depth(20) == 51 && gen_ruler_depth(39) == 100);
}
