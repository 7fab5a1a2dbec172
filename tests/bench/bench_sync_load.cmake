# bench.sync_load (label bench): 20 real etude devices sync with and without 2,000 idle connections
# and 500 event streams held open on etude-syncd; prints p50/p99 sync latency of both and the
# ratio. ctest runs a smaller version (4 rounds); the documented figures use the defaults:
#   ETUDE_BIN=build/bin/etude ETUDE_SYNCD=build/bin/etude-syncd ETUDE_TESTS_DIR=tests \
#     bash tests/bench/bench_sync_load.sh
if(TARGET etude-syncd AND TARGET etude)
  add_test(NAME bench.sync_load COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench_sync_load.sh)
  set_tests_properties(bench.sync_load PROPERTIES LABELS "bench;server" TIMEOUT 900
    ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_SYNCD=${ETUDE_BIN_DIR}/etude-syncd;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_BENCH_LOAD_ROUNDS=4")
endif()
