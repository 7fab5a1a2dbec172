# Material given directly: etude info / render FILE.mid against fluidsynth -F (abcmidi's examples).
add_test(NAME integration.material_midi
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/material_midi.sh $<TARGET_FILE:etude> ${PROJECT_SOURCE_DIR})
# OMP_NUM_THREADS=1: see tests/unit/test_fluid.cmake (FluidSynth's OpenMP sample loading under TSan).
set_tests_properties(integration.material_midi PROPERTIES LABELS integration TIMEOUT 300
  ENVIRONMENT OMP_NUM_THREADS=1)
