# fuzz_sync_response: libFuzzer on the sync client's handling of server answers (SyncChanges pages
# and UploadBatch results) applied to a real store file; see the top of fuzz_sync_response.c.
# Built with clang -fsanitize=fuzzer,address,undefined whatever the build's own compiler, so it is
# registered in the plain build only (as fuzz_midifile). CI runs it for ETUDE_FUZZ_SECONDS
# (default 20); longer: build/tests/fuzz_sync_response -max_total_time=3600 DIR tests/fuzz/corpus_sync_response
find_program(ETUDE_CLANG clang)
if(ETUDE_CLANG AND ETUDE_SANITIZE STREQUAL "")
  set(_fzs ${CMAKE_CURRENT_BINARY_DIR}/fuzz_sync_response)
  set(_fzs_src ${ETUDE_TESTS_DIR}/fuzz/fuzz_sync_response.c ${ETUDE_SYNC_SRCS} ${ETUDE_COMMON_SRCS})
  add_custom_command(OUTPUT ${_fzs}
    COMMAND ${ETUDE_CLANG} -std=c17 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
            -I${CMAKE_SOURCE_DIR}/sync -I${CMAKE_SOURCE_DIR}/plugins ${ETUDE_COMMON_INC} ${_fzs_src} -lsqlite3 -lcjson -lsodium -lcurl -lz -lm -lpthread -o ${_fzs}
    DEPENDS ${_fzs_src} ${CMAKE_SOURCE_DIR}/sync/etude_syncclient.h ${CMAKE_SOURCE_DIR}/sync/syncclient_int.h
            ${CMAKE_SOURCE_DIR}/sync/etude_store.h
    COMMENT "Building the libFuzzer target fuzz_sync_response")
  add_custom_target(fuzz_sync_response_bin ALL DEPENDS ${_fzs})
  add_test(NAME fuzz.sync_response
    COMMAND sh -c "d=$(mktemp -d /tmp/etude-fuzz-sr-XXXXXX) && trap 'rm -rf \"$d\"' EXIT && \"$0\" -max_total_time=\${ETUDE_FUZZ_SECONDS:-20} -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \"$d\" \"$1\""
            ${_fzs} ${ETUDE_TESTS_DIR}/fuzz/corpus_sync_response)
  set_tests_properties(fuzz.sync_response PROPERTIES LABELS fuzz TIMEOUT 300)
endif()
