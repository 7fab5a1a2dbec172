/* test_bus.c - unit tests of the event bus: per-topic and overall history limits, history order,
 * subscriptions by handle and owner, thread safety, and bounded memory over a million publishes. */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "etude_bus.h"
#include "etude_engine.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

static void publish_n(etude_bus_t *bus, const char *topic, int n)
{
    char json[64];
    for (int i = 0; i < n; i++) {
        snprintf(json, sizeof json, "{\"i\":%d}", i);
        assert_true(etude_bus_publish(bus, topic, "msg", json) > 0);
    }
}

/* The history of a topic holds exactly the newest `limit` messages, oldest first. */
static void check_topic_tail(etude_bus_t *bus, const char *topic, int published, int limit)
{
    static etude_bus_msg_t msgs[ETUDE_BUS_HISTORY];
    assert_int_equal(etude_bus_count(bus, topic), (size_t)limit);
    size_t n = etude_bus_history(bus, topic, msgs, ETUDE_BUS_HISTORY);
    assert_int_equal(n, (size_t)limit);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"i\":%d}", published - limit + (int)i);
        assert_string_equal(msgs[i].json, want);
        assert_string_equal(msgs[i].topic, topic);
        if (i)
            assert_true(msgs[i].seq > msgs[i - 1].seq);
    }
    etude_bus_msgs_free(msgs, n);
}

static void test_topic_limits(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    assert_non_null(bus);
    publish_n(bus, "debug", 250);
    publish_n(bus, "meter", 120);
    publish_n(bus, "position", 51);
    check_topic_tail(bus, "debug", 250, 100);
    check_topic_tail(bus, "meter", 120, 50);
    check_topic_tail(bus, "position", 51, 50);
    assert_int_equal(etude_bus_count(bus, NULL), 200);
    etude_bus_destroy(bus);

    bus = etude_bus_create();
    publish_n(bus, "error", 777);
    check_topic_tail(bus, "error", 777, 500);
    publish_n(bus, "voice", 999);
    /* 500 errors + 999 voice > 1000: the oldest messages overall (errors) leave first. */
    assert_int_equal(etude_bus_count(bus, NULL), ETUDE_BUS_HISTORY);
    check_topic_tail(bus, "voice", 999, 999);
    assert_int_equal(etude_bus_count(bus, "error"), 1);
    etude_bus_destroy(bus);
}

static void test_overall_limit_and_order(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    const char *topics[] = {"transport", "voice", "debug", "sync"};
    uint64_t last = 0;
    for (int i = 0; i < 3000; i++) {
        char json[32];
        snprintf(json, sizeof json, "{\"n\":%d}", i);
        uint64_t seq = etude_bus_publish(bus, topics[i % 4], "m", json);
        assert_int_equal(seq, last + 1);
        last = seq;
    }
    assert_int_equal(etude_bus_count(bus, NULL), ETUDE_BUS_HISTORY);
    assert_int_equal(etude_bus_count(bus, "debug"), 100);
    /* 900 others, 300 each, the newest of each. */
    assert_int_equal(etude_bus_count(bus, "transport"), 300);
    assert_int_equal(etude_bus_count(bus, "voice"), 300);
    assert_int_equal(etude_bus_count(bus, "sync"), 300);

    static etude_bus_msg_t msgs[ETUDE_BUS_HISTORY];
    size_t n = etude_bus_history(bus, "*", msgs, ETUDE_BUS_HISTORY);
    assert_int_equal(n, ETUDE_BUS_HISTORY);
    for (size_t i = 1; i < n; i++)
        assert_true(msgs[i].seq > msgs[i - 1].seq);
    assert_int_equal(msgs[n - 1].seq, 3000);
    assert_string_equal(msgs[n - 1].topic, "sync");
    assert_string_equal(msgs[n - 1].json, "{\"n\":2999}");
    assert_true(msgs[0].time_us > 0);
    etude_bus_msgs_free(msgs, n);

    /* max smaller than the history: the oldest max messages. */
    n = etude_bus_history(bus, "voice", msgs, 3);
    assert_int_equal(n, 3);
    assert_true(msgs[0].seq < msgs[1].seq && msgs[1].seq < msgs[2].seq);
    etude_bus_msgs_free(msgs, n);
    assert_int_equal(etude_bus_history(bus, "nothing-here", msgs, 10), 0);
    etude_bus_destroy(bus);
}

static void test_set_limit(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    publish_n(bus, "session", 40);
    assert_int_equal(etude_bus_set_limit(bus, "session", 10), 0);
    check_topic_tail(bus, "session", 40, 10);
    publish_n(bus, "session", 25);
    check_topic_tail(bus, "session", 25, 10);
    assert_int_equal(etude_bus_set_limit(bus, "session", 0), ETUDE_EINVAL);
    assert_int_equal(etude_bus_set_limit(bus, "session", ETUDE_BUS_HISTORY + 1), ETUDE_EINVAL);
    assert_int_equal(etude_bus_set_limit(bus, "*", 5), ETUDE_EINVAL);
    etude_bus_destroy(bus);
}

typedef struct recv {
    int count;
    uint64_t last_seq;
    char last_topic[32];
    char last_json[64];
} recv_t;

static void on_msg(void *user, const etude_bus_msg_t *m)
{
    recv_t *r = user;
    r->count++;
    r->last_seq = m->seq;
    snprintf(r->last_topic, sizeof r->last_topic, "%s", m->topic);
    snprintf(r->last_json, sizeof r->last_json, "%s", m->json);
}

static void test_subscribe_unsubscribe(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    recv_t a = {0}, b = {0}, all = {0};
    int owner1, owner2;
    uint64_t ha = etude_bus_subscribe(bus, "voice", on_msg, &a, &owner1);
    uint64_t hb = etude_bus_subscribe(bus, "xrun", on_msg, &b, &owner1);
    uint64_t hall = etude_bus_subscribe(bus, "*", on_msg, &all, &owner2);
    assert_true(ha && hb && hall && ha != hb && hb != hall);
    assert_int_equal(etude_bus_subscriptions(bus), 3);

    uint64_t s1 = etude_bus_publish(bus, "voice", "voice:added", "{\"voice\":\"click\"}");
    etude_bus_publish(bus, "xrun", "xrun", NULL);
    etude_bus_publish(bus, "debug", "d", "{}");
    assert_int_equal(a.count, 1);
    assert_int_equal(a.last_seq, s1);
    assert_string_equal(a.last_json, "{\"voice\":\"click\"}");
    assert_int_equal(b.count, 1);
    assert_string_equal(b.last_json, "{}");
    assert_int_equal(all.count, 3);
    assert_string_equal(all.last_topic, "debug");

    assert_int_equal(etude_bus_unsubscribe(bus, ha), 0);
    assert_int_equal(etude_bus_unsubscribe(bus, ha), ETUDE_ENOTFOUND);
    assert_int_equal(etude_bus_unsubscribe(bus, 987654), ETUDE_ENOTFOUND);
    etude_bus_publish(bus, "voice", "voice:added", NULL);
    assert_int_equal(a.count, 1);
    assert_int_equal(all.count, 4);

    /* By owner: owner1 still has hb; owner2 has hall plus two more. */
    recv_t c = {0};
    etude_bus_subscribe(bus, "voice", on_msg, &c, &owner2);
    etude_bus_subscribe(bus, "debug", on_msg, &c, &owner2);
    assert_int_equal(etude_bus_subscriptions(bus), 4);
    assert_int_equal(etude_bus_unsubscribe_owner(bus, &owner2), 3);
    assert_int_equal(etude_bus_subscriptions(bus), 1);
    etude_bus_publish(bus, "voice", "x", NULL);
    etude_bus_publish(bus, "debug", "x", NULL);
    etude_bus_publish(bus, "xrun", "x", NULL);
    assert_int_equal(c.count, 0);
    assert_int_equal(all.count, 4);
    assert_int_equal(b.count, 2);
    assert_int_equal(etude_bus_unsubscribe_owner(bus, &owner2), 0);
    assert_int_equal(etude_bus_unsubscribe_owner(bus, &owner1), 1);
    assert_int_equal(etude_bus_subscriptions(bus), 0);
    etude_bus_destroy(bus);
}

/* A callback may publish (on another topic) and subscribe; it runs without the bus lock. */
static etude_bus_t *nested_bus;
static void on_nested(void *user, const etude_bus_msg_t *m)
{
    recv_t *r = user;
    r->count++;
    if (!strcmp(m->topic, "transport"))
        etude_bus_publish(nested_bus, "debug", "echo", m->json);
}

static void test_callback_reentry(void **state)
{
    (void)state;
    nested_bus = etude_bus_create();
    recv_t r = {0}, d = {0};
    etude_bus_subscribe(nested_bus, "transport", on_nested, &r, NULL);
    etude_bus_subscribe(nested_bus, "debug", on_msg, &d, NULL);
    etude_bus_publish(nested_bus, "transport", "start", "{\"rate\":48000}");
    assert_int_equal(r.count, 1);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.last_json, "{\"rate\":48000}");
    assert_int_equal(etude_bus_count(nested_bus, NULL), 2);
    etude_bus_destroy(nested_bus);
}

/* Destroy with history, subscriptions and set limits: LeakSanitizer / valgrind see nothing left. */
static void test_destroy_frees_all(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    recv_t r = {0};
    for (int i = 0; i < 20; i++)
        etude_bus_subscribe(bus, i % 2 ? "voice" : "*", on_msg, &r, &r);
    etude_bus_set_limit(bus, "custom", 7);
    publish_n(bus, "voice", 1200);
    publish_n(bus, "custom", 9);
    publish_n(bus, "debug", 300);
    assert_int_equal(etude_bus_count(bus, "custom"), 7);
    etude_bus_destroy(bus);
    etude_bus_destroy(NULL);
}

struct pub_arg {
    etude_bus_t *bus;
    int n;
    const char *topic;
};

static void *publisher(void *p)
{
    struct pub_arg *a = p;
    for (int i = 0; i < a->n; i++)
        etude_bus_publish(a->bus, a->topic, "m", "{}");
    return NULL;
}

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static void on_count(void *user, const etude_bus_msg_t *m)
{
    (void)m;
    pthread_mutex_lock(&count_lock);
    (*(int *)user)++;
    pthread_mutex_unlock(&count_lock);
}

static void test_threads(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    int seen = 0;
    etude_bus_subscribe(bus, "*", on_count, &seen, NULL);
    pthread_t th[4];
    struct pub_arg args[4] = {
        {bus, 5000, "debug"}, {bus, 5000, "voice"}, {bus, 5000, "meter"}, {bus, 5000, "error"}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, publisher, &args[i]), 0);
    /* Subscriptions come and go meanwhile. */
    for (int i = 0; i < 2000; i++) {
        uint64_t h = etude_bus_subscribe(bus, "voice", on_count, &seen, &seen);
        etude_bus_unsubscribe(bus, h);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&count_lock);
    assert_true(seen >= 20000);
    pthread_mutex_unlock(&count_lock);
    assert_int_equal(etude_bus_count(bus, NULL), ETUDE_BUS_HISTORY);
    /* Which topics the newest 1000 are depends on the threads' interleaving; the limits do not. */
    assert_true(etude_bus_count(bus, "debug") <= 100);
    assert_true(etude_bus_count(bus, "meter") <= 50);
    assert_true(etude_bus_count(bus, "error") <= 500);
    assert_int_equal(etude_bus_count(bus, "debug") + etude_bus_count(bus, "meter") +
                         etude_bus_count(bus, "error") + etude_bus_count(bus, "voice"),
                     ETUDE_BUS_HISTORY);
    assert_int_equal(etude_bus_subscriptions(bus), 1);
    etude_bus_destroy(bus);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* A million publishes, over common topics and ever new topic names: the history and the heap stay
 * bounded (the heap check only in the plain build: sanitizers keep freed memory in quarantine). */
static void test_million_bounded(void **state)
{
    (void)state;
    etude_bus_t *bus = etude_bus_create();
    recv_t r = {0};
    etude_bus_subscribe(bus, "voice", on_msg, &r, NULL);
    const char *topics[] = {"debug", "meter", "position", "error", "voice", "transport"};
    char name[32], json[96];
    size_t baseline = 0;
    int want_voice = 0;
    const int total = 1000000;
    for (int i = 0; i < total; i++) {
        const char *t = topics[i % 6];
        if (i % 50 == 0) {
            snprintf(name, sizeof name, "topic-%d", i); /* a topic never seen before */
            t = name;
        }
        want_voice += !strcmp(t, "voice");
        snprintf(json, sizeof json, "{\"i\":%d,\"pad\":\"%0*d\"}", i, i % 40, 0);
        assert_true(etude_bus_publish(bus, t, "m", json) > 0);
        assert_true(etude_bus_count(bus, NULL) <= ETUDE_BUS_HISTORY);
        if (i == total / 10)
            baseline = heap_in_use();
    }
    assert_int_equal(etude_bus_count(bus, NULL), ETUDE_BUS_HISTORY);
    assert_int_equal(etude_bus_count(bus, "debug"), 100);
    assert_int_equal(etude_bus_count(bus, "meter"), 50);
    assert_int_equal(etude_bus_count(bus, "position"), 50);
    assert_int_equal(etude_bus_dropped(bus), 0);
    assert_int_equal(r.count, want_voice);
    size_t end = heap_in_use();
    printf("heap in use after warm-up %zu bytes, at the end %zu bytes\n", baseline, end);
    if (!UNDER_SANITIZER)
        assert_true(end < baseline + 64 * 1024);
    etude_bus_destroy(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_limits),
        cmocka_unit_test(test_overall_limit_and_order),
        cmocka_unit_test(test_set_limit),
        cmocka_unit_test(test_subscribe_unsubscribe),
        cmocka_unit_test(test_callback_reentry),
        cmocka_unit_test(test_destroy_frees_all),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_million_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
