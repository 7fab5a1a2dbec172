# Live tests of `etude play` against a private jackd (dummy driver) each; see tests/support/jack_harness.sh.
# Labels: integration, jack. They run under ASan too; under TSan they are labelled no-tsan because
# libjack is not instrumented (it synchronises its threads through futexes and shared memory TSan
# cannot see) and TSan-built clients were seen to fail activation or hang in deactivation under
# jackd; see docs/jack.md.
add_executable(jack_tclient ${ETUDE_TESTS_DIR}/support/jack_tclient.c)
target_link_libraries(jack_tclient PRIVATE PkgConfig::JACK PkgConfig::SNDFILE Threads::Threads m)
add_executable(jack_onsets ${ETUDE_TESTS_DIR}/support/jack_onsets.c)
target_link_libraries(jack_onsets PRIVATE etude-voices PkgConfig::SNDFILE m)
add_executable(jack_oscq ${ETUDE_TESTS_DIR}/support/jack_oscq.c)
target_link_libraries(jack_oscq PRIVATE PkgConfig::LIBLO)
set_target_properties(jack_tclient jack_onsets jack_oscq PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${ETUDE_BIN_DIR}/test)

file(GLOB jack_scripts CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/jack_*.sh)
foreach(script ${jack_scripts})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME integration.${name} COMMAND sh ${script})
  set_tests_properties(integration.${name} PROPERTIES
    LABELS "integration;jack"
    TIMEOUT 180
    ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR};ETUDE_PRESETS=${CMAKE_SOURCE_DIR}/presets;ETUDE_RT_LIB=${CMAKE_BINARY_DIR}/lib/libetude_rt_interpose.so")
  if(name STREQUAL "jack_rt_safety")
    # An LD_PRELOAD malloc cannot coexist with the sanitizers' allocator (see rt_safety.cmake).
    set_tests_properties(integration.${name} PROPERTIES LABELS "integration;jack;no-asan;no-tsan")
  elseif(ETUDE_SANITIZE STREQUAL "thread")
    set_tests_properties(integration.${name} PROPERTIES LABELS "integration;jack;no-tsan")
  endif()
endforeach()
