/* convert_eval.c — how good an indexer is, on a held-out distillation set,
 * measured the way the rtpurbo policy will use it.
 *
 * For every query of the set (position i, teacher row t over keys 0..i,
 * student row s from the indexer), with blocks of g = prm->block tokens:
 *   selected  = the blocks the policy keeps: the forced ones (keep_forced:
 *               sink and the last prm->local tokens) plus the top-p blocks of
 *               the student's pooled mass, at least prm->kmin of them
 *               (select_rtpurbo, the policy's own rule)
 *   teacher   = the same with the teacher's pooled mass: what the exact
 *               top-p oracle (topp-oracle) keeps
 *   exact set = the smallest set of tokens, by decreasing t, whose mass
 *               reaches prm->p (topp_counts; tokens tied with the last one
 *               count in)
 * and, averaged over queries:
 *   recall         = |exact set inside the selected blocks| / |exact set|
 *   mass           = teacher mass inside the selected blocks
 *   blocks_sel     = selected blocks / visible blocks (ceil((i+1)/g))
 *   blocks_teacher = teacher blocks / visible blocks
 *   kl             = KL(t || s), the training loss
 *   focus          = teacher mass on the set's focus span [f_lo, f_hi)
 *   focus_kept     = the part of it inside the selected blocks
 * The selection helpers are the policies' own (attn_sparse.h), so these
 * numbers are what the policy would do on these queries.
 */
#include "convert/convert_run.h"

#include <string.h>

#include "policy/attn_sparse.h"
#include "probes/probe_impl.h"

void kd_evaluate(const kd_set *s, int r, const float *wq, const float *wk, float log_tau, const plan_params *prm,
                 kd_quality *out)
{
    const int n = s->n_q, g = prm->block, nc = s->n_ctx, nb = (nc + g - 1) / g;
    int *idx = pb_malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) idx[i] = i;
    kd_work *w = kd_work_new(s, r);
    memset(out, 0, sizeof *out);
    out->kl = kd_loss(s, idx, n, r, wq, wk, log_tau, NULL, NULL, NULL, w);
    enum { CH = 32 };
    float *stu = pb_malloc((size_t)CH * nc * sizeof(float)), *work = pb_malloc((size_t)nc * sizeof(float));
    float *mass = pb_malloc((size_t)nb * sizeof(float));
    unsigned char *keep_s = pb_malloc((size_t)nb), *keep_t = pb_malloc((size_t)nb);
    unit_score *order = pb_malloc((size_t)nb * sizeof(unit_score));
    double a_rec = 0, a_mass = 0, a_sel = 0, a_tea = 0, a_foc = 0, a_fk = 0;
    for (int i0 = 0; i0 < n; i0 += CH) {
        int b = n - i0 < CH ? n - i0 : CH;
        kd_student(s, idx + i0, b, r, wq, wk, log_tau, stu, (size_t)nc, w);
        for (int i = 0; i < b; i++) {
            int q = i0 + i, pos = s->q_pos[q], len = pos + 1, nu = pos / g + 1;
            const float *t = s->t + s->t_off[q], *st = stu + (size_t)i * nc;
            for (int u = 0; u < nu; u++) { /* student selection */
                float m = 0;
                for (int j = u * g; j < len && j < (u + 1) * g; j++) m += st[j];
                mass[u] = m;
            }
            keep_forced(keep_s, g, pos, prm);
            select_rtpurbo(mass, nu, prm, keep_s, order);
            for (int u = 0; u < nu; u++) { /* teacher selection */
                float m = 0;
                for (int j = u * g; j < len && j < (u + 1) * g; j++) m += t[j];
                mass[u] = m;
            }
            keep_forced(keep_t, g, pos, prm);
            select_topp(mass, nu, prm->p, keep_t, order);
            int n_sel = 0, n_tea = 0;
            double kept = 0;
            for (int u = 0; u < nu; u++) {
                n_sel += keep_s[u];
                n_tea += keep_t[u];
                if (keep_s[u]) kept += mass[u];
            }
            /* the exact top-p token set: the k largest t, ties with the k-th included */
            int k;
            topp_counts(t, len, &prm->p, 1, &k, work);
            memcpy(work, t, (size_t)len * sizeof(float));
            float thr = kth_largest(work, len, k);
            int in_set = 0, covered = 0;
            for (int j = 0; j < len; j++)
                if (t[j] >= thr) {
                    in_set++;
                    covered += keep_s[j / g];
                }
            for (int j = s->f_lo; j < s->f_hi && j < len; j++) {
                a_foc += t[j];
                if (keep_s[j / g]) a_fk += t[j];
            }
            a_rec += (double)covered / in_set;
            a_mass += kept;
            a_sel += (double)n_sel / nu;
            a_tea += (double)n_tea / nu;
        }
    }
    out->n_queries = n;
    out->recall = a_rec / n;
    out->mass = a_mass / n;
    out->blocks_sel = a_sel / n;
    out->blocks_teacher = a_tea / n;
    out->focus = a_foc / n;
    out->focus_kept = a_fk / n;
    kd_work_free(w);
    free(idx);
    free(stu);
    free(work);
    free(mass);
    free(keep_s);
    free(keep_t);
    free(order);
}
