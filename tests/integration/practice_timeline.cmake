# --count-in, --loop/--loops, --start and --trainer of etude render on the rendered audio (tempo map,
# MIDI file, preset), and their flag errors.
add_test(NAME integration.practice_timeline
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/practice_timeline.sh $<TARGET_FILE:etude>
          $<TARGET_FILE:click_vs_klick_onsets> ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.practice_timeline PROPERTIES LABELS integration TIMEOUT 120
  ENVIRONMENT OMP_NUM_THREADS=1)
