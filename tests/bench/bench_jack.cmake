# bench_jack: etude play and klick side by side under jackd (dummy driver, 64 frames); see the script.
add_test(NAME bench.jack COMMAND sh ${ETUDE_TESTS_DIR}/bench/bench_jack.sh)
set_tests_properties(bench.jack PROPERTIES LABELS "bench;jack" TIMEOUT 120
  ENVIRONMENT "ETUDE_BIN=${ETUDE_BIN_DIR}/etude;ETUDE_TEST_BIN=${ETUDE_BIN_DIR}/test;ETUDE_TESTS_DIR=${ETUDE_TESTS_DIR}")
