# fuzz_preset_instruments: libFuzzer on the preset loader with the instrument kinds compiled in
# (instrumented): practice, midi, drone, sample, the MIDI parser and the practice layout. Registered
# in the plain build only, like the other fuzz targets (the binary carries its own ASan+UBSan).
# Needs the generated assets (target etude-assets) for its seeds. A longer run:
#   build/tests/fuzz_preset_instruments -max_total_time=3600 /tmp/pi-corpus tests/fuzz/corpus_preset_instruments
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "" AND TARGET etude-assets)
  set(_v ${PROJECT_SOURCE_DIR}/voices)
  set(_fpi ${CMAKE_CURRENT_BINARY_DIR}/fuzz_preset_instruments)
  add_custom_command(OUTPUT ${_fpi}
    COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=undefined -DETUDE_FUZZ_PRESET_PATH="${PROJECT_SOURCE_DIR}/presets/fuzz.json"
            -I${PROJECT_SOURCE_DIR}/engine -I${_v} ${ETUDE_COMMON_INC} ${FLUIDSYNTH_CFLAGS}
            ${ETUDE_TESTS_DIR}/fuzz/fuzz_preset_instruments.c ${_v}/etude_preset.c ${_v}/etude_practice.c
            ${_v}/etude_midifile.c ${_v}/etude_fluid.c ${_v}/etude_drone.c ${_v}/etude_sample.c
            ${_v}/etude_practice_preset.c ${_v}/etude_midi_preset.c ${_v}/etude_drone_preset.c
            ${_v}/etude_sample_preset.c
            $<TARGET_FILE:etude-voices> $<TARGET_FILE:etude-engine> $<TARGET_FILE:etude-common> ${FLUIDSYNTH_LDFLAGS} ${JACK_LDFLAGS}
            ${SNDFILE_LDFLAGS} ${SAMPLERATE_LDFLAGS} ${CJSON_LDFLAGS} -lm -lpthread -o ${_fpi}
    DEPENDS ${ETUDE_TESTS_DIR}/fuzz/fuzz_preset_instruments.c etude-voices etude-engine
            ${_v}/etude_preset.c ${_v}/etude_practice.c ${_v}/etude_midifile.c ${_v}/etude_fluid.c
            ${_v}/etude_drone.c ${_v}/etude_sample.c ${_v}/etude_practice_preset.c ${_v}/etude_midi_preset.c
            ${_v}/etude_drone_preset.c ${_v}/etude_sample_preset.c
    COMMENT "Building the libFuzzer target fuzz_preset_instruments" VERBATIM)
  add_custom_target(fuzz_preset_instruments_bin ALL DEPENDS ${_fpi} etude-assets)
  add_test(NAME fuzz.preset_instruments
    COMMAND sh -c "d=$(mktemp -d /tmp/etude-fuzz-pi-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 -artifact_prefix=\"$2\" \"$d\" \"$1\""
            ${_fpi} ${ETUDE_TESTS_DIR}/fuzz/corpus_preset_instruments ${CMAKE_CURRENT_BINARY_DIR}/fuzz_preset_instruments-)
  set_tests_properties(fuzz.preset_instruments PROPERTIES LABELS fuzz TIMEOUT 300)
endif()
