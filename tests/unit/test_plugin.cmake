# test_plugin: the plugin host (app/etude_plugins.c) and session recorder (app/etude_recorder.c) of
# libetude-app against the real bundled plugins and deliberately broken ones; cli/cli_args.c for the
# recorder's flags.
if(TARGET etude-app AND TARGET etude-sync AND TARGET etude-plugin-sync AND TARGET etude-plugin-jsonl)
  set(bad_dir ${CMAKE_CURRENT_BINARY_DIR}/badplugins)
  set(bad_targets "")
  foreach(kind VERSION SIZE NO_SYMBOL NULL_CB)
    string(TOLOWER ${kind} lower)
    add_library(test-bad-plugin-${lower} MODULE ${ETUDE_TESTS_DIR}/unit/test_plugin_bad.c)
    target_compile_definitions(test-bad-plugin-${lower} PRIVATE BAD_${kind})
    target_include_directories(test-bad-plugin-${lower} PRIVATE ${PROJECT_SOURCE_DIR}/plugins)
    set_target_properties(test-bad-plugin-${lower} PROPERTIES PREFIX "" OUTPUT_NAME bad_${lower}
      LIBRARY_OUTPUT_DIRECTORY ${bad_dir} C_VISIBILITY_PRESET hidden)
    list(APPEND bad_targets test-bad-plugin-${lower})
  endforeach()
  add_library(test_plugin_header OBJECT ${ETUDE_TESTS_DIR}/unit/test_plugin_header.cpp)
  target_link_libraries(test_plugin_header PRIVATE etude-sync)

  add_executable(test_plugin ${ETUDE_TESTS_DIR}/unit/test_plugin.c ${PROJECT_SOURCE_DIR}/cli/cli_args.c)
  target_include_directories(test_plugin PRIVATE ${PROJECT_SOURCE_DIR}/cli)
  target_link_libraries(test_plugin PRIVATE etude-app)
  target_compile_definitions(test_plugin PRIVATE
    ETUDE_TEST_PLUGIN_DIR="${CMAKE_BINARY_DIR}/plugins" ETUDE_TEST_BAD_DIR="${bad_dir}")
  target_link_libraries(test_plugin PRIVATE ${ETUDE_TEST_LIBS} PkgConfig::CJSON PkgConfig::SQLITE ${CMAKE_DL_LIBS})
  add_dependencies(test_plugin ${bad_targets} test_plugin_header etude-plugin-sync etude-plugin-jsonl)
  add_test(NAME unit.test_plugin COMMAND test_plugin)
  set_tests_properties(unit.test_plugin PROPERTIES LABELS unit TIMEOUT 300)
endif()
