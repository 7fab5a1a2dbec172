# fuzz.server: libFuzzer over etude-syncd's request handling (clang -fsanitize=fuzzer,address).
# Built in the plain build only (the fuzzer carries its own ASan). Run length: ETUDE_FUZZ_SECONDS (default 30).
find_program(ETUDE_CLANG clang)
if(TARGET etude-syncd-core AND ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  execute_process(COMMAND pkg-config --cflags --libs sqlite3 libpq libcjson libsodium zlib
    OUTPUT_VARIABLE _fz_pc OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _fz_rc)
  separate_arguments(_fz_pc UNIX_COMMAND "${_fz_pc}")
  get_target_property(_fz_srcs etude-syncd-core SOURCES)
  list(APPEND _fz_srcs ${ETUDE_COMMON_SRCS})
  set(_fz_out ${CMAKE_CURRENT_BINARY_DIR}/fuzz_server)
  add_custom_command(OUTPUT ${_fz_out}
    COMMAND ${ETUDE_CLANG} -std=c17 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined
            -I${PROJECT_SOURCE_DIR}/server ${ETUDE_COMMON_INC} ${CMAKE_CURRENT_LIST_DIR}/fuzz_server.c ${_fz_srcs} ${_fz_pc} -lpthread -lm
            -o ${_fz_out}
    DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_server.c ${_fz_srcs} ${PROJECT_SOURCE_DIR}/server/syncd.h
    COMMENT "Building fuzz_server with clang libFuzzer")
  add_custom_target(fuzz_server ALL DEPENDS ${_fz_out})
  add_dependencies(fuzz_server etude-syncd-core)
  add_test(NAME fuzz.server COMMAND sh -c
    "rm -rf corpus-server && mkdir -p corpus-server artifacts-server && exec ${_fz_out} -max_total_time=\${ETUDE_FUZZ_SECONDS:-30} -rss_limit_mb=2048 -max_len=8192 -timeout=20 -artifact_prefix=artifacts-server/ -print_final_stats=1 corpus-server ${CMAKE_CURRENT_LIST_DIR}/fuzz_server_corpus"
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(fuzz.server PROPERTIES LABELS "fuzz;server" TIMEOUT 300)
endif()
