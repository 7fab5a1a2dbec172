# Renders are not practice, through goal progress (a private jackd for the live session).
if(TARGET etude AND TARGET etude-sync AND EXISTS ${ETUDE_TESTS_DIR}/support/jack_harness.sh)
  add_test(NAME integration.render_not_practice COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/render_not_practice.sh)
  set_tests_properties(integration.render_not_practice PROPERTIES LABELS "integration;store;jack" TIMEOUT 240
    ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR}")
  if(ETUDE_SANITIZE STREQUAL "thread")
    set_tests_properties(integration.render_not_practice PROPERTIES LABELS "integration;store;jack;no-tsan")
  endif()
endif()
