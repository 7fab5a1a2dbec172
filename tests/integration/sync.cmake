# End-to-end sync tests (issue 7): the real `etude` command against a real etude-syncd on a free
# loopback port, one fresh server database and two $ETUDE_HOME "devices" per test; every script
# kills what it started on exit (tests/integration/sync_lib.sh).
# A script exits 77 (skipped) when the etude-syncd it runs lacks what it tests (its message says so).
# sync_killclient / sync_killserver run ETUDE_SYNC_KILL_RUNS kill -9 runs each (default 50).
file(GLOB sync_scripts CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/sync_*.sh)
foreach(script ${sync_scripts})
  get_filename_component(name ${script} NAME_WE)
  if(name STREQUAL "sync_lib")
    continue()
  endif()
  add_test(NAME integration.${name} COMMAND bash ${script})
  set_tests_properties(integration.${name} PROPERTIES
    LABELS "integration;sync"
    TIMEOUT 300
    SKIP_RETURN_CODE 77
    ENVIRONMENT "ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_SYNCD=${ETUDE_BIN_DIR}/etude-syncd;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_SOURCE_DIR=${CMAKE_SOURCE_DIR};ETUDE_SANITIZE=${ETUDE_SANITIZE}")
endforeach()

# The orchestrator driver for sync_orchestrator.sh.
add_executable(sync_orch_driver ${CMAKE_CURRENT_LIST_DIR}/sync_orch_driver.c)
target_link_libraries(sync_orch_driver PRIVATE etude-sync)
set_target_properties(sync_orch_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${ETUDE_BIN_DIR}/test)
