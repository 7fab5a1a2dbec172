# A MIDI file named by its title (sequence name) in etude info, the session a render records and
# the log. Offline, a few seconds. OMP_NUM_THREADS=1: see tests/unit/test_fluid.cmake.
if(TARGET etude AND TARGET etude-sync)
  add_test(NAME integration.midi_title COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/midi_title.sh $<TARGET_FILE:etude>)
  set_tests_properties(integration.midi_title PROPERTIES LABELS "integration;store" TIMEOUT 60
    ENVIRONMENT OMP_NUM_THREADS=1)
endif()
