# test_event_stress: 4 producers and a consumer thread, 10^6 events (ETUDE_STRESS_EVENTS overrides);
# it links the engine library alone, so it builds whatever state the other libraries are in.
add_executable(test_event_stress ${ETUDE_TESTS_DIR}/unit/test_event_stress.c)
target_link_libraries(test_event_stress PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_event_stress COMMAND test_event_stress)
set_tests_properties(unit.test_event_stress PROPERTIES LABELS unit TIMEOUT 300)
