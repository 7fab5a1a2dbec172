# The local store, the session recorder and its plugins through the real `etude` program:
# store_cli (log, goal, export, import), session_render (real renders recorded field by field),
# crash_kill (50 kill -9 runs at random moments, recovery, integrity_check).
if(TARGET etude AND TARGET etude-sync)
  set(store_env "ETUDE_SANITIZE=${ETUDE_SANITIZE}")
  add_test(NAME integration.store_cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/store_cli.sh $<TARGET_FILE:etude>)
  add_test(NAME integration.session_render
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/session_render.sh $<TARGET_FILE:etude> ${PROJECT_SOURCE_DIR}/presets)
  add_test(NAME integration.crash_kill COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/crash_kill.sh $<TARGET_FILE:etude>)
  set_tests_properties(integration.store_cli integration.session_render integration.crash_kill PROPERTIES
    LABELS "integration;store" TIMEOUT 300 ENVIRONMENT "${store_env}")
endif()

# A live session test against a private jackd, like the jack_* tests: labelled no-tsan because
# libjack is not instrumented and synchronises through futexes TSan cannot see.
if(TARGET etude AND TARGET etude-sync AND EXISTS ${ETUDE_TESTS_DIR}/support/jack_harness.sh)
  add_test(NAME integration.session_play COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/session_play.sh)
  set_tests_properties(integration.session_play PROPERTIES LABELS "integration;store;jack" TIMEOUT 180
    ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR}")
  if(ETUDE_SANITIZE STREQUAL "thread")
    set_tests_properties(integration.session_play PROPERTIES LABELS "integration;store;jack;no-tsan")
  endif()
endif()
