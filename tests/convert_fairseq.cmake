# Tests of `tools/convert_checkpoint.py fairseq-mert` (tools/musefm_convert/fairseq_mert.py),
# include()d from tests/CMakeLists.txt; needs MUSEFM_PYTHON (the project venv's python), no build
# target.
#
#   convert_fairseq_mert_{postln,preln}  tests/fixtures/encoders/<name>/source/fairseq_tiny.pt
#       (tools/make_fairseq_fixture.py) converted to converted/<name>_fairseq must equal, in
#       config.json and every tensor (tools/check_model_dir.py), the hf-mert conversion of the
#       committed model dir tests/fixtures/encoders/<name> (converted/<name>_hf: the committed
#       weights with musefm's default config fields; the committed config sets attention=naive).
#   convert_fairseq_mert_legacy_args     the older {"args": Namespace} layout converts the same.
#   convert_fairseq_error_*              broken inputs, written at test time by
#       tools/make_fairseq_broken.py, are refused (exit status 1) with the expected message.
if(NOT MUSEFM_PYTHON OR NOT EXISTS "${MUSEFM_PYTHON}")
  message(STATUS "MUSEFM_PYTHON not set: fairseq MERT converter tests skipped")
  return()
endif()

set(_fs_out "${CMAKE_CURRENT_BINARY_DIR}/converted")
set(_fs_broken "${_fs_out}/fairseq_broken")
set(_fs_check "${MUSEFM_PYTHON}" tools/check_model_dir.py)
set(_fs_dropped "dropped 5 training-only parameters: encoder_cqt_model\\.fc\\.bias, \
encoder_cqt_model\\.fc\\.weight, final_proj\\.bias, final_proj\\.weight, label_embs_concat")

# musefm_fairseq_convert(TEST FORMAT SRC OUT FIXTURE REGEX): a conversion that must exit 0, write
# OUT/config.json and OUT/model.safetensors and print REGEX (run_expect.cmake checks all three);
# it is the setup test of FIXTURE.
function(musefm_fairseq_convert test format src out fixture regex)
  add_test(NAME ${test}
    COMMAND ${CMAKE_COMMAND}
            "-DCMD=${MUSEFM_PYTHON}|tools/convert_checkpoint.py|${format}|${src}|${out}"
            "-DEXPECT_REGEX=${regex}" "-DEXPECT_FILES=${out}/config.json|${out}/model.safetensors"
            -P ${CMAKE_CURRENT_LIST_DIR}/run_expect.cmake
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${test} PROPERTIES FIXTURES_SETUP ${fixture})
endfunction()

foreach(_variant postln preln)
  set(_name mert_tiny_${_variant})
  set(_fixture tests/fixtures/encoders/${_name})
  # check_model_dir.py also compares the safetensors metadata, whose converted_from is the base
  # name of the conversion's source: the reference is converted from a link to the committed dir
  # that bears the fairseq file's name.
  set(_link ${_fs_out}/${_name}_hf_source/fairseq_tiny.pt)
  file(MAKE_DIRECTORY ${_fs_out}/${_name}_hf_source)
  file(REMOVE ${_link})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${_fixture} ${_link} SYMBOLIC)
  musefm_fairseq_convert(convert_fairseq_mert_${_variant}_reference hf-mert ${_link}
    ${_fs_out}/${_name}_hf fairseq_reference_${_variant} "wrote")
  musefm_fairseq_convert(convert_fairseq_mert_${_variant}_convert fairseq-mert
    ${_fixture}/source/fairseq_tiny.pt ${_fs_out}/${_name}_fairseq fairseq_converted_${_variant}
    "${_fs_dropped}")
  add_test(NAME convert_fairseq_mert_${_variant}
    COMMAND ${_fs_check} ${_fs_out}/${_name}_hf ${_fs_out}/${_name}_fairseq
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(convert_fairseq_mert_${_variant} PROPERTIES
    FIXTURES_REQUIRED "fairseq_reference_${_variant};fairseq_converted_${_variant}")
endforeach()

# Broken and legacy variants of the post-LN checkpoint.
add_test(NAME convert_fairseq_make_broken
  COMMAND "${MUSEFM_PYTHON}" tools/make_fairseq_broken.py
          tests/fixtures/encoders/mert_tiny_postln/source/fairseq_tiny.pt ${_fs_broken}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(convert_fairseq_make_broken PROPERTIES FIXTURES_SETUP fairseq_broken)

musefm_fairseq_convert(convert_fairseq_mert_legacy_args_convert fairseq-mert
  ${_fs_broken}/legacy_args/fairseq_tiny.pt ${_fs_out}/mert_tiny_postln_fairseq_args
  fairseq_converted_args "${_fs_dropped}")
set_tests_properties(convert_fairseq_mert_legacy_args_convert PROPERTIES
  FIXTURES_REQUIRED fairseq_broken)
add_test(NAME convert_fairseq_mert_legacy_args
  COMMAND ${_fs_check} ${_fs_out}/mert_tiny_postln_hf ${_fs_out}/mert_tiny_postln_fairseq_args
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(convert_fairseq_mert_legacy_args PROPERTIES
  FIXTURES_REQUIRED "fairseq_converted_args;fairseq_reference_postln")

# case, then the regular expression that the converter's message must match.
set(_fs_errors
  missing_key "missing: encoder\\.layers\\.1\\.fc1\\.weight"
  unexpected_key "unexpected: encoder\\.layers\\.0\\.self_attn\\.bias_k"
  misshaped_key "wrong shape: post_extract_proj\\.weight \\[64, 31\\] \\(expected \\[64, 32\\]\\)"
  all_problems "missing: encoder\\.layers\\.1\\.fc1\\.weight\n  unexpected: \
encoder\\.layers\\.0\\.self_attn\\.bias_k\n  wrong shape: post_extract_proj\\.weight"
  unsupported_option "feature_extractor_cqt=True .*not supported.*\n  deepnorm=True .*not supported"
  unsafe_conv_layers "conv_feature_layers .*__import__.* is not a list of \\(dim, kernel, stride\\)"
  untrusted_pickle "refused the pickled classes fractions\\.Fraction.*MUSEFM_TRUST_PICKLE=1")
while(_fs_errors)
  list(POP_FRONT _fs_errors _case _regex)
  add_test(NAME convert_fairseq_error_${_case}
    COMMAND "${MUSEFM_PYTHON}" tools/convert_checkpoint.py fairseq-mert ${_fs_broken}/${_case}.pt
            ${_fs_out}/broken_${_case}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(convert_fairseq_error_${_case} PROPERTIES
    FIXTURES_REQUIRED fairseq_broken
    PASS_REGULAR_EXPRESSION "convert_checkpoint: .*${_regex}")
endwhile()
