# integration.canon_property: canonical JSON agrees across libetude-common, etude-syncd's path, the
# store's path and an independent RFC 8785 implementation (npm canonicalize, pinned by its lock
# file). Seeded; the seed is printed and ETUDE_CANON_SEED replays it; ETUDE_CANON_CASES sets the count.
if(TARGET etude-syncd-core AND TARGET etude-sync)
  add_executable(canon_property ${CMAKE_CURRENT_LIST_DIR}/canon_property.c)
  target_link_libraries(canon_property PRIVATE etude-syncd-core etude-sync etude-common)
  add_test(NAME integration.canon_property COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/canon_property.sh
    $<TARGET_FILE:canon_property> ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/canon-property)
  set_tests_properties(integration.canon_property PROPERTIES LABELS "integration;sync" TIMEOUT 300)
endif()
