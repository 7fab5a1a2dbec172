# test_timeline: the practice timeline of libetude-app (flag parsers, bars and labels, the rewritten map).
if(TARGET etude-app)
  add_executable(test_timeline ${ETUDE_TESTS_DIR}/unit/test_timeline.c)
  target_link_libraries(test_timeline PRIVATE etude-app ${ETUDE_TEST_LIBS})
  add_test(NAME unit.test_timeline COMMAND test_timeline)
  set_tests_properties(unit.test_timeline PROPERTIES LABELS unit TIMEOUT 60)
endif()
