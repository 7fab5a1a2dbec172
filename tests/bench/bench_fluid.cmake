# bench_fluid (label bench): FluidSynth through `etude render` against `fluidsynth -F`, same
# SoundFont and rate, and the FluidSynth voices etude sustains at a 64-frame period. The test runs a
# 2-minute file to keep CI short (ETUDE_BENCH_FLUID_MINUTES overrides it; it prints which); the full
# benchmark is:  build/tests/bench_fluid build/bin/etude build/bin/mkchorale 10
add_executable(bench_fluid ${CMAKE_CURRENT_LIST_DIR}/bench_fluid.c)
target_link_libraries(bench_fluid PRIVATE ${ETUDE_TEST_LIBS})
add_test(NAME bench.bench_fluid
  COMMAND sh -c "exec \"$0\" \"$1\" \"$2\" \${ETUDE_BENCH_FLUID_MINUTES:-2}"
          $<TARGET_FILE:bench_fluid> $<TARGET_FILE:etude> $<TARGET_FILE:mkchorale>)
set_tests_properties(bench.bench_fluid PROPERTIES LABELS bench TIMEOUT 900)
