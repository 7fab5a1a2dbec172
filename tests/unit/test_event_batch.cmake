# test_event_batch links the engine library alone, like test_events.
add_executable(test_event_batch ${ETUDE_TESTS_DIR}/unit/test_event_batch.c)
target_link_libraries(test_event_batch PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_event_batch COMMAND test_event_batch)
set_tests_properties(unit.test_event_batch PROPERTIES LABELS unit TIMEOUT 300)
