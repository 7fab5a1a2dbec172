/* test_plugin_bad.c - deliberately broken plugins for the host's ABI refusals, one .so per -D:
 * BAD_VERSION (wrong ABI version), BAD_SIZE (entry smaller than the ABI struct), BAD_NO_SYMBOL
 * (no entry symbol), BAD_NULL_CB (a required callback missing). Built by test_plugin.cmake. */
#include <stdint.h>

#include "etude_plugin.h"

#ifdef BAD_NO_SYMBOL
ETUDE_PLUGIN_EXPORT const int etude_plugin_entry_v0 = 1;
#else
static int c_create(const char *config_json, const etude_plugin_host_t *host, void **instance)
{
    (void)config_json;
    (void)host;
    *instance = (void *)0;
    return 0;
}
__attribute__((unused)) static int c_record(void *instance, const char *record_json)
{
    (void)instance;
    (void)record_json;
    return 0;
}
static int c_flush(void *instance, int64_t deadline_us)
{
    (void)instance;
    (void)deadline_us;
    return 0;
}
static void c_destroy(void *instance)
{
    (void)instance;
}

ETUDE_PLUGIN_EXPORT const etude_plugin_entry_t etude_plugin_entry = {
#ifdef BAD_VERSION
    .abi_version = 99,
#else
    .abi_version = ETUDE_PLUGIN_ABI_VERSION,
#endif
#ifdef BAD_SIZE
    .size = 8,
#else
    .size = sizeof(etude_plugin_entry_t),
#endif
    .id = "test.bad/1",
    .description = "a broken plugin",
    .create = c_create,
#ifdef BAD_NULL_CB
    .on_record = 0,
#else
    .on_record = c_record,
#endif
    .flush = c_flush,
    .destroy = c_destroy,
};
#endif
