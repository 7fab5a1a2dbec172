# bench.server: uploadBatch entities/s (batches of 250, gzip) and syncChanges pages/s against a real etude-syncd.
if(TARGET etude-syncd)
  add_executable(bench_server ${CMAKE_CURRENT_LIST_DIR}/bench_server.c)
  target_link_libraries(bench_server PRIVATE etude-common PkgConfig::CURL PkgConfig::CJSON PkgConfig::SODIUM PkgConfig::ZLIB
    Threads::Threads)
  add_test(NAME bench.server COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/bench_server.sh $<TARGET_FILE:etude-syncd>
    $<TARGET_FILE:bench_server> ${PROJECT_SOURCE_DIR})
  set_tests_properties(bench.server PROPERTIES LABELS "bench;server" TIMEOUT 600)
endif()
