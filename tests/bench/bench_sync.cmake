# bench.sync (label bench): full sync of N entities to an empty account, incremental bytes after 1 %
# changed against the full upload, batched against one entity per request. ctest runs N = 5000;
# the issue's figure: ETUDE_BENCH_SYNC_N=100000 build/tests/bench_sync build/bin/etude-syncd
if(TARGET etude-sync AND TARGET etude-syncd)
  add_executable(bench_sync ${ETUDE_TESTS_DIR}/bench/bench_sync.c)
  target_link_libraries(bench_sync PRIVATE etude-sync)
  add_dependencies(bench_sync etude-syncd)
  add_test(NAME bench.sync COMMAND bench_sync ${ETUDE_BIN_DIR}/etude-syncd 5000)
  set_tests_properties(bench.sync PROPERTIES LABELS bench TIMEOUT 600)
endif()
