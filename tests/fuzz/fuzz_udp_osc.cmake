# fuzz_udp_osc: libFuzzer on the OSC control (cli/cli_osc.c: argument types and counts, locate by
# seconds, bar and beat or label, tap) over a player on the offline driver, and on the player's
# place parser (etude_player_locate_mark()); etude_fuzz_target() is in fuzz_preset.cmake, which
# sorts before this file (hence not "fuzz_osc"). Runs 10 s
# in CI (the suite's time budget); longer: build/tests/fuzz_udp_osc -max_total_time=600 tests/fuzz/corpus_udp_osc.
if(COMMAND etude_fuzz_target AND TARGET etude-app)
  set(_osc_libs $<TARGET_FILE:etude-app>)
  if(TARGET etude-sync)
    list(APPEND _osc_libs $<TARGET_FILE:etude-sync>)
  endif()
  etude_fuzz_target(fuzz_udp_osc
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus_udp_osc
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_udp_osc.c ${PROJECT_SOURCE_DIR}/cli/cli_osc.c
            ${PROJECT_SOURCE_DIR}/app/etude_player.c
    LIBS -I${PROJECT_SOURCE_DIR}/app -I${PROJECT_SOURCE_DIR}/cli -I${PROJECT_SOURCE_DIR}/plugins ${_osc_libs}
         $<TARGET_FILE:etude-voices> $<TARGET_FILE:etude-engine> ${FLUIDSYNTH_LDFLAGS} ${JACK_LDFLAGS}
         ${SNDFILE_LDFLAGS} ${SAMPLERATE_LDFLAGS} ${LIBLO_LDFLAGS} ${SQLITE_LDFLAGS} ${CURL_LDFLAGS} -ldl -lm -lpthread
    DEPENDS etude-app etude-voices etude-engine)
  set_tests_properties(fuzz.fuzz_udp_osc PROPERTIES ENVIRONMENT ETUDE_FUZZ_SECONDS=10)
endif()
