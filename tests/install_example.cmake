# cmake -P script driven by install_tests.cmake.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}"
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
set(app_flags "")
if(SANITIZE)  # a sanitized libmusefm needs the ASan runtime first: build the app the same way
  set(app_flags "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined"
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/mir_app" -B "${WORK_DIR}/app"
  -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}" ${app_flags}
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring examples/mir_app against the installed musefm failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/app" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building examples/mir_app failed")
endif()
execute_process(COMMAND "${WORK_DIR}/app/mir_app" "${BUILD_DIR}/tests/rendered/piano_a4.wav"
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "mir_app failed (${rc})")
endif()
set(rendered "${BUILD_DIR}/tests/rendered")
execute_process(COMMAND "${WORK_DIR}/app/mir_app" --neighbours
  "${SOURCE_DIR}/tests/fixtures/encoders/mert_tiny_postln" "${rendered}/piano_a4.wav"
  "${rendered}/strings_a3.wav" "${rendered}/piano_a4.wav" "${rendered}/cmajor_chord.wav"
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "mir_app --neighbours failed (${rc})")
endif()
# The installed package carries the default model: mir_app finds it beside the installed
# library (share/musefm/models), not in this source tree.
execute_process(COMMAND "${WORK_DIR}/app/mir_app" --neighbours default "${rendered}/piano_a4.wav"
  "${rendered}/strings_a3.wav" "${rendered}/piano_a4.wav"
  RESULT_VARIABLE rc OUTPUT_VARIABLE shipped ERROR_VARIABLE shipped_err)
message("${shipped}${shipped_err}")
if(rc)
  message(FATAL_ERROR "mir_app --neighbours default failed (${rc})")
endif()
string(FIND "${shipped}" "model: ${prefix}/share/musefm/models/musefm-small\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "mir_app did not load the installed default model")
endif()
