# fuzz_timeline: libFuzzer on the practice timeline's flag parsers, bar and label resolution, and the
# rewritten tempo map (etude_fuzz_target() is in fuzz_preset.cmake). Runs 10 s in CI (the suite's
# time budget); longer: ETUDE_FUZZ_SECONDS=600 build/tests/fuzz_timeline tests/fuzz/corpus_timeline.
if(COMMAND etude_fuzz_target)
  etude_fuzz_target(fuzz_timeline
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus_timeline
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_timeline.c ${PROJECT_SOURCE_DIR}/app/etude_timeline.c
            ${PROJECT_SOURCE_DIR}/voices/etude_tempomap.c
    LIBS -I${PROJECT_SOURCE_DIR}/app -lm)
  set_tests_properties(fuzz.fuzz_timeline PROPERTIES ENVIRONMENT ETUDE_FUZZ_SECONDS=10)
endif()
