# The local store, the session recorder and its plugins through the real `etude` program:
# store_cli (log, goal, export, import), session_render (real renders recorded field by field),
# crash_kill (50 kill -9 runs at random moments, recovery, integrity_check).
if(TARGET etude AND TARGET etude-sync)
  set(store_env "ETUDE_SANITIZE=${ETUDE_SANITIZE}")
  add_test(NAME integration.store_cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/store_cli.sh $<TARGET_FILE:etude>)
  add_test(NAME integration.session_render
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/session_render.sh $<TARGET_FILE:etude> ${PROJECT_SOURCE_DIR}/presets)
  add_test(NAME integration.crash_kill COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/crash_kill.sh $<TARGET_FILE:etude>)
  set_tests_properties(integration.store_cli integration.session_render integration.crash_kill PROPERTIES
    LABELS "integration;store" TIMEOUT 300 ENVIRONMENT "${store_env}")
endif()
