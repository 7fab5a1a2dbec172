# test_events links the engine library alone, so it builds whatever state the other libraries are in.
add_executable(test_events ${ETUDE_TESTS_DIR}/unit/test_events.c)
target_link_libraries(test_events PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_events COMMAND test_events)
set_tests_properties(unit.test_events PROPERTIES LABELS unit TIMEOUT 300)
