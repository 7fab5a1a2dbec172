# Material the shipped presets use, generated at build time (never downloaded) into presets/assets/
# next to this file, so presets work from the source tree as from an install:
#   chorale.mid                 written by mkchorale (mkchorale.c): four named tracks, 8 bars
#   kick.wav snare.wav hat.wav  made with sox at 44100 Hz (the engine resamples them)
# Included from tests/integration/instruments.cmake.
set(ETUDE_ASSETS_DIR ${CMAKE_SOURCE_DIR}/presets/assets)
add_executable(mkchorale ${ETUDE_ASSETS_DIR}/mkchorale.c)
set_target_properties(mkchorale PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
find_program(ETUDE_SOX sox REQUIRED)
add_custom_command(OUTPUT ${ETUDE_ASSETS_DIR}/chorale.mid
  COMMAND mkchorale ${ETUDE_ASSETS_DIR}/chorale.mid
  DEPENDS mkchorale COMMENT "Writing presets/assets/chorale.mid")
# sox writes the file in place; a .tmp name and a rename keep a failed run from leaving half a file.
set(_snd_kick synth 0.30 sine 160:45 fade q 0.002 0.30 0.22 gain -2)
set(_snd_snare synth 0.20 noise lowpass 5000 highpass 180 fade q 0.001 0.20 0.17 gain -4)
set(_snd_hat synth 0.06 noise gain -12 highpass 7000 fade q 0.001 0.06 0.05)
set(ETUDE_ASSET_FILES ${ETUDE_ASSETS_DIR}/chorale.mid)
foreach(s kick snare hat)
  add_custom_command(OUTPUT ${ETUDE_ASSETS_DIR}/${s}.wav
    COMMAND ${ETUDE_SOX} -q -R -n -r 44100 -c 1 -b 16 -t wav ${ETUDE_ASSETS_DIR}/${s}.wav.tmp ${_snd_${s}}
    COMMAND ${CMAKE_COMMAND} -E rename ${ETUDE_ASSETS_DIR}/${s}.wav.tmp ${ETUDE_ASSETS_DIR}/${s}.wav
    COMMENT "Making presets/assets/${s}.wav with sox")
  list(APPEND ETUDE_ASSET_FILES ${ETUDE_ASSETS_DIR}/${s}.wav)
endforeach()
add_custom_target(etude-assets ALL DEPENDS ${ETUDE_ASSET_FILES})
install(FILES ${ETUDE_ASSET_FILES} DESTINATION share/etude/presets/assets)
