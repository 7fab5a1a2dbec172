# test_preset reads the shipped presets from the source tree.
add_executable(test_preset ${CMAKE_CURRENT_LIST_DIR}/test_preset.c)
target_compile_definitions(test_preset PRIVATE ETUDE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(test_preset PRIVATE ${ETUDE_TEST_LIBS})
add_test(NAME unit.test_preset COMMAND test_preset)
set_tests_properties(unit.test_preset PROPERTIES LABELS unit TIMEOUT 300)
