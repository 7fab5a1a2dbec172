# The long-run memory test: a simulated 24-hour session offline (48 kHz, 4096-frame periods).
# The sanitizer builds run the same work far slower, so they simulate fewer hours
# (ETUDE_LONGRUN_HOURS); the checks (flat heap/RSS in the plain build, pool and bus counts back to
# baseline everywhere) do not depend on the length.
add_executable(longrun ${ETUDE_TESTS_DIR}/integration/longrun.c)
target_link_libraries(longrun PRIVATE etude-engine Threads::Threads m)
if(ETUDE_SANITIZE STREQUAL "address")
  set(longrun_hours 2)
elseif(ETUDE_SANITIZE STREQUAL "thread")
  set(longrun_hours 0.5)
else()
  set(longrun_hours 24)
endif()
add_test(NAME integration.longrun COMMAND longrun)
set_tests_properties(integration.longrun PROPERTIES LABELS "integration;longrun" TIMEOUT 900
  ENVIRONMENT "ETUDE_LONGRUN_HOURS=${longrun_hours}")
