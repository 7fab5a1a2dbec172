# fuzz.sdl: libFuzzer over the schema reference generator's reader of GraphQL SDL and operation
# documents (sync/schemadoc/sdl.c); see the top of fuzz_sdl.c. Built with clang
# -fsanitize=fuzzer,address,undefined whatever the build's own compiler, so it is registered in the
# plain build only. CI runs it for ETUDE_FUZZ_SECONDS (default 20); a longer run:
#   build/tests/fuzz_sdl -max_total_time=3600 /tmp/sdl-corpus tests/fuzz/corpus_sdl
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  set(_fsdl ${CMAKE_CURRENT_BINARY_DIR}/fuzz_sdl)
  set(_fsdl_src ${ETUDE_TESTS_DIR}/fuzz/fuzz_sdl.c ${PROJECT_SOURCE_DIR}/sync/schemadoc/sdl.c
    ${PROJECT_SOURCE_DIR}/common/etude_buf.c ${PROJECT_SOURCE_DIR}/common/etude_error.c)
  add_custom_command(OUTPUT ${_fsdl}
    COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=undefined -DETUDE_SCHEMA=\"${PROJECT_SOURCE_DIR}/sync/schema/sync.graphql\"
            -I${PROJECT_SOURCE_DIR}/sync/schemadoc -I${PROJECT_SOURCE_DIR}/common ${_fsdl_src} -o ${_fsdl}
    DEPENDS ${_fsdl_src} ${PROJECT_SOURCE_DIR}/sync/schemadoc/sdl.h
    COMMENT "Building the libFuzzer target fuzz_sdl" VERBATIM)
  add_custom_target(fuzz_sdl_bin ALL DEPENDS ${_fsdl})
  add_test(NAME fuzz.sdl
    COMMAND sh -c "d=$(mktemp -d /tmp/etude-fuzz-sdl-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -max_len=8192 -print_final_stats=1 \"$d\" \"$1\""
            ${_fsdl} ${ETUDE_TESTS_DIR}/fuzz/corpus_sdl)
  set_tests_properties(fuzz.sdl PROPERTIES LABELS fuzz TIMEOUT 300)
endif()
