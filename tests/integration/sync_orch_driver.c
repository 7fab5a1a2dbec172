/* sync_orch_driver.c - runs the sync orchestrator (the sync plugin's worker) over one $ETUDE_HOME
 * until a stop file appears or a time limit passes, printing the bus events it publishes; used by
 * sync_orchestrator.sh to watch /events pulls and debounced data-change syncs from outside.
 * While the file HOME/playing exists the engine counts as playing (etude_sync_orchestrator_set_playing).
 *   sync_orch_driver HOME STOPFILE SECONDS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "etude_syncclient.h"

static void on_event(void *ctx, const char *topic, const char *name, const char *json)
{
    (void)ctx;
    printf("%s %s %s\n", topic, name, json);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sync_orch_driver HOME STOPFILE SECONDS\n");
        return 2;
    }
    etude_sync_orchestrator_t *o;
    int rc = etude_sync_orchestrator_start(argv[1], on_event, NULL, &o);
    if (rc) {
        fprintf(stderr, "sync_orch_driver: %s\n", etude_sync_strerror(rc));
        return 1;
    }
    char playing_file[4200];
    snprintf(playing_file, sizeof playing_file, "%s/playing", argv[1]);
    int playing = -1;
    int64_t end = etude_sync_now_us() + (int64_t)atoi(argv[3]) * 1000000;
    while (access(argv[2], F_OK) != 0 && etude_sync_now_us() < end) {
        int p = access(playing_file, F_OK) == 0;
        if (p != playing)
            etude_sync_orchestrator_set_playing(o, p);
        playing = p;
        struct timespec t = {0, 50000000};
        nanosleep(&t, NULL);
    }
    int done = 0, failed = 0;
    etude_sync_orchestrator_counts(o, &done, &failed);
    etude_sync_orchestrator_stop(o);
    printf("orchestrator: %d syncs completed, %d failed\n", done, failed);
    return 0;
}
