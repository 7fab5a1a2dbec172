/* test_plugin.c - the plugin host and the session recorder: ABI refusals with clear messages, the
 * real sync and jsonl plugins receiving the same records, sessions built from bus messages and
 * checked field by field in a real SQLite store, checkpoints and crash recovery. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "etude_plugins.h"
#include "cli_args.h"
#include "etude_recorder.h"
#include "etude_bus.h"
#include "etude_store.h"


static void count_line(void *user, const char *line)
{
    (void)line;
    ++*(int *)user;
}

/* The recorder, or a test failure naming why it would not open. */
static etude_recorder_t *open_recorder(etude_bus_t *bus, const char *command, const etude_recorder_opts_t *so)
{
    etude_recorder_t *rec = NULL;
    char err[1024] = "";
    if (etude_recorder_open(bus, command, so, &rec, err, sizeof err) < 0)
        fail_msg("etude_recorder_open: %s", err);
    return rec;
}

static char home[64];

static int setup(void **state)
{
    (void)state;
    strcpy(home, "/tmp/etude-test-plugin-XXXXXX");
    assert_non_null(mkdtemp(home));
    setenv("ETUDE_HOME", home, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    if (getdelim(&text, &cap, 0, f) < 0) {
        free(text);
        text = strdup("");
    }
    fclose(f);
    return text;
}

static void expect_refusal(const char *file, const char *needle)
{
    char path[512], err[1024], id[64];
    snprintf(path, sizeof path, "%s/%s", ETUDE_TEST_BAD_DIR, file);
    assert_int_equal(etude_plugins_check_file(path, id, sizeof id, err, sizeof err), -1);
    if (!strstr(err, needle) || !strstr(err, path))
        fail_msg("refusal '%s' lacks '%s' or the path", err, needle);
    /* named on --plugin-path, the same refusal stops the load */
    etude_plugins_t *p = (etude_plugins_t *)1;
    assert_int_equal(etude_plugins_load(path, NULL, NULL, &p, err, sizeof err), -1);
    assert_null(p);
    if (!strstr(err, needle))
        fail_msg("load refusal '%s' lacks '%s'", err, needle);
}

static void test_abi_refusals(void **state)
{
    (void)state;
    expect_refusal("bad_version.so", "plugin ABI version 99, but this etude speaks version 1");
    expect_refusal("bad_size.so", "entry struct is 8 bytes, smaller than");
    expect_refusal("bad_no_symbol.so", "no 'etude_plugin_entry' symbol: not an etude plugin");
    expect_refusal("bad_null_cb.so", "lacks a callback");
    char junk[128], err[1024];
    snprintf(junk, sizeof junk, "%s/junk.so", home);
    write_file(junk, "not an ELF file\n");
    assert_int_equal(etude_plugins_check_file(junk, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot load"));
    /* the real ones pass */
    char good[512], id[64];
    snprintf(good, sizeof good, "%s/etude-sync.so", ETUDE_TEST_PLUGIN_DIR);
    assert_int_equal(etude_plugins_check_file(good, id, sizeof id, err, sizeof err), 0);
    assert_string_equal(id, "etude.sync/1");
    snprintf(good, sizeof good, "%s/etude-jsonl.so", ETUDE_TEST_PLUGIN_DIR);
    assert_int_equal(etude_plugins_check_file(good, id, sizeof id, err, sizeof err), 0);
    assert_string_equal(id, "etude.jsonl/1");
    /* a directory of broken plugins is only warned about; the default still loads etude.sync/1 */
    etude_plugins_t *p;
    int warnings = 0;
    etude_app_log_t log = {count_line, &warnings};
    assert_int_equal(etude_plugins_load(ETUDE_TEST_BAD_DIR, NULL, &log, &p, err, sizeof err), 0);
    assert_int_equal(warnings, 4); /* one line per broken plugin, through the sink, not stderr */
    assert_int_equal(etude_plugins_count(p), 1);
    assert_string_equal(etude_plugins_id(p, 0), "etude.sync/1");
    etude_plugins_unload(p);
    /* a missing path entry and a malformed config are named */
    assert_int_equal(etude_plugins_load("/nonexistent/dir", NULL, NULL, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "--plugin-path"));
    assert_non_null(strstr(err, "/nonexistent/dir"));
    char cfg[128];
    snprintf(cfg, sizeof cfg, "%s/config.json", home);
    write_file(cfg, "{\"plugins\": {\"enable\": \"etude.sync/1\"}}");
    assert_int_equal(etude_plugins_load(NULL, NULL, NULL, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "config.json: field plugins.enable"));
    write_file(cfg, "{\"plugins\": ");
    assert_int_equal(etude_plugins_load(NULL, NULL, NULL, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "config.json: not a JSON object"));
}

static void enable_both(void)
{
    char cfg[128], text[512];
    snprintf(cfg, sizeof cfg, "%s/config.json", home);
    snprintf(text, sizeof text,
             "{\"plugins\": {\"path\": [\"%s\"], \"enable\": [\"etude.sync/1\", \"etude.jsonl/1\"],"
             " \"config\": {\"etude.jsonl/1\": {\"path\": \"%s/out.jsonl\"}}}}",
             ETUDE_TEST_PLUGIN_DIR, home);
    write_file(cfg, text);
}

static etude_store_t *open_store(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/etude.db", home);
    etude_store_t *st;
    assert_int_equal(etude_store_open(path, &st), 0);
    return st;
}

static cJSON *session_data(etude_store_t *st, const char *id)
{
    etude_entity_t e;
    assert_int_equal(etude_store_get(st, id, &e), 0);
    assert_string_equal(e.entity_type, "practiceSession");
    cJSON *d = cJSON_Parse(e.data);
    etude_entity_clear(&e);
    assert_non_null(d);
    return d;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v))
        fail_msg("field '%s' is not a number", k);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v))
        fail_msg("field '%s' is not a string", k);
    return v->valuestring;
}

static void bar(etude_bus_t *bus, int n, double bpm, const char *section, uint64_t frame)
{
    char json[256];
    snprintf(json, sizeof json, "{\"bar\":%d,\"bpm\":%g,\"section\":\"%s\",\"frame\":%llu}", n, bpm, section,
             (unsigned long long)frame);
    etude_bus_publish(bus, "transport", "bar", json);
}

static int journal_files(void)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/journal", home);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* A whole session through the bus: every field of the stored session and its logs. */
static void test_session_fields(void **state)
{
    (void)state;
    enable_both();
    etude_bus_t *bus = etude_bus_create();
    etude_recorder_opts_t so = {0};
    etude_recorder_t *rec = open_recorder(bus, "render", &so);
    assert_non_null(rec);
    etude_bus_publish(bus, "xrun", "xrun", "{\"count\":4,\"delay_us\":10}"); /* before: not counted */
    etude_bus_publish(bus, "transport", "start",
                      "{\"command\":\"render\",\"preset\":\"p.json\",\"material\":\"Warm-up\",\"tempo_bpm\":100,"
                      "\"rate\":1000,\"voices\":[{\"name\":\"click\",\"kind\":\"click\",\"mute\":false},"
                      "{\"name\":\"bass\",\"kind\":\"fluid\",\"mute\":true}]}");
    assert_int_equal(journal_files(), 1); /* checkpointed from the start */
    bar(bus, 0, 100, "A", 0);
    bar(bus, 1, 100, "A", 2400);
    bar(bus, 2, 120, "A", 4800); /* tempo change: a new segment */
    etude_bus_publish(bus, "voice", "mute", "{\"voice\":\"bass\",\"kind\":\"fluid\",\"value\":false}");
    bar(bus, 3, 120, "B", 6800); /* section change: a new segment */
    etude_bus_publish(bus, "xrun", "xrun", "{\"count\":6,\"delay_us\":10}");
    etude_bus_publish(bus, "transport", "loop", "{\"count\":2}");
    etude_bus_publish(bus, "session", "timing",
                      "{\"notes\":31,\"mean_ms\":4.5,\"sd_ms\":2,\"within_10ms\":0.9,\"within_25ms\":1}");
    bar(bus, 4, 120, "B", 8800);
    etude_bus_publish(bus, "transport", "stop", "{\"frames\":10800,\"reason\":\"end\"}");
    const char *id = etude_recorder_id(rec);
    char sid[37];
    snprintf(sid, sizeof sid, "%s", id);
    etude_recorder_close(rec);
    assert_int_equal(journal_files(), 0); /* stored, so the journal is gone */
    etude_bus_destroy(bus);

    etude_store_t *st = open_store();
    assert_int_equal(etude_store_count(st, "practiceSession", 0), 1);
    cJSON *d = session_data(st, sid);
    assert_string_equal(str(d, "command"), "render");
    assert_string_equal(str(d, "preset"), "p.json");
    assert_string_equal(str(d, "material"), "Warm-up");
    assert_true(num(d, "activeSeconds") == 10.8);
    assert_true(num(d, "tempoMinBpm") == 100);
    assert_true(num(d, "tempoMaxBpm") == 120);
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(d, "tempoTime");
    assert_int_equal(cJSON_GetArraySize(tt), 2);
    assert_true(num(cJSON_GetArrayItem(tt, 0), "bpm") == 100);
    assert_true(num(cJSON_GetArrayItem(tt, 0), "seconds") == 4.8);
    assert_true(num(cJSON_GetArrayItem(tt, 1), "bpm") == 120);
    assert_true(num(cJSON_GetArrayItem(tt, 1), "seconds") == 6.0);
    const cJSON *voices = cJSON_GetObjectItemCaseSensitive(d, "voices");
    assert_int_equal(cJSON_GetArraySize(voices), 2);
    assert_string_equal(str(cJSON_GetArrayItem(voices, 1), "name"), "bass");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(voices, 1), "mute")));
    assert_true(num(d, "loops") == 2);
    assert_true(num(d, "xruns") == 2);
    assert_true(num(d, "bars") == 5);
    assert_true(num(d, "segments") == 3);
    assert_true(num(d, "notes") == 31);
    assert_true(num(cJSON_GetObjectItemCaseSensitive(d, "timing"), "mean_ms") == 4.5);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "interrupted")));
    assert_string_equal(str(d, "endReason"), "end");
    int64_t t0, t1;
    assert_int_equal(etude_time_parse(str(d, "startedAt"), &t0), 0);
    assert_int_equal(etude_time_parse(str(d, "endedAt"), &t1), 0);
    assert_true(t1 >= t0);
    cJSON_Delete(d);

    /* segments: practiceLog entities under the session */
    char *exp = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&exp, &len);
    assert_int_equal(etude_store_export(st, m, ETUDE_EXPORT_NDJSON), 0);
    fclose(m);
    int logs = 0;
    double want_bpm[3] = {100, 120, 120}, want_sec[3] = {4.8, 2.0, 4.0}, want_start[3] = {0, 4.8, 6.8};
    int want_bar[3] = {0, 2, 3}, want_end[3] = {2, 3, 5};
    const char *want_sec_name[3] = {"A", "A", "B"};
    for (char *line = strtok(exp, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "entityType");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "practiceLog")) {
            const cJSON *ld = cJSON_GetObjectItemCaseSensitive(o, "data");
            int i = (int)num(ld, "index");
            assert_in_range(i, 0, 2);
            assert_string_equal(str(ld, "sessionId"), sid);
            assert_true(num(ld, "bpm") == want_bpm[i]);
            assert_true(num(ld, "seconds") == want_sec[i]);
            assert_true(num(ld, "startSeconds") == want_start[i]);
            assert_true(num(ld, "startBar") == want_bar[i]);
            assert_true(num(ld, "endBar") == want_end[i]);
            assert_string_equal(str(ld, "section"), want_sec_name[i]);
            logs++;
        }
        cJSON_Delete(o);
    }
    assert_int_equal(logs, 3);
    free(exp);
    etude_store_close(st);

    /* the jsonl plugin received the same record */
    char path[128];
    snprintf(path, sizeof path, "%s/out.jsonl", home);
    char *jl = read_file(path);
    assert_non_null(jl);
    cJSON *r = cJSON_Parse(jl);
    assert_non_null(r);
    assert_string_equal(str(r, "id"), sid);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "logs")), 3);
    assert_true(num(cJSON_GetObjectItemCaseSensitive(r, "data"), "activeSeconds") == 10.8);
    assert_string_equal(strchr(jl, '\n'), "\n"); /* exactly one line */
    cJSON_Delete(r);
    free(jl);
}

/* Checkpoints every 10 s of playing time hold the session so far. */
static void test_checkpoint(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    etude_recorder_opts_t so = {0};
    etude_recorder_t *rec = open_recorder(bus, "play", &so);
    assert_non_null(rec);
    etude_bus_publish(bus, "transport", "start",
                      "{\"command\":\"play\",\"preset\":null,\"material\":\"m\",\"tempo_bpm\":60,\"rate\":1000,"
                      "\"voices\":[]}");
    for (int b = 0; b <= 25; b++)
        bar(bus, b, 60, "", (uint64_t)b * 1000);
    char path[200];
    snprintf(path, sizeof path, "%s/journal/%s.json", home, etude_recorder_id(rec));
    char *j = read_file(path);
    assert_non_null(j);
    cJSON *o = cJSON_Parse(j);
    free(j);
    assert_string_equal(str(o, "state"), "playing");
    assert_true(num(o, "pid") == getpid());
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "record"), "data");
    assert_true(num(d, "activeSeconds") == 20.0); /* the checkpoint at 20 s; 25 s is not yet 10 s later */
    cJSON_Delete(o);
    etude_recorder_close(rec); /* exit ends and stores it */
    etude_bus_destroy(bus);
    etude_store_t *st = open_store();
    assert_int_equal(etude_store_count(st, "practiceSession", 0), 1);
    etude_store_close(st);
    assert_int_equal(journal_files(), 0);
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void write_journal(const char *id, pid_t pid, const char *state, const char *extra)
{
    char path[200], text[1024];
    snprintf(path, sizeof path, "%s/journal", home);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/journal/%s.json", home, id);
    snprintf(text, sizeof text,
             "{\"pid\":%d,\"state\":\"%s\",\"record\":{\"id\":\"%s\",\"data\":{\"startedAt\":"
             "\"2026-01-01T10:00:00.000Z\",\"endedAt\":\"2026-01-01T10:00:20.000Z\",\"activeSeconds\":20,"
             "\"interrupted\":true,\"endReason\":\"interrupted\"%s},\"logs\":[]}}\n",
             (int)pid, state, id, extra);
    write_file(path, text);
}

static void test_recovery(void **state)
{
    (void)state;
    pid_t dead = dead_pid();
    const char *a = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", *b = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
               *c = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
    write_journal(a, dead, "playing", "");
    write_journal(b, getppid(), "playing", ""); /* a live process: not ours to recover */
    /* c was completed and stored, but the journal was not removed before the crash */
    etude_store_t *st = open_store();
    char rec[512];
    snprintf(rec, sizeof rec, "{\"id\":\"%s\",\"data\":{\"interrupted\":false,\"endReason\":\"end\"},\"logs\":[]}", c);
    assert_int_equal(etude_store_put_session(st, rec, NULL), 0);
    etude_store_close(st);
    write_journal(c, dead, "playing", "");
    char bad[200];
    snprintf(bad, sizeof bad, "%s/journal/dddddddd-dddd-4ddd-8ddd-dddddddddddd.json", home);
    write_file(bad, "{\"pid\": 1, \"sta");

    etude_bus_t *bus = etude_bus_create();
    etude_recorder_opts_t so = {0};
    etude_recorder_t *recd = open_recorder(bus, "play", &so);
    assert_non_null(recd);
    etude_recorder_close(recd);
    etude_bus_destroy(bus);

    st = open_store();
    cJSON *d = session_data(st, a);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "interrupted")));
    assert_string_equal(str(d, "endReason"), "interrupted");
    assert_string_equal(str(d, "endedAt"), "2026-01-01T10:00:20.000Z");
    cJSON_Delete(d);
    etude_entity_t e;
    assert_int_equal(etude_store_get(st, b, &e), ETUDE_STORE_ENOTFOUND);
    d = session_data(st, c);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "interrupted")));
    cJSON_Delete(d);
    assert_int_equal(etude_store_count(st, "practiceSession", 1), 2);
    etude_store_close(st);
    char path[300];
    snprintf(path, sizeof path, "%s/journal/%s.json", home, a);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/journal/%s.json", home, b);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s.bad", bad);
    assert_int_equal(access(path, F_OK), 0);
}

/* A session with no transport message for ETUDE_SESSION_IDLE_SECONDS ends at the next tick. */
static void test_idle_timeout(void **state)
{
    (void)state;
    setenv("ETUDE_SESSION_IDLE_SECONDS", "0.2", 1);
    etude_bus_t *bus = etude_bus_create();
    etude_recorder_opts_t so = {0};
    etude_recorder_t *rec = open_recorder(bus, "play", &so);
    unsetenv("ETUDE_SESSION_IDLE_SECONDS");
    assert_non_null(rec);
    etude_bus_publish(bus, "transport", "start", "{\"material\":\"idle\",\"rate\":1000,\"tempo_bpm\":90}");
    bar(bus, 0, 90, "", 0);
    char sid[37];
    snprintf(sid, sizeof sid, "%s", etude_recorder_id(rec));
    etude_store_t *st = open_store();
    usleep(300000); /* longer than the timeout: a lower bound only, never flaky */
    etude_recorder_tick(rec);
    /* handed over at the tick; the sync plugin stores it on its worker: close waits for it */
    etude_bus_publish(bus, "transport", "bar", "{\"bar\":1,\"bpm\":90,\"frame\":2666}"); /* no session: ignored */
    etude_recorder_close(rec);
    etude_bus_destroy(bus);
    cJSON *d = session_data(st, sid);
    assert_string_equal(str(d, "endReason"), "idle");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "interrupted")));
    assert_true(num(d, "bars") == 1);
    cJSON_Delete(d);
    assert_int_equal(etude_store_count(st, "practiceSession", 0), 1);
    etude_store_close(st);
}

static void test_disabled_and_args(void **state)
{
    (void)state;
    char a0[] = "render", a1[] = "--plugin-path", a2[] = "/x", a3[] = "--click", a4[] = "4 4/4 120",
         a5[] = "--no-session", a6[] = "-o", a7[] = "o.wav";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};
    int argc = 8;
    etude_recorder_opts_t so;
    assert_int_equal(cli_recorder_args(&argc, argv, &so), 0);
    assert_int_equal(argc, 5);
    assert_string_equal(argv[1], "--click");
    assert_string_equal(argv[4], "o.wav");
    assert_null(argv[5]);
    assert_string_equal(so.plugin_path, "/x");
    assert_int_equal(so.disabled, 1);
    char *argv2[] = {a0, a1, NULL};
    argc = 2;
    assert_int_equal(cli_recorder_args(&argc, argv2, &so), -1);

    etude_bus_t *bus = etude_bus_create();
    so.plugin_path = NULL;
    so.disabled = 1;
    etude_recorder_t *rec = open_recorder(bus, "render", &so);
    assert_non_null(rec);
    etude_bus_publish(bus, "transport", "start", "{\"rate\":1000}");
    etude_bus_publish(bus, "transport", "stop", "{\"frames\":1000}");
    etude_recorder_close(rec);
    etude_bus_destroy(bus);
    etude_store_t *st = open_store();
    assert_int_equal(etude_store_count(st, NULL, 1), 0);
    etude_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_abi_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_and_args, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
