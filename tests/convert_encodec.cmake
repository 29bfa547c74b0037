# Tests of tools/musefm_convert/encodec.py (through tools/convert_checkpoint.py encodec),
# include()d from tests/CMakeLists.txt; needs MUSEFM_PYTHON (the project venv's python: torch +
# safetensors).
#   convert_encodec_roundtrip   the fixture's weights saved as a torch state dict (as the released
#                               encodec_24khz-*.th files are) convert back to the committed
#                               fixtures/teachers/encodec_tiny exactly
#   convert_encodec_<problem>   broken state dicts fail with exit status 1 naming the key
if(NOT MUSEFM_PYTHON OR NOT EXISTS "${MUSEFM_PYTHON}")
  message(STATUS "MUSEFM_PYTHON not set: EnCodec converter tests skipped")
  return()
endif()

set(_enc_tools ${PROJECT_SOURCE_DIR}/tools)
set(_enc_fixture ${CMAKE_CURRENT_LIST_DIR}/fixtures/teachers/encodec_tiny)
set(_enc_out ${CMAKE_CURRENT_BINARY_DIR}/converted/encodec)

# name, make_broken_checkpoint.py action (empty: an unbroken copy), key
function(musefm_encodec_source name action key)
  set(_args)
  if(action)
    set(_args --${action} ${key})
  endif()
  add_test(NAME convert_encodec_make_${name}
    COMMAND ${MUSEFM_PYTHON} ${_enc_tools}/make_broken_checkpoint.py
            ${_enc_fixture}/model.safetensors ${_enc_out}/${name}/encodec_tiny.th ${_args}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(convert_encodec_make_${name} PROPERTIES FIXTURES_SETUP encodec_${name})
endfunction()

musefm_encodec_source(source "" "")
add_test(NAME convert_encodec_tiny
  COMMAND ${MUSEFM_PYTHON} ${_enc_tools}/convert_checkpoint.py encodec
          ${_enc_out}/source/encodec_tiny.th ${_enc_out}/encodec_tiny
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(convert_encodec_tiny PROPERTIES FIXTURES_REQUIRED encodec_source
                                                     FIXTURES_SETUP encodec_converted)
add_test(NAME convert_encodec_roundtrip
  COMMAND ${MUSEFM_PYTHON} ${_enc_tools}/check_model_dir.py ${_enc_fixture} ${_enc_out}/encodec_tiny
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(convert_encodec_roundtrip PROPERTIES FIXTURES_REQUIRED encodec_converted)

function(musefm_encodec_fails name regex)
  string(REPLACE ";" "|" _cmd
    "${MUSEFM_PYTHON};${_enc_tools}/convert_checkpoint.py;encodec;${_enc_out}/${name}/encodec_tiny.th;${_enc_out}/out_${name}")
  add_test(NAME convert_encodec_${name}
    COMMAND ${CMAKE_COMMAND} "-DCMD=${_cmd}" -DEXPECT_RC=1 "-DEXPECT_REGEX=${regex}"
            -P ${CMAKE_CURRENT_LIST_DIR}/run_expect.cmake
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(convert_encodec_${name} PROPERTIES FIXTURES_REQUIRED encodec_${name})
endfunction()

musefm_encodec_source(missing_key drop encoder.model.0.conv.conv.weight_g)
musefm_encodec_fails(missing_key "missing: encoder\\.model\\.0\\.conv\\.conv\\.weight")
musefm_encodec_source(misshaped_key reshape quantizer.vq.layers.3._codebook.embed)
musefm_encodec_fails(misshaped_key
  "wrong shape: quantizer\\.vq\\.layers\\.3\\._codebook\\.embed \\[65, 32\\] \\(expected \\[64, 32\\]\\)")
