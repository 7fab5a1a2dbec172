# test_syncd_metrics: etude-syncd's per-minute ring of its /metrics figures (AdminMetrics), with a
# test clock, and under concurrent writers (the TSan build runs it too).
if(TARGET etude-syncd-core)
  add_executable(test_syncd_metrics ${ETUDE_TESTS_DIR}/unit/test_syncd_metrics.c)
  target_link_libraries(test_syncd_metrics PRIVATE etude-syncd-core PkgConfig::CMOCKA Threads::Threads)
  add_test(NAME unit.test_syncd_metrics COMMAND test_syncd_metrics)
  set_tests_properties(unit.test_syncd_metrics PROPERTIES LABELS "unit;server" TIMEOUT 60)
endif()
