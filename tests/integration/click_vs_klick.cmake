# The click against klick itself: onsets of `etude render` vs `klick -W` on several maps.
add_executable(click_vs_klick_onsets ${CMAKE_CURRENT_LIST_DIR}/click_vs_klick_onsets.c)
target_link_libraries(click_vs_klick_onsets PRIVATE PkgConfig::SNDFILE m)
add_test(NAME integration.click_vs_klick
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/click_vs_klick.sh $<TARGET_FILE:etude>
          $<TARGET_FILE:click_vs_klick_onsets> ${CMAKE_CURRENT_LIST_DIR}/click_vs_klick_maps)
set_tests_properties(integration.click_vs_klick PROPERTIES LABELS integration TIMEOUT 600)
