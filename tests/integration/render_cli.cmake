# `etude render` end to end: outputs and every bad-input path.
add_test(NAME integration.render_cli
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/render_cli.sh $<TARGET_FILE:etude> ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.render_cli PROPERTIES LABELS integration TIMEOUT 300)
