# test_event_cancel_race links the engine library alone (it uses the engine's test instruments,
# etude_engine_test.h, and reads a slot's state word through etude_engine_internal.h).
add_executable(test_event_cancel_race ${ETUDE_TESTS_DIR}/unit/test_event_cancel_race.c)
target_link_libraries(test_event_cancel_race PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_event_cancel_race COMMAND test_event_cancel_race)
set_tests_properties(unit.test_event_cancel_race PROPERTIES LABELS unit TIMEOUT 120)
