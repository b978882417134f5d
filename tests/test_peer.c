/* test_peer.c — the peers' coprocess protocol (suites/peer.h) against fake
 * peers written in sh: a ready line, answers parsed into seconds, a refused
 * case that leaves the peer serving, a malformed answer, a peer that says
 * why it cannot start, and one that dies. No torch needed. */
#include <stdlib.h>
#include <unistd.h>

#include "suites/peer.h"
#include "tests/test.h"

/* Writes an sh script and points PURBO_PYTHON / PURBO_PEER at it. */
static void fake_peer(const char *body)
{
    static char path[128];
    snprintf(path, sizeof path, "/tmp/purbo-test-peer-%d.sh", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(body, f);
    fclose(f);
    setenv("PURBO_PYTHON", "sh", 1);
    setenv("PURBO_PEER", path, 1);
}

static const char *SERVING =
    "echo 'ready card=FAKE torch=0 device=fake_card'\n"
    "while read cmd impl phase h kvh d n w r; do\n"
    "  [ \"$cmd\" = quit ] && exit 0\n"
    "  case $impl in\n"
    "    sdpa_fa2) echo 'err fa2 refuses this shape' ;;\n"
    "    flex) echo 'ok gqa=native 1.0' ;;\n" /* one time where more were asked */
    "    *) out=\"ok gqa=repeat\"; i=0\n"
    "       while [ $i -lt $r ]; do out=\"$out $((n / 1000 + h + kvh + d + w)).25\"; i=$((i + 1)); done\n"
    "       [ $phase = decode ] && out=\"$out \"\n"
    "       echo \"$out\" ;;\n"
    "  esac\n"
    "done\n";

TEST(peer_protocol)
{
    fake_peer(SERVING);
    char info[256], why[256], gqa[16];
    peer *p = peer_open(info, sizeof info, why, sizeof why);
    CHECK_MSG(p, "%s", why);
    CHECK(!strcmp(info, "card=FAKE torch=0 device=fake_card"));
    attn_time_case c = {.phase = ATTN_TIME_PREFILL, .n_ctx = 4096, .n_head = 32, .n_kv_head = 8, .d = 128};
    double t[3] = {0};
    CHECK_MSG(peer_time(p, "sdpa_cudnn", &c, 1, 3, t, gqa, sizeof gqa, why, sizeof why), "%s", why);
    /* the fake answers 4 + 32 + 8 + 128 + 1 = 173.25 us: the request's fields arrived in order */
    for (int i = 0; i < 3; i++) CHECK_NEAR(t[i], 173.25e-6, 1e-12);
    CHECK(!strcmp(gqa, "repeat"));
    CHECK(!peer_time(p, "sdpa_fa2", &c, 1, 3, t, gqa, sizeof gqa, why, sizeof why));
    CHECK_MSG(!strcmp(why, "fa2 refuses this shape"), "%s", why);
    CHECK(!peer_time(p, "flex", &c, 1, 3, t, gqa, sizeof gqa, why, sizeof why));
    CHECK_MSG(strstr(why, "the peer answered \"ok gqa=native 1.0\""), "%s", why);
    c.phase = ATTN_TIME_DECODE; /* trailing space tolerated; still serving after two failures */
    c.n_ctx = 1 << 20;
    CHECK_MSG(peer_time(p, "sdpa_cudnn", &c, 0, 2, t, gqa, sizeof gqa, why, sizeof why), "%s", why);
    CHECK_NEAR(t[1], (1048 + 32 + 8 + 128 + 0 + 0.25) * 1e-6, 1e-12);
    peer_close(p);
}

TEST(peer_that_cannot_start_or_dies)
{
    char info[256], why[256], gqa[16];
    fake_peer("echo 'error no module named torch'; exit 3\n");
    CHECK(!peer_open(info, sizeof info, why, sizeof why));
    CHECK_MSG(strstr(why, "--serve: no module named torch"), "%s", why);
    fake_peer("exit 1\n");
    CHECK(!peer_open(info, sizeof info, why, sizeof why));
    CHECK_MSG(strstr(why, "exited before it was ready"), "%s", why);
    fake_peer("echo 'ready card=X'; read line; exit 0\n");
    peer *p = peer_open(info, sizeof info, why, sizeof why);
    CHECK_MSG(p, "%s", why);
    attn_time_case c = {.phase = ATTN_TIME_DECODE, .n_ctx = 4096, .n_head = 9, .n_kv_head = 3, .d = 64};
    double t[2];
    CHECK(!peer_time(p, "sdpa_cudnn", &c, 1, 2, t, gqa, sizeof gqa, why, sizeof why));
    CHECK_MSG(strstr(why, "exited while timing sdpa_cudnn"), "%s", why);
    CHECK(!peer_time(p, "sdpa_cudnn", &c, 1, 2, t, gqa, sizeof gqa, why, sizeof why));
    CHECK_MSG(strstr(why, "has exited"), "%s", why);
    peer_close(p);
    setenv("PURBO_PEER", "/nonexistent/peer.py", 1);
    CHECK(!peer_open(info, sizeof info, why, sizeof why));
    CHECK_MSG(strstr(why, "/nonexistent/peer.py: No such file"), "%s", why);
    unsetenv("PURBO_PYTHON");
    unsetenv("PURBO_PEER");
}

/* From another folder the repository's peer script is found beside the
 * binary (../suites/peers/ of build/); here `echo` stands in for python:
 * its one line is not the peer's greeting, and the error names the script. */
TEST(peer_script_found_from_another_folder)
{
    char cwd[4096], info[256], why[512];
    CHECK(getcwd(cwd, sizeof cwd));
    CHECK(chdir("/tmp") == 0);
    setenv("PURBO_PYTHON", "echo", 1);
    unsetenv("PURBO_PEER");
    peer *p = peer_open(info, sizeof info, why, sizeof why);
    int ok = chdir(cwd) == 0;
    unsetenv("PURBO_PYTHON");
    CHECK(ok && !p);
    CHECK_MSG(strstr(why, "/../suites/peers/sdpa_peer.py --serve") && !strstr(why, "No such file"), "%s", why);
}
