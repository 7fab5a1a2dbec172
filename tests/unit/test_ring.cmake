# test_ring links the engine library alone, so it builds whatever state the other libraries are in.
add_executable(test_ring ${ETUDE_TESTS_DIR}/unit/test_ring.c)
target_link_libraries(test_ring PRIVATE etude-engine PkgConfig::CMOCKA Threads::Threads m)
add_test(NAME unit.test_ring COMMAND test_ring)
set_tests_properties(unit.test_ring PROPERTIES LABELS unit TIMEOUT 300)
