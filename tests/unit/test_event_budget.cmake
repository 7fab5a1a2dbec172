# test_event_budget links the engine library alone (it uses the engine's test instruments, etude_engine_test.h).
add_executable(test_event_budget ${ETUDE_TESTS_DIR}/unit/test_event_budget.c)
target_link_libraries(test_event_budget PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_event_budget COMMAND test_event_budget)
set_tests_properties(unit.test_event_budget PROPERTIES LABELS unit TIMEOUT 300)
