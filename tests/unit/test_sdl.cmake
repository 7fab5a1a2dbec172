# test_sdl: the schema reference generator's reader of GraphQL SDL and operation documents.
add_executable(test_sdl ${ETUDE_TESTS_DIR}/unit/test_sdl.c)
target_link_libraries(test_sdl PRIVATE etude-sdl PkgConfig::CMOCKA)
target_compile_definitions(test_sdl PRIVATE ETUDE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME unit.test_sdl COMMAND test_sdl)
set_tests_properties(unit.test_sdl PROPERTIES LABELS unit TIMEOUT 60)
