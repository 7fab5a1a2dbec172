# The practice flags of etude render (--tempo-scale, --mute, --solo, --gain) on the rendered audio.
add_test(NAME integration.practice_flags
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/practice_flags.sh $<TARGET_FILE:etude> ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.practice_flags PROPERTIES LABELS integration TIMEOUT 300
  ENVIRONMENT OMP_NUM_THREADS=1)
