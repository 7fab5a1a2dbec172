# etude report: the offline HTML report over a store with known sessions, checked with the charts'
# model under node (report.sh); and the dashboard's assets (report_web.sh). No jackd, no server:
# they run under every build.
if(TARGET etude AND TARGET etude-sync)
  add_test(NAME integration.report COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/report.sh $<TARGET_FILE:etude>
    ${PROJECT_SOURCE_DIR}/web/assets)
  set_tests_properties(integration.report PROPERTIES LABELS "integration;store;web" TIMEOUT 60)
endif()
add_test(NAME integration.report_web COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/report_web.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.report_web PROPERTIES LABELS "integration;web" TIMEOUT 30)
if(TARGET etude AND TARGET etude-sync)
  add_test(NAME integration.report_goals COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/report_goals.sh $<TARGET_FILE:etude>
    ${PROJECT_SOURCE_DIR}/web/assets)
  set_tests_properties(integration.report_goals PROPERTIES LABELS "integration;store;web" TIMEOUT 60)
endif()
