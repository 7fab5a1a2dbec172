# fuzz_tempomap: libFuzzer on the tempo-map parser (etude_fuzz_target() is in fuzz_preset.cmake).
if(COMMAND etude_fuzz_target)
  etude_fuzz_target(fuzz_tempomap
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus_tempomap
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_tempomap.c ${PROJECT_SOURCE_DIR}/voices/etude_tempomap.c
    LIBS -lm)
endif()
