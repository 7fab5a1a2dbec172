// test_plugin_header.cpp - the plugin ABI and store headers compile as C++ (built, not run).
#include "etude_plugin.h"
#include "etude_store.h"
#include "etude_canon.h"

static_assert(sizeof(etude_plugin_entry_t) >= 2 * sizeof(uint32_t), "entry starts with version and size");
int etude_test_plugin_header_cxx() { return (int)ETUDE_PLUGIN_ABI_VERSION + ETUDE_STORE_SCHEMA_VERSION; }
