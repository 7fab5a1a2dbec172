# Multi-voice practice playback (issue 4): generated preset material, render tests through
# `etude render`, the shipped presets against presets/preset.schema.json, bad presets.
include(${CMAKE_SOURCE_DIR}/presets/assets/assets.cmake)

add_test(NAME integration.instruments_render
  COMMAND sh ${ETUDE_TESTS_DIR}/integration/instruments_render.sh ${ETUDE_BIN_DIR}/etude ${CMAKE_SOURCE_DIR})
# OMP_NUM_THREADS=1: see tests/unit/test_fluid.cmake (FluidSynth's OpenMP sample loading under TSan).
set_tests_properties(integration.instruments_render PROPERTIES LABELS integration TIMEOUT 300
  ENVIRONMENT OMP_NUM_THREADS=1)

add_test(NAME integration.instruments_bad_presets
  COMMAND sh ${ETUDE_TESTS_DIR}/integration/instruments_bad_presets.sh ${ETUDE_BIN_DIR}/etude ${CMAKE_SOURCE_DIR})
set_tests_properties(integration.instruments_bad_presets PROPERTIES LABELS integration TIMEOUT 300
  ENVIRONMENT OMP_NUM_THREADS=1)

# The schema check runs ajv (npm) under node; it installs ajv once into the build tree.
add_test(NAME integration.instruments_schema
  COMMAND sh ${ETUDE_TESTS_DIR}/integration/instruments_schema.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/node-ajv)
set_tests_properties(integration.instruments_schema PROPERTIES LABELS integration TIMEOUT 300)
