# test_logbook: material identity, goal matching, accuracy pooling and dates of libetude-app's logbook.
if(TARGET etude-app)
  add_executable(test_logbook ${ETUDE_TESTS_DIR}/unit/test_logbook.c)
  target_link_libraries(test_logbook PRIVATE etude-app ${ETUDE_TEST_LIBS} PkgConfig::CJSON)
  add_test(NAME unit.test_logbook COMMAND test_logbook)
  set_tests_properties(unit.test_logbook PROPERTIES LABELS unit TIMEOUT 60)
endif()
