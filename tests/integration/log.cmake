# The practice log read back: goals by material identity (live sessions on a private jackd), and
# log list / show / summary. Labelled no-tsan like the other live tests: libjack is not
# instrumented and synchronises through futexes TSan cannot see.
if(TARGET etude AND TARGET etude-sync AND EXISTS ${ETUDE_TESTS_DIR}/support/jack_harness.sh)
  foreach(t log_goal_identity log_views log_follow_stop)
    add_test(NAME integration.${t} COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
    set_tests_properties(integration.${t} PROPERTIES LABELS "integration;store;jack" TIMEOUT 120
      ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR}")
    if(ETUDE_SANITIZE STREQUAL "thread")
      set_tests_properties(integration.${t} PROPERTIES LABELS "integration;store;jack;no-tsan")
    endif()
  endforeach()
endif()

# log summary over imported and rendered sessions: no jackd, so it runs under every build.
if(TARGET etude AND TARGET etude-sync)
  add_test(NAME integration.log_summary COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/log_summary.sh $<TARGET_FILE:etude>)
  set_tests_properties(integration.log_summary PROPERTIES LABELS "integration;store" TIMEOUT 60)
endif()
