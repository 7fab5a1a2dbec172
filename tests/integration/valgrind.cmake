# valgrind: renders under the leak checker must lose 0 bytes (definitely and indirectly) and show
# no memory errors. Labelled no-asan;no-tsan: valgrind cannot run sanitizer-instrumented programs.
set(vg_sh ${ETUDE_TESTS_DIR}/integration/valgrind_check.sh)
add_test(NAME valgrind.render COMMAND ${vg_sh} $<TARGET_FILE:rt_safety_render> --seconds 3 -o @TMP@/out.wav)
set_tests_properties(valgrind.render PROPERTIES LABELS "integration;no-asan;no-tsan" TIMEOUT 600)
# The check itself must catch a leak: the same render losing one block on purpose has to fail.
add_test(NAME valgrind.detects_leak COMMAND ${vg_sh} --expect-leak 4,096 $<TARGET_FILE:rt_safety_render>
  --seconds 1 --leak)
set_tests_properties(valgrind.detects_leak PROPERTIES LABELS "integration;no-asan;no-tsan" TIMEOUT 600)
if(EXISTS ${CMAKE_SOURCE_DIR}/cli/cmd_render.c AND EXISTS ${CMAKE_SOURCE_DIR}/presets/speed-trainer.json)
  add_test(NAME valgrind.etude_render COMMAND ${vg_sh} $<TARGET_FILE:etude> render
    ${CMAKE_SOURCE_DIR}/presets/speed-trainer.json -o @TMP@/out.wav --duration 10)
  set_tests_properties(valgrind.etude_render PROPERTIES LABELS "integration;no-asan;no-tsan" TIMEOUT 600)
endif()
