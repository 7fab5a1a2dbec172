# fuzz.canon: libFuzzer over libetude-common (canonical JSON, printer, entity validators, duplicate
# rule, time, UTF-8, gunzip); see the top of fuzz_canon.c. Built with clang
# -fsanitize=fuzzer,address,undefined whatever the build's own compiler, so it is registered in the
# plain build only. CI runs it for ETUDE_FUZZ_SECONDS (default 20); a longer run:
#   build/tests/fuzz_canon -max_total_time=3600 /tmp/canon-corpus tests/fuzz/corpus_canon
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  set(_fc ${CMAKE_CURRENT_BINARY_DIR}/fuzz_canon)
  add_custom_command(OUTPUT ${_fc}
    COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=undefined ${ETUDE_COMMON_INC} ${ETUDE_TESTS_DIR}/fuzz/fuzz_canon.c ${ETUDE_COMMON_SRCS}
            -lcjson -lsodium -lz -lm -o ${_fc}
    DEPENDS ${ETUDE_TESTS_DIR}/fuzz/fuzz_canon.c ${ETUDE_COMMON_SRCS}
    COMMENT "Building the libFuzzer target fuzz_canon")
  add_custom_target(fuzz_canon_bin ALL DEPENDS ${_fc})
  add_test(NAME fuzz.canon
    COMMAND sh -c "d=$(mktemp -d /tmp/etude-fuzz-canon-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \"$d\" \"$1\""
            ${_fc} ${ETUDE_TESTS_DIR}/fuzz/corpus_canon)
  set_tests_properties(fuzz.canon PROPERTIES LABELS fuzz TIMEOUT 300)
endif()
