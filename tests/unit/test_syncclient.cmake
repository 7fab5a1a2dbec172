# test_syncclient: the sync client without a network (answers applied through
# etude_syncclient_apply_answer); it reads sync/schema/operations.sha256, hence its own fragment.
add_executable(test_syncclient ${ETUDE_TESTS_DIR}/unit/test_syncclient.c)
target_link_libraries(test_syncclient PRIVATE etude-sync PkgConfig::CMOCKA Threads::Threads m)
target_compile_definitions(test_syncclient PRIVATE ETUDE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_test(NAME unit.test_syncclient COMMAND test_syncclient)
set_tests_properties(unit.test_syncclient PROPERTIES LABELS unit TIMEOUT 300)
