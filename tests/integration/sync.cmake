# End-to-end sync tests (issue 7): the real `etude` command against a real etude-syncd on a free
# loopback port, one fresh server database and two $ETUDE_HOME "devices" per test; every script
# kills what it started on exit (tests/integration/sync_lib.sh).
# A script exits 77 (skipped) when the etude-syncd it runs lacks what it tests (its message says so).
# sync_killclient / sync_killserver run ETUDE_SYNC_KILL_RUNS kill -9 runs each (default 50).
file(GLOB sync_scripts CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/sync_*.sh)
foreach(script ${sync_scripts})
  get_filename_component(name ${script} NAME_WE)
  if(name STREQUAL "sync_lib" OR name STREQUAL "sync_failover" OR name STREQUAL "sync_pg_scenarios")
    continue()
  endif()
  add_test(NAME integration.${name} COMMAND bash ${script})
  set_tests_properties(integration.${name} PROPERTIES
    LABELS "integration;sync"
    TIMEOUT 300
    SKIP_RETURN_CODE 77
    ENVIRONMENT "ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_SYNCD=${ETUDE_BIN_DIR}/etude-syncd;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_SOURCE_DIR=${CMAKE_SOURCE_DIR};ETUDE_SANITIZE=${ETUDE_SANITIZE}")
endforeach()

# The six scenarios with the server side on PostgreSQL (tests/support/pg_harness.sh starts a private
# one per entry, sync_pg_scenarios.sh runs the six on a fresh database each): two etude-syncd
# processes on one database with devices spread over them (integration.sync_pg2_scenarios), and the
# same behind haproxy run with docs/haproxy.cfg (integration.sync_haproxy_scenarios); sync_lib.sh
# reads ETUDE_SYNC_TOPOLOGY. One entry per topology, not six: PostgreSQL starts once. sync_failover:
# devices sync through haproxy while one process is killed -9. Plain stage only (pg;no-asan;no-tsan):
# the sanitizer stages run the same client and server code in the SQLite entries.
set(_sync_env "ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_SYNCD=${ETUDE_BIN_DIR}/etude-syncd;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
foreach(topo pg2 haproxy)
  if(topo STREQUAL "pg2")
    set(_topology two)
  else()
    set(_topology haproxy)
  endif()
  add_test(NAME integration.sync_${topo}_scenarios
    COMMAND sh ${ETUDE_TESTS_DIR}/support/pg_harness.sh run bash ${CMAKE_CURRENT_LIST_DIR}/sync_pg_scenarios.sh)
  set_tests_properties(integration.sync_${topo}_scenarios PROPERTIES
    LABELS "integration;sync;pg;no-asan;no-tsan"
    TIMEOUT 300
    ENVIRONMENT "${_sync_env};ETUDE_SYNC_TOPOLOGY=${_topology}")
endforeach()
add_test(NAME integration.sync_failover
  COMMAND sh ${ETUDE_TESTS_DIR}/support/pg_harness.sh run bash ${CMAKE_CURRENT_LIST_DIR}/sync_failover.sh)
set_tests_properties(integration.sync_failover PROPERTIES
  LABELS "integration;sync;pg;no-asan;no-tsan"
  TIMEOUT 120
  ENVIRONMENT "${_sync_env};ETUDE_SYNC_TOPOLOGY=haproxy")

# The orchestrator driver for sync_orchestrator.sh.
add_executable(sync_orch_driver ${CMAKE_CURRENT_LIST_DIR}/sync_orch_driver.c)
target_link_libraries(sync_orch_driver PRIVATE etude-sync)
set_target_properties(sync_orch_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${ETUDE_BIN_DIR}/test)
