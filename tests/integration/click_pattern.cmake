# A beat pattern on the click and on the practice click (6/8 counted in two), rendered offline and
# compared with klick -W on the same map and pattern.
add_test(NAME integration.click_pattern
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/click_pattern.sh $<TARGET_FILE:etude> $<TARGET_FILE:click_vs_klick_onsets>)
set_tests_properties(integration.click_pattern PROPERTIES LABELS integration TIMEOUT 120)
