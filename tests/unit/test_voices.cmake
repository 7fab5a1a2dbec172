# test_voices links the engine library alone, so it builds whatever state the other libraries are in.
add_executable(test_voices ${ETUDE_TESTS_DIR}/unit/test_voices.c)
target_link_libraries(test_voices PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_voices COMMAND test_voices)
set_tests_properties(unit.test_voices PROPERTIES LABELS unit TIMEOUT 300)
