# bench.store (label bench): session records/s into the store, export/import entities/s, and the
# real etude.sync/1 plugin's on_record time on the caller against its worker's store time.
if(TARGET etude-sync AND TARGET etude-plugin-sync)
  add_executable(bench_store ${ETUDE_TESTS_DIR}/bench/bench_store.c)
  target_link_libraries(bench_store PRIVATE etude-sync ${CMAKE_DL_LIBS})
  add_dependencies(bench_store etude-plugin-sync)
  add_test(NAME bench.store COMMAND bench_store ${CMAKE_BINARY_DIR}/plugins 2000)
  set_tests_properties(bench.store PROPERTIES LABELS bench TIMEOUT 300)
endif()
