# The installed package works for an outside project: install to a scratch prefix, build
# examples/mir_app with find_package(musefm), run it on a real recording.
add_test(NAME install_and_build_example
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR}
    -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_test
    -DGENERATOR=${CMAKE_GENERATOR}
    -DSANITIZE=${MUSEFM_SANITIZE}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/install_example.cmake)
set_tests_properties(install_and_build_example PROPERTIES
  TIMEOUT 600 FIXTURES_REQUIRED rendered_audio
  PASS_REGULAR_EXPRESSION
  "strongest pitch 4[34][0-9]\\.[0-9] Hz \\(A4\\).*nearest to [^\n]*piano_a4.wav:\n1\\. [^\n]*piano_a4\\.wav \\(cosine 1\\.000\\)\n2\\. ")
