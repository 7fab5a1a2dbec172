# browser.dashboard: the dashboard served by etude-syncd and `etude report`'s file in a real headless
# Chromium (Debian's chromium, driven by playwright-core, which scripts/install-deps puts in
# tests/browser/node_modules with npm ci). Real etude-syncd on loopback, real devices, a private
# jackd for one live session. Screenshots go to the build tree's screenshots/ folder.
# Plain build only (no-asan, no-tsan): Chromium and node are not built with the sanitizers, and the
# test drives the same server and CLI that the sanitizer builds test elsewhere.
if(TARGET etude AND TARGET etude-syncd AND EXISTS ${ETUDE_TESTS_DIR}/support/jack_harness.sh)
  add_test(NAME browser.dashboard COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/dashboard.sh)
  set_tests_properties(browser.dashboard PROPERTIES LABELS "browser;integration;no-asan;no-tsan" TIMEOUT 120
    ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_SYNCD=$<TARGET_FILE:etude-syncd>;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_SCREENSHOT_DIR=${CMAKE_BINARY_DIR}/screenshots")
endif()
# browser.dashboard_firefox: the same checks in Debian's firefox-esr, driven over WebDriver BiDi
# (playwright-core's moz-firefox channel; nothing downloaded). No screenshots (Chromium's run
# makes them).
if(TARGET etude AND TARGET etude-syncd AND EXISTS ${ETUDE_TESTS_DIR}/support/jack_harness.sh)
  add_test(NAME browser.dashboard_firefox COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/dashboard.sh)
  set_tests_properties(browser.dashboard_firefox PROPERTIES LABELS "browser;integration;no-asan;no-tsan" TIMEOUT 120
    ENVIRONMENT "ETUDE_TEST_BROWSER=firefox;ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_SYNCD=$<TARGET_FILE:etude-syncd>;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_SCREENSHOT_DIR=${CMAKE_BINARY_DIR}/screenshots")
endif()
