# test_event_stall links the engine library alone (it uses the engine's test instruments, etude_engine_test.h).
add_executable(test_event_stall ${ETUDE_TESTS_DIR}/unit/test_event_stall.c)
target_link_libraries(test_event_stall PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_event_stall COMMAND test_event_stall)
set_tests_properties(unit.test_event_stall PROPERTIES LABELS unit TIMEOUT 300)
