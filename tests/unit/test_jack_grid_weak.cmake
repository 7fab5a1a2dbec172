# test_jack_grid_weak: test_jack_grid built with its own copy of engine/etude_jack.c compiled with
# fd82c7f's release/acquire grid hand-over (ETUDE_JACK_GRID_WEAK_ORDER_FOR_TEST), always under
# AddressSanitizer, which reports the use-after-free that ordering allows. It shows that the litmus
# case of unit.test_jack_grid catches the old ordering, but only in about 3 runs of 4 (docs/jack.md),
# too few for an expected-failure test, so it is built only on request and not registered with
# ctest: cmake --build build --target test_jack_grid_weak && build/tests/test_jack_grid_weak
# Not in the TSan build (ASan and TSan do not mix).
if(NOT ETUDE_SANITIZE STREQUAL "thread")
  add_executable(test_jack_grid_weak EXCLUDE_FROM_ALL ${ETUDE_TESTS_DIR}/unit/test_jack_grid.c
                 ${PROJECT_SOURCE_DIR}/engine/etude_jack.c)
  target_compile_definitions(test_jack_grid_weak PRIVATE ETUDE_JACK_GRID_WEAK_ORDER_FOR_TEST
                             ETUDE_JACK_GRID_WEAK_ORDER_IS_A_TEST_BINARY)
  if(NOT ETUDE_SANITIZE STREQUAL "address")
    target_compile_options(test_jack_grid_weak PRIVATE -fsanitize=address -fno-omit-frame-pointer)
    target_link_options(test_jack_grid_weak PRIVATE -fsanitize=address)
  endif()
  target_link_libraries(test_jack_grid_weak PRIVATE ${ETUDE_TEST_LIBS})
endif()
