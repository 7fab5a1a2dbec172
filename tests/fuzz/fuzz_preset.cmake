# fuzz_preset and fuzz_tempomap: libFuzzer on the preset loader and the tempo-map parser.
# libFuzzer needs clang: each target is compiled by clang directly (whatever the build's compiler),
# with ASan+UBSan, so it is registered in the plain build only (the sanitizer builds would run the
# same binary again). CI runs each for $ETUDE_FUZZ_SECONDS (default 20) from its seed corpus; longer
# runs: docs/click.md. This file, sorted before fuzz_tempomap.cmake, defines etude_fuzz_target().
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  # etude_fuzz_target(NAME CORPUS DIR SOURCES src... LIBS lib... [DEPENDS target...]): build NAME,
  # register fuzz.NAME.
  function(etude_fuzz_target name)
    cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS;DEPENDS" ${ARGN})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${name})
    add_custom_command(OUTPUT ${out}
      COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
              -fno-sanitize-recover=undefined -I${PROJECT_SOURCE_DIR}/engine -I${PROJECT_SOURCE_DIR}/voices ${ETUDE_COMMON_INC}
              ${F_SOURCES} ${F_LIBS} $<TARGET_FILE:etude-common> -lcjson -lsodium -lz -lm -o ${out}
      DEPENDS ${F_SOURCES} ${F_DEPENDS} COMMENT "Building the libFuzzer target ${name}" VERBATIM)
    add_custom_target(${name}_bin ALL DEPENDS ${out})
    # New inputs go to a temporary corpus; a crashing input is kept as ${name}-crash-* in the build tree.
    add_test(NAME fuzz.${name}
      COMMAND sh -c "d=$(mktemp -d /tmp/etude-${name}-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix=\"$2\" \"$d\" \"$1\""
              ${out} ${F_CORPUS} ${CMAKE_CURRENT_BINARY_DIR}/${name}-)
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  endfunction()

  # The loader, every voice kind's preset parser (etude_*_preset.c) and the tempo map are compiled
  # (and instrumented) here; the kinds' DSP and the engine come from the project's libraries.
  # fuzz_preset_instruments covers the instrument kinds again with their material (seeds naming
  # the generated MIDI files and samples).
  etude_fuzz_target(fuzz_preset
    CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus_preset
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_preset.c
            ${PROJECT_SOURCE_DIR}/voices/etude_preset.c ${PROJECT_SOURCE_DIR}/voices/etude_click_preset.c
            ${PROJECT_SOURCE_DIR}/voices/etude_practice_preset.c ${PROJECT_SOURCE_DIR}/voices/etude_midi_preset.c
            ${PROJECT_SOURCE_DIR}/voices/etude_drone_preset.c ${PROJECT_SOURCE_DIR}/voices/etude_sample_preset.c
            ${PROJECT_SOURCE_DIR}/voices/etude_click.c ${PROJECT_SOURCE_DIR}/voices/etude_tempomap.c
    LIBS $<TARGET_FILE:etude-voices> $<TARGET_FILE:etude-engine> ${FLUIDSYNTH_LDFLAGS} ${JACK_LDFLAGS}
         ${SNDFILE_LDFLAGS} ${SAMPLERATE_LDFLAGS} ${CJSON_LDFLAGS} -lm -lpthread
    DEPENDS etude-voices etude-engine)
endif()
