/* cmd_recall.c — `purbo-bench recall`: what converted plans' indexers keep
 * of the exact attention where a suite task asks its question, measured on
 * the CPU without generating anything.
 *
 * Per case of the task (the suite's own cases, the same prompts `run` feeds):
 * one dense pass over the prompt keeps every KV head's pre-RoPE keys and the
 * pre-RoPE queries of the last Q prompt positions (the question and the
 * answer prefix). Per plan and per retrieval head of that plan, the teacher
 * is the head's exact attention row at those positions and the student the
 * plan's indexer, anchored and selected as the rtpurbo policy selects
 * (convert_eval.c, kd_evaluate): recall of the teacher's top-p tokens inside
 * the selected blocks, the teacher's mass inside them, and the share of
 * visible blocks selected (and the exact top-p oracle's share). Besides the
 * means over heads, the lowest mass any head keeps says whether some head
 * loses what it attends to: one such head can lose a needle. For a task with
 * one needle, the needle's tokens are followed on their own: of the exact
 * mass all heads put on them at the question, the share inside the selected
 * blocks ("needle kept", weighted by that mass, so the heads that read the
 * needle count), and the lowest such share of a head that puts at least
 * 0.1 of its mass there. The needle's tokens are found from its byte offset
 * in the prompt (the tokens of the text before it, to the end of the
 * answer's last copy in it), so a span may be off by a token at either end.
 *
 * With --pass plan the prompt pass runs under the first plan's rtpurbo policy
 * instead of dense: the queries and keys are then the ones a sparse prefill
 * computes, and the teacher is what each head would attend to exactly from
 * them. Against the dense pass this says whether a plan that keeps the
 * needle at the question from dense activations still does once its own
 * prefill made them (and whether the heads still read the needle at all).
 *
 * Output: one line per (case, plan), then per plan the means over the cases.
 * Bad input (suite, task, plan, model) is one line and exit 2.
 */
#include <math.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "convert/convert_run.h"
#include "policy/planfile.h"
#include "policy/policy.h"
#include "run/forward.h"
#include "suites/gen.h"
#include "suites/suite.h"

enum { MAX_PLANS = 16 };

typedef struct {
    int n_layer, n_head_kv, n_head, d, n, q0;
    float **k;      /* [n_layer] (n, n_head_kv, d) pre-RoPE keys */
    float **q;      /* [n_layer] (n - q0, n_head, d) pre-RoPE queries of positions q0 .. n-1 */
} grab;

static void grab_qk(void *user, int layer, int pos0, int n, const float *q, const float *k)
{
    grab *g = user;
    const size_t kr = (size_t)g->n_head_kv * g->d, qr = (size_t)g->n_head * g->d;
    memcpy(g->k[layer] + (size_t)pos0 * kr, k, (size_t)n * kr * sizeof(float));
    for (int t = 0; t < n; t++)
        if (pos0 + t >= g->q0) memcpy(g->q[layer] + (size_t)(pos0 + t - g->q0) * qr, q + t * qr, qr * sizeof(float));
}

typedef struct {
    double recall, mass, sel, teacher, worst; /* sums over cases of the per-case means (worst: lowest head mass) */
    double needle, needle_kept, needle_worst; /* sums over cases: mass on the needle, kept part, lowest reader's share */
    int cases, readers;
} tally;

/* The needle's token span [lo, hi) in the case's ids, or 0 when the case
 * has not exactly one needle. */
static int needle_span(const tokenizer *tok, const suite_case *sc, int *lo, int *hi)
{
    if (sc->n_needles != 1) return 0;
    /* to the end of the answer's last copy in the needle's first 200 bytes (the passkey's needle
     * states the key twice), else 120 bytes or the line's end */
    size_t off = sc->needles[0], end = off, lim = off + 200 < sc->prompt_len ? off + 200 : sc->prompt_len;
    size_t al = sc->n_answers ? strlen(sc->answers[0]) : 0;
    for (size_t a = off; al && a + al <= lim; a++)
        if (!memcmp(sc->prompt + a, sc->answers[0], al)) end = a + al;
    if (end == off)
        while (end < sc->prompt_len && end < off + 120 && sc->prompt[end] != '\n') end++;
    int *ids = NULL;
    int a = tok_encode(tok, sc->prompt, off, 1, &ids);
    free(ids);
    ids = NULL;
    int b = tok_encode(tok, sc->prompt, end, 1, &ids);
    free(ids);
    *lo = a > 0 ? a - 1 : 0; /* the token across the boundary may hold the needle's first bytes */
    *hi = b + 1 < sc->n_ids ? b + 1 : sc->n_ids;
    return *hi > *lo;
}

int cmd_recall(int argc, char **argv)
{
    const char *C = "recall", *suite_path = NULL, *task_name = NULL, *model_path = NULL, *plans[MAX_PLANS];
    int n_plans = 0, max_cases = 1 << 30, n_q = 16, pass_plan = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (arg_flag(argv, i, "--help")) {
            printf("usage: purbo-bench recall SUITE.yaml --task T --plan P.purbo [--plan P2 ...] [options]\n"
                   "  What each plan's indexers keep of the exact attention at the last Q prompt\n"
                   "  positions of the task's cases (the question), on the CPU, nothing generated:\n"
                   "  per retrieval head, recall of the exact top-p tokens inside the blocks the\n"
                   "  rtpurbo policy would select, the exact mass inside them, the share of blocks\n"
                   "  selected; per case the means over heads and the lowest head's mass.\n"
                   "  --task T      a task name of the suite\n"
                   "  --plan P      a plan file for the suite's model (up to %d)\n"
                   "  --cases N     the task's first N cases (default all)\n"
                   "  --queries Q   last prompt positions measured (default 16)\n"
                   "  --model M     the model instead of the suite's\n"
                   "  --pass P      dense (default) or plan: the prompt pass runs under the\n"
                   "                first --plan's rtpurbo policy (a sparse prefill's q and k)\n",
                   MAX_PLANS);
            return 0;
        } else if ((v = arg_val(C, argc, argv, &i, "--task"))) task_name = v;
        else if ((v = arg_val(C, argc, argv, &i, "--plan"))) {
            if (n_plans == MAX_PLANS) arg_bad(C, "more than %d --plan", MAX_PLANS);
            plans[n_plans++] = v;
        } else if ((v = arg_val(C, argc, argv, &i, "--cases"))) max_cases = (int)arg_long(C, "--cases", v, 1, 1 << 30);
        else if ((v = arg_val(C, argc, argv, &i, "--queries"))) n_q = (int)arg_long(C, "--queries", v, 1, 4096);
        else if ((v = arg_val(C, argc, argv, &i, "--model"))) model_path = v;
        else if ((v = arg_val(C, argc, argv, &i, "--pass"))) {
            if (strcmp(v, "dense") && strcmp(v, "plan")) arg_bad(C, "--pass '%s': dense or plan", v);
            pass_plan = !strcmp(v, "plan");
        }
        else if (argv[i][0] != '-' && !suite_path) suite_path = argv[i];
        else arg_bad(C, "unknown option %s", argv[i]);
    }
    if (!suite_path) arg_bad(C, "a suite file is required");
    if (!task_name) arg_bad(C, "--task is required");
    if (!n_plans) arg_bad(C, "--plan is required");
    pb_err err;
    suite *s = suite_load(suite_path, &err);
    if (!s) pb_die_input(&err);
    int ti = -1;
    for (int t = 0; t < s->n_tasks; t++)
        if (!strcmp(s->tasks[t].name, task_name)) ti = t;
    if (ti < 0) arg_bad(C, "%s: no task '%s'", suite_path, task_name);
    tokenizer *tok;
    model *m = cli_load_model(model_path ? model_path : s->model, &tok);
    const model_config *c = &m->cfg;
    if (!gen_check(s, tok, &err)) pb_die_input(&err);
    const int L = c->n_layer, H = c->n_head, HKV = c->n_head_kv, d = c->head_dim, nh = L * H;
    plan_file pf[MAX_PLANS];
    plan_params prm[MAX_PLANS]; /* the rtpurbo policy's settings from each file, as plan_from_file takes them */
    for (int p = 0; p < n_plans; p++) {
        if (!plan_file_read(plans[p], m, &pf[p], &err)) pb_die_input(&err);
        prm[p] = plan_defaults;
        prm[p].sink = pf[p].sink, prm[p].block = pf[p].block, prm[p].local = pf[p].local, prm[p].p = pf[p].p;
    }
    plan pass; /* --pass plan: the first plan as `run` runs it (rtpurbo) */
    if (pass_plan && !plan_from_file(&pass, c, &pf[0], NULL, plans[0], &err)) pb_die_input(&err);

    tally tl[MAX_PLANS];
    memset(tl, 0, sizeof tl);
    const int n_cases = gen_n_cases(&s->tasks[ti]) < max_cases ? gen_n_cases(&s->tasks[ti]) : max_cases;
    printf("recall: %s task %s, %d cases, last %d prompt positions, %d plans, on the CPU; prompt pass %s%s\n",
           suite_path, task_name, n_cases, n_q, n_plans, pass_plan ? "under " : "dense",
           pass_plan ? plans[0] : "");
    for (int ci = 0; ci < n_cases; ci++) {
        suite_case sc;
        if (!gen_case(s, ti, ci, tok, &sc, &err)) pb_die_input(&err);
        const int n = sc.n_ids, q0 = n > n_q ? n - n_q : 0, nq = n - q0;
        grab g = {.n_layer = L, .n_head_kv = HKV, .n_head = H, .d = d, .n = n, .q0 = q0};
        g.k = pb_calloc((size_t)L, sizeof *g.k);
        g.q = pb_calloc((size_t)L, sizeof *g.q);
        for (int l = 0; l < L; l++) {
            g.k[l] = pb_malloc((size_t)n * HKV * d * sizeof(float));
            g.q[l] = pb_malloc((size_t)nq * H * d * sizeof(float));
        }
        session *ss = session_new(m, n);
        if (pass_plan) plan_apply(&pass, ss, 0, n);
        attn_observer obs = {.user = &g, .on_qk = grab_qk};
        ss->obs = &obs;
        double t0 = pb_now();
        session_eval(ss, sc.ids, n, NULL, 0);
        session_free(ss);
        double t_pass = pb_now() - t0;
        /* the teacher of each head any plan indexes, then every plan on it */
        double acc[MAX_PLANS][4] = {{0}}, worst[MAX_PLANS], nd[MAX_PLANS] = {0}, ndk[MAX_PLANS] = {0},
               ndw[MAX_PLANS];
        int heads[MAX_PLANS] = {0}, readers[MAX_PLANS] = {0}, f_lo = 0, f_hi = 0;
        const int has_needle = needle_span(tok, &sc, &f_lo, &f_hi);
        for (int p = 0; p < n_plans; p++) worst[p] = ndw[p] = 1.0;
        for (int x = 0; x < nh; x++) {
            int any = 0;
            for (int p = 0; p < n_plans; p++) any |= pf[p].cls[x] == PLAN_CLASS_RETRIEVAL;
            if (!any) continue;
            const int l = x / H, h = x % H, kv = h / (H / HKV);
            kd_set ks;
            kd_set_init(&ks, d, 1, n, nq);
            for (int j = 0; j < n; j++)
                memcpy(ks.k + (size_t)j * d, g.k[l] + ((size_t)j * HKV + kv) * d, (size_t)d * sizeof(float));
            for (int i = 0; i < nq; i++) {
                ks.q_win[i] = 0;
                ks.q_pos[i] = q0 + i;
                memcpy(ks.q + (size_t)i * d, g.q[l] + ((size_t)i * H + h) * d, (size_t)d * sizeof(float));
            }
            kd_set_teacher(&ks, model_layer_rope_base(c, l), c->rope_style);
            if (has_needle) ks.f_lo = f_lo, ks.f_hi = f_hi;
            for (int p = 0; p < n_plans; p++) {
                if (pf[p].cls[x] != PLAN_CLASS_RETRIEVAL) continue;
                if (ks.a_block != prm[p].block || ks.a_sink != prm[p].sink || ks.a_local != prm[p].local)
                    kd_set_anchor(&ks, prm[p].block, prm[p].sink, prm[p].local); /* plans mostly share one */
                const size_t off = (size_t)x * pf[p].r * d;
                kd_quality q;
                /* the plan folds 1/tau into W_Q against the policy's 1/sqrt(d): tau = sqrt(d) here */
                kd_evaluate(&ks, pf[p].r, pf[p].idx_q + off, pf[p].idx_k + off, logf(sqrtf((float)d)), &prm[p], &q);
                acc[p][0] += q.recall, acc[p][1] += q.mass, acc[p][2] += q.blocks_sel, acc[p][3] += q.blocks_teacher;
                if (q.mass < worst[p]) worst[p] = q.mass;
                heads[p]++;
                nd[p] += q.focus;
                ndk[p] += q.focus_kept;
                if (q.focus >= 0.1) {
                    readers[p]++;
                    if (q.focus_kept / q.focus < ndw[p]) ndw[p] = q.focus_kept / q.focus;
                }
            }
            kd_set_free(&ks);
        }
        for (int p = 0; p < n_plans; p++) {
            int k = heads[p] ? heads[p] : 1;
            printf("case %d (%d tokens, pass %.1f s) %s: %d heads, recall %.3f, mass %.3f (lowest head %.3f), "
                   "blocks %.3f (oracle %.3f)",
                   ci, n, t_pass, plans[p], heads[p], acc[p][0] / k, acc[p][1] / k, worst[p], acc[p][2] / k,
                   acc[p][3] / k);
            if (has_needle)
                printf("; needle tokens %d-%d: kept %.3f of its mass, %d heads read it (lowest %.3f)", f_lo, f_hi,
                       nd[p] > 0 ? ndk[p] / nd[p] : 1.0, readers[p], readers[p] ? ndw[p] : 1.0);
            printf("\n");
            tl[p].recall += acc[p][0] / k, tl[p].mass += acc[p][1] / k, tl[p].sel += acc[p][2] / k;
            tl[p].teacher += acc[p][3] / k, tl[p].worst += worst[p], tl[p].cases++;
            if (has_needle && nd[p] > 0) {
                tl[p].needle += nd[p], tl[p].needle_kept += ndk[p], tl[p].readers++;
                tl[p].needle_worst += readers[p] ? ndw[p] : 1.0;
            }
        }
        fflush(stdout);
        for (int l = 0; l < L; l++) free(g.k[l]), free(g.q[l]);
        free(g.k);
        free(g.q);
        gen_case_free(&sc);
    }
    printf("\nmeans over %d cases: recall, mass, lowest head mass, blocks, oracle blocks; needle kept (its"
           " mass-weighted share over all cases), lowest reader's share (mean over cases)\n", n_cases);
    for (int p = 0; p < n_plans; p++) {
        double k = tl[p].cases ? tl[p].cases : 1, kr = tl[p].readers ? tl[p].readers : 1;
        printf("%-40s %.3f  %.3f  %.3f  %.3f  %.3f", plans[p], tl[p].recall / k, tl[p].mass / k, tl[p].worst / k,
               tl[p].sel / k, tl[p].teacher / k);
        if (tl[p].readers)
            printf("  needle %.3f  lowest reader %.3f", tl[p].needle_kept / tl[p].needle, tl[p].needle_worst / kr);
        printf("\n");
        plan_file_free(&pf[p]);
    }
    if (pass_plan) plan_free(&pass);
    suite_free(s);
    model_free(m);
    tok_free(tok);
    return 0;
}
