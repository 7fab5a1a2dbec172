# A drone under a click voice's tempo map: its note changes at the map's bars and labels, it falls
# silent where a change says "off", and it ends with the map (an offline render of a few seconds).
add_executable(drone_pitch ${CMAKE_CURRENT_LIST_DIR}/drone_pitch.c)
target_link_libraries(drone_pitch PRIVATE PkgConfig::SNDFILE m)
add_test(NAME integration.drone_map
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/drone_map.sh $<TARGET_FILE:etude> $<TARGET_FILE:drone_pitch>
          $<TARGET_FILE:click_vs_klick_onsets>)
set_tests_properties(integration.drone_map PROPERTIES LABELS integration TIMEOUT 120)
# The practice flags (--count-in, --loop/--loops, --start, --tempo-scale) over a drone that follows a
# click voice's tempo map: it changes note at the bars of the preset's map each rewritten bar plays.
add_test(NAME integration.drone_flags
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/drone_flags.sh $<TARGET_FILE:etude> $<TARGET_FILE:drone_pitch>)
set_tests_properties(integration.drone_flags PROPERTIES LABELS integration TIMEOUT 120)
