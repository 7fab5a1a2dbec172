# bench_events: 10^6 events through etude's event table and through FluidSynth's sequencer, ns/event
# and ratio printed (a benchmark, not a timed test: it fails only if events go missing).
add_executable(bench_events ${ETUDE_TESTS_DIR}/bench/bench_events.c)
target_link_libraries(bench_events PRIVATE etude-engine PkgConfig::FLUIDSYNTH Threads::Threads m)
add_test(NAME bench.events COMMAND bench_events)
set_tests_properties(bench.events PROPERTIES LABELS bench TIMEOUT 600)
