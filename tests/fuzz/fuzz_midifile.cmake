# fuzz_midifile: libFuzzer on the Standard MIDI File parser (voices/etude_midifile.c).
# Built with clang -fsanitize=fuzzer,address,undefined whatever the build's own compiler, so it is
# registered in the plain build only: the ASan and TSan builds would run the very same binary again
# (TSan cannot be combined with the fuzzer's ASan).
# CI runs it for ETUDE_FUZZ_SECONDS (default 20); a longer run, for example an hour:
#   build/tests/fuzz_midifile -max_total_time=3600 /tmp/mf-corpus tests/fuzz/corpus_midifile
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  set(_fz ${CMAKE_CURRENT_BINARY_DIR}/fuzz_midifile)
  add_custom_command(OUTPUT ${_fz}
    COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
            -I${CMAKE_SOURCE_DIR}/engine -I${CMAKE_SOURCE_DIR}/voices ${ETUDE_COMMON_INC}
            ${ETUDE_TESTS_DIR}/fuzz/fuzz_midifile.c ${CMAKE_SOURCE_DIR}/voices/etude_midifile.c ${ETUDE_COMMON_SRCS} -lcjson -lsodium -lz -lm -o ${_fz}
    DEPENDS ${ETUDE_TESTS_DIR}/fuzz/fuzz_midifile.c ${CMAKE_SOURCE_DIR}/voices/etude_midifile.c
            ${CMAKE_SOURCE_DIR}/voices/etude_midifile.h
    COMMENT "Building the libFuzzer target fuzz_midifile")
  add_custom_target(fuzz_midifile_bin ALL DEPENDS ${_fz})
  add_test(NAME fuzz.midifile
    COMMAND sh -c "d=$(mktemp -d /tmp/etude-fuzz-mf-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \"$d\" \"$1\""
            ${_fz} ${ETUDE_TESTS_DIR}/fuzz/corpus_midifile)
  set_tests_properties(fuzz.midifile PROPERTIES LABELS fuzz TIMEOUT 300)
endif()
