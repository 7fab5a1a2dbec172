# test_player: the player of libetude-app through the offline driver (no jackd).
if(TARGET etude-app)
  add_executable(test_player ${ETUDE_TESTS_DIR}/unit/test_player.c)
  target_link_libraries(test_player PRIVATE etude-app ${ETUDE_TEST_LIBS} PkgConfig::CJSON)
  add_test(NAME unit.test_player COMMAND test_player)
  set_tests_properties(unit.test_player PROPERTIES LABELS unit TIMEOUT 120)
endif()
