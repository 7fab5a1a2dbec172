# Presets by name after `cmake --install` to a temporary prefix (etude presets, etude render NAME).
add_test(NAME integration.presets_install
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/presets_install.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.presets_install PROPERTIES LABELS integration TIMEOUT 300)
