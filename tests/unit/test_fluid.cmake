# test_fluid: registered here (not by the automatic rule) to run with OMP_NUM_THREADS=1. Debian's
# FluidSynth loads SoundFont samples with OpenMP, and libgomp is not built with ThreadSanitizer, so
# TSan cannot see its synchronisation and reports races inside libgomp; one OpenMP thread loads the
# same samples without worker threads. The voice itself runs on the engine's threads as always.
add_executable(test_fluid ${CMAKE_CURRENT_LIST_DIR}/test_fluid.c)
target_link_libraries(test_fluid PRIVATE ${ETUDE_TEST_LIBS})
add_test(NAME unit.test_fluid COMMAND test_fluid)
set_tests_properties(unit.test_fluid PROPERTIES LABELS unit TIMEOUT 300 ENVIRONMENT OMP_NUM_THREADS=1)
