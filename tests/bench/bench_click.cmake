# bench_click: a one-hour click track rendered by `etude render` and by `klick -W` (label bench).
add_test(NAME bench.bench_click
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/bench_click.sh $<TARGET_FILE:etude>
          ${ETUDE_TESTS_DIR}/integration/click_vs_klick_maps/hour.txt)
set_tests_properties(bench.bench_click PROPERTIES LABELS bench TIMEOUT 600)
