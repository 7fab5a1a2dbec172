# etude-syncd integration tests: a real server on loopback per test (free port, own temp dir).
if(TARGET etude-syncd)
  set(_syncd_env "ETUDE_SYNCD=$<TARGET_FILE:etude-syncd>;ETUDE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  foreach(t api sigterm restore load)
    add_test(NAME server.${t} COMMAND node --test-reporter=spec ${CMAKE_CURRENT_LIST_DIR}/server_${t}.test.mjs)
    set_tests_properties(server.${t} PROPERTIES LABELS "integration;server" TIMEOUT 300
      ENVIRONMENT "${_syncd_env}")
  endforeach()
  add_test(NAME server.tls COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_tls.sh $<TARGET_FILE:etude-syncd> ${PROJECT_SOURCE_DIR})
  add_test(NAME server.cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_cli.sh $<TARGET_FILE:etude-syncd>)
  set_tests_properties(server.tls server.cli PROPERTIES LABELS "integration;server" TIMEOUT 300)
  # The dashboard's side of the server: page, headers, cookie sessions, CSRF, throttling, the
  # dashboard's documents, device status, admin metrics (server_web_*.sh, curl on loopback).
  add_test(NAME server.web_page COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_web_session.sh page)
  add_test(NAME server.web_session COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_web_session.sh basics)
  add_test(NAME server.web_limits COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_web_session.sh limits)
  add_test(NAME server.web_data COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_web_data.sh)
  set_tests_properties(server.web_page server.web_session server.web_limits server.web_data PROPERTIES
    LABELS "integration;server" TIMEOUT 120 ENVIRONMENT "${_syncd_env}")
  # The same tests against PostgreSQL (server.pg.*): tests/support/pg_harness.sh starts a private
  # PostgreSQL per test and sets ETUDE_SYNCD_BACKEND=postgresql, which the scripts read to give each
  # server a database of it. Plain stage only (no-asan;no-tsan) to keep CI within its time: the
  # sanitizer stages run the same store code over SQLite. server.pg.concurrency: two processes on
  # one database; server.pg.fanout: event streams, login throttle and /healthz across two processes.
  set(_pg_run sh ${ETUDE_TESTS_DIR}/support/pg_harness.sh run)
  foreach(t api sigterm restore load concurrency fanout)
    if(t STREQUAL "concurrency" OR t STREQUAL "fanout")
      set(_f ${CMAKE_CURRENT_LIST_DIR}/server_pg_${t}.test.mjs)
    else()
      set(_f ${CMAKE_CURRENT_LIST_DIR}/server_${t}.test.mjs)
    endif()
    add_test(NAME server.pg.${t} COMMAND ${_pg_run} node --test-reporter=spec ${_f})
  endforeach()
  add_test(NAME server.pg.tls COMMAND ${_pg_run} sh ${CMAKE_CURRENT_LIST_DIR}/server_tls.sh $<TARGET_FILE:etude-syncd> ${PROJECT_SOURCE_DIR})
  add_test(NAME server.pg.cli COMMAND ${_pg_run} sh ${CMAKE_CURRENT_LIST_DIR}/server_cli.sh $<TARGET_FILE:etude-syncd>)
  add_test(NAME server.pg.web_page COMMAND ${_pg_run} sh ${CMAKE_CURRENT_LIST_DIR}/server_web_session.sh page)
  add_test(NAME server.pg.web_session COMMAND ${_pg_run} sh ${CMAKE_CURRENT_LIST_DIR}/server_web_session.sh basics)
  add_test(NAME server.pg.web_limits COMMAND ${_pg_run} sh ${CMAKE_CURRENT_LIST_DIR}/server_web_session.sh limits)
  add_test(NAME server.pg.web_data COMMAND ${_pg_run} sh ${CMAKE_CURRENT_LIST_DIR}/server_web_data.sh)
  # db copy: a SQLite server built by real traffic (the etude CLI as devices) moved into PostgreSQL,
  # verified by its own queries, refusals leaving the target as it was, devices continuing on the copy.
  add_test(NAME server.pg.db_copy COMMAND ${_pg_run} bash ${CMAKE_CURRENT_LIST_DIR}/server_db_copy.sh)
  set_tests_properties(server.pg.db_copy PROPERTIES LABELS "integration;server;pg;no-asan;no-tsan" TIMEOUT 300
    ENVIRONMENT "${_syncd_env};ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR}")
  set_tests_properties(server.pg.api server.pg.sigterm server.pg.restore server.pg.load server.pg.concurrency
    server.pg.fanout server.pg.tls server.pg.cli server.pg.web_page server.pg.web_session server.pg.web_limits server.pg.web_data
    PROPERTIES LABELS "integration;server;pg;no-asan;no-tsan" TIMEOUT 300 ENVIRONMENT "${_syncd_env}")
  # graphql-js (npm ci from the lock file) validates every shipped document against sync.graphql.
  add_test(NAME server.graphql_documents COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/server_graphql_validate.sh
    ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/server-graphql-validate)
  set_tests_properties(server.graphql_documents PROPERTIES LABELS "integration;server" TIMEOUT 300)
endif()
