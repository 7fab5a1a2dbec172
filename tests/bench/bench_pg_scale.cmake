# bench.pg_scale (labels bench, pg; plain stage only): 1,000 simulated users sync through 1, 2 and 4
# etude-syncd processes on one private PostgreSQL and through one on SQLite; prints entities/s and
# p99 sync latency of each and the ratios to SQLite. ctest runs one sync per user; a longer run
# (ETUDE_BENCH_PG_ROUNDS=3 repeats it in alternating order and reports medians):
#   ETUDE_BENCH_PG_SYNCS=10 sh tests/support/pg_harness.sh run sh tests/bench/bench_pg_scale.sh \
#     build/bin/etude-syncd build/tests/bench_pg_scale .
if(TARGET etude-syncd)
  add_executable(bench_pg_scale ${CMAKE_CURRENT_LIST_DIR}/bench_pg_scale.c)
  target_link_libraries(bench_pg_scale PRIVATE etude-common PkgConfig::CURL PkgConfig::CJSON PkgConfig::SODIUM
    Threads::Threads)
  add_test(NAME bench.pg_scale COMMAND sh ${ETUDE_TESTS_DIR}/support/pg_harness.sh run
    sh ${CMAKE_CURRENT_LIST_DIR}/bench_pg_scale.sh $<TARGET_FILE:etude-syncd> $<TARGET_FILE:bench_pg_scale>
    ${PROJECT_SOURCE_DIR})
  set_tests_properties(bench.pg_scale PROPERTIES LABELS "bench;server;pg;no-asan;no-tsan" TIMEOUT 300)
endif()
