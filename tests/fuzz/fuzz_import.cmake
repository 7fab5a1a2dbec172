# fuzz.import: libFuzzer over `etude import` (etude_store_import: NDJSON parsing, validation, merge,
# one transaction). Built with clang -fsanitize=fuzzer,address,undefined whatever the build's own
# compiler, so it is registered in the plain build only: the ASan build would run the very same
# binary again, and TSan cannot be combined with the fuzzer's ASan.
# CI runs it for ETUDE_FUZZ_SECONDS (default 20); a longer run, for example an hour:
#   build/tests/fuzz_import -max_total_time=3600 /tmp/imp-corpus tests/fuzz/fuzz_import_corpus
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  execute_process(COMMAND pkg-config --cflags --libs sqlite3 libcjson libsodium libcurl zlib
    OUTPUT_VARIABLE _fi_pc OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(_fi_pc UNIX_COMMAND "${_fi_pc}")
  set(_fi_srcs ${ETUDE_SYNC_SRCS} ${ETUDE_COMMON_SRCS})
  set(_fi ${CMAKE_CURRENT_BINARY_DIR}/fuzz_import)
  add_custom_command(OUTPUT ${_fi}
    COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined
            -I${PROJECT_SOURCE_DIR}/sync -I${PROJECT_SOURCE_DIR}/plugins ${ETUDE_COMMON_INC} ${ETUDE_TESTS_DIR}/fuzz/fuzz_import.c ${_fi_srcs} ${_fi_pc} -lpthread -lm
            -o ${_fi}
    DEPENDS ${ETUDE_TESTS_DIR}/fuzz/fuzz_import.c ${_fi_srcs} ${PROJECT_SOURCE_DIR}/sync/etude_store.h
    COMMENT "Building the libFuzzer target fuzz_import")
  add_custom_target(fuzz_import_bin ALL DEPENDS ${_fi})
  add_test(NAME fuzz.import
    COMMAND sh -c "d=$(mktemp -d /tmp/etude-fuzz-imp-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \"$d\" \"$1\""
            ${_fi} ${ETUDE_TESTS_DIR}/fuzz/fuzz_import_corpus)
  set_tests_properties(fuzz.import PROPERTIES LABELS fuzz TIMEOUT 300)
endif()
