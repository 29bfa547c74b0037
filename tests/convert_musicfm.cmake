# Tests of tools/musefm_convert/musicfm.py (through tools/convert_checkpoint.py musicfm),
# include()d from tests/CMakeLists.txt; needs MUSEFM_PYTHON (the project venv's python).
#   convert_musicfm_roundtrip   converting fixtures/encoders/musicfm_tiny/source/ reproduces the
#                               committed config.json + model.safetensors exactly (the conversion
#                               itself is the fixture setup test convert_musicfm_tiny)
#   convert_musicfm_<problem>   broken inputs, made at test time by make_broken_checkpoint.py,
#                               fail with exit status 1 and a message naming the key
if(NOT MUSEFM_PYTHON OR NOT EXISTS "${MUSEFM_PYTHON}")
  message(STATUS "MUSEFM_PYTHON not set: MusicFM converter tests skipped")
  return()
endif()

set(_mfm_tools ${PROJECT_SOURCE_DIR}/tools)
set(_mfm_fixture ${CMAKE_CURRENT_LIST_DIR}/fixtures/encoders/musicfm_tiny)
set(_mfm_pt ${_mfm_fixture}/source/pretrained_tiny.pt)
set(_mfm_stats ${_mfm_fixture}/source/stats.json)
set(_mfm_out ${CMAKE_CURRENT_BINARY_DIR}/converted)
set(_mfm_bad ${_mfm_out}/musicfm_broken)
set(_mfm_convert ${MUSEFM_PYTHON} ${_mfm_tools}/convert_checkpoint.py musicfm)

add_test(NAME convert_musicfm_tiny
  COMMAND ${_mfm_convert} ${_mfm_pt} ${_mfm_out}/musicfm_tiny --stats ${_mfm_stats}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(convert_musicfm_tiny PROPERTIES FIXTURES_SETUP musicfm_converted)
add_test(NAME convert_musicfm_roundtrip
  COMMAND ${MUSEFM_PYTHON} ${_mfm_tools}/check_model_dir.py ${_mfm_fixture} ${_mfm_out}/musicfm_tiny
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(convert_musicfm_roundtrip PROPERTIES FIXTURES_REQUIRED musicfm_converted)

# musefm_broken_input(NAME SRC ACTION KEY): a setup test writing ${_mfm_bad}/NAME.{pt,json}.
function(musefm_broken_input name src action key)
  get_filename_component(_ext ${src} LAST_EXT)
  add_test(NAME convert_musicfm_make_${name}
    COMMAND ${MUSEFM_PYTHON} ${_mfm_tools}/make_broken_checkpoint.py
            ${src} ${_mfm_bad}/${name}${_ext} --${action} ${key}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(convert_musicfm_make_${name} PROPERTIES FIXTURES_SETUP musicfm_${name})
endfunction()

# musefm_convert_fails(NAME PT STATS REGEX FIXTURES...): the conversion exits with status 1 and
# its output matches REGEX (run_expect.cmake checks both).
function(musefm_convert_fails name pt stats regex)
  string(REPLACE ";" "|" _cmd "${_mfm_convert};${pt};${_mfm_out}/musicfm_${name};--stats;${stats}")
  add_test(NAME convert_musicfm_${name}
    COMMAND ${CMAKE_COMMAND} "-DCMD=${_cmd}" -DEXPECT_RC=1 "-DEXPECT_REGEX=${regex}"
            -P ${CMAKE_CURRENT_LIST_DIR}/run_expect.cmake
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(convert_musicfm_${name} PROPERTIES FIXTURES_REQUIRED "${ARGN}")
endfunction()

musefm_broken_input(missing_key ${_mfm_pt} drop conformer.layers.1.self_attn.linear_k.bias)
musefm_broken_input(unexpected_key ${_mfm_pt} add conformer.layers.0.self_attn.linear_pos.weight)
musefm_broken_input(misshaped_key ${_mfm_pt} reshape conv.linear.weight)
musefm_broken_input(stats_no_std ${_mfm_stats} drop melspec_2048_std)

musefm_convert_fails(missing_key ${_mfm_bad}/missing_key.pt ${_mfm_stats}
  "missing: conformer\\.layers\\.1\\.self_attn\\.linear_k\\.bias" musicfm_missing_key)
musefm_convert_fails(unexpected_key ${_mfm_bad}/unexpected_key.pt ${_mfm_stats}
  "unexpected: conformer\\.layers\\.0\\.self_attn\\.linear_pos\\.weight" musicfm_unexpected_key)
musefm_convert_fails(misshaped_key ${_mfm_bad}/misshaped_key.pt ${_mfm_stats}
  "mis-shaped: conv\\.linear\\.weight: expected \\[64, 128\\], got \\[65, 128\\]"
  musicfm_misshaped_key)
musefm_convert_fails(stats_no_std ${_mfm_pt} ${_mfm_bad}/stats_no_std.json
  "lacks melspec_2048_std" musicfm_stats_no_std)
# Every problem is reported in one message, not just the first.
musefm_convert_fails(all_problems ${_mfm_bad}/missing_key.pt ${_mfm_bad}/stats_no_std.json
  "2 problem\\(s\\).*missing: conformer\\.layers\\.1\\.self_attn\\.linear_k\\.bias.*lacks mel"
  musicfm_missing_key musicfm_stats_no_std)
