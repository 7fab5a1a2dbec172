# --count-in, --loop/--loops, --start and --trainer of etude render on the rendered audio (tempo map,
# MIDI file, preset), and their flag errors.
add_test(NAME integration.practice_timeline
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/practice_timeline.sh $<TARGET_FILE:etude>
          $<TARGET_FILE:click_vs_klick_onsets> ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.practice_timeline PROPERTIES LABELS integration TIMEOUT 300
  ENVIRONMENT OMP_NUM_THREADS=1)
# The same live: etude play following the JACK transport (private jackd; labels as the jack_*.sh tests).
add_test(NAME integration.practice_timeline_play COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/practice_timeline_play.sh)
set_tests_properties(integration.practice_timeline_play PROPERTIES LABELS "integration;jack" TIMEOUT 120
  ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR}")
if(ETUDE_SANITIZE STREQUAL "thread") # libjack is not instrumented (see jack.cmake)
  set_tests_properties(integration.practice_timeline_play PROPERTIES LABELS "integration;jack;no-tsan")
endif()
