/* test_suite_score.c — the scorers against RULER's rules
 * (scripts/eval/synthetic/constants.py, evaluate.py's postprocess_pred) and
 * the passkey's exact match. */
#include "suites/score.h"
#include "tests/test.h"

TEST(suite_score_match_all)
{
    const char *refs[] = {"4567890", "Dolores Park"};
    /* case-insensitive substrings, fraction of references found */
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "the number is 4567890, and dolores park.", refs, 2), 1.0, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "It is 4567890.", refs, 2), 0.5, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "DOLORES PARK", refs, 2), 0.5, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "456789", refs, 2), 0.0, 0);
    /* a substring match, not a word match: RULER counts 45678901 */
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "45678901", refs, 1), 1.0, 0);
    const char *four[] = {"a1", "b2", "c3", "d4"};
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "A1 C3 d4", four, 4), 0.75, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "", four, 4), 0.0, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "anything", four, 0), 0.0, 0);
}

TEST(suite_score_match_part)
{
    const char *refs[] = {"Paris", "the capital of France"};
    CHECK_NEAR(score_case(METRIC_MATCH_PART, "paris", refs, 2), 1.0, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_PART, "It is THE CAPITAL OF FRANCE and Paris", refs, 2), 1.0, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_PART, "Lyon", refs, 2), 0.0, 0);
}

TEST(suite_score_postprocess)
{
    /* postprocess_pred: control bytes become '\n', then strip */
    const char *nl[] = {"one\ntwo"};
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "\t one\ttwo \r\n", nl, 1), 1.0, 0);
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, "one two", nl, 1), 0.0, 0);
    const char *sp[] = {" x"};
    CHECK_NEAR(score_case(METRIC_MATCH_ALL, " x", sp, 1), 0.0, 0); /* the prediction is stripped first */
}

TEST(suite_score_exact)
{
    const char *key[] = {"12345"};
    CHECK_NEAR(score_case(METRIC_EXACT, "The pass key is 12345.", key, 1), 1.0, 0);
    CHECK_NEAR(score_case(METRIC_EXACT, "12345", key, 1), 1.0, 0);
    CHECK_NEAR(score_case(METRIC_EXACT, "123456", key, 1), 0.0, 0);
    CHECK_NEAR(score_case(METRIC_EXACT, "key12345", key, 1), 0.0, 0);
    CHECK_NEAR(score_case(METRIC_EXACT, "812345 then 12345!", key, 1), 1.0, 0); /* the second occurrence */
    const char *word[] = {"Blue"};
    CHECK_NEAR(score_case(METRIC_EXACT, "blue", word, 1), 0.0, 0); /* case-sensitive */
    CHECK(score_whole_word("(Blue)", "Blue") && !score_whole_word("Bluer", "Blue") && !score_whole_word("x", ""));
}

TEST(suite_score_aggregate)
{
    /* RULER: mean over cases x 100, rounded to 2 decimals */
    double s[] = {1.0, 0.5, 0.0};
    CHECK_NEAR(score_aggregate(s, 3), 50.0, 1e-12);
    double t[] = {1.0, 0.0, 0.0};
    CHECK_NEAR(score_aggregate(t, 3), 33.33, 1e-9);
    double u[] = {0.75, 1.0, 1.0};
    CHECK_NEAR(score_aggregate(u, 3), 91.67, 1e-9);
    CHECK_NEAR(score_aggregate(s, 0), 0.0, 0);
}
