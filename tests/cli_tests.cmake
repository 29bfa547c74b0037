# End-to-end tests of the musefm binary (exit codes, messages, outputs, resume).
set(_cli $<TARGET_FILE:musefm_cli>)
set(_fx ${CMAKE_CURRENT_SOURCE_DIR}/fixtures)
set(_out ${CMAKE_CURRENT_BINARY_DIR}/cli_out)
file(REMOVE_RECURSE ${_out})
file(MAKE_DIRECTORY ${_out}/batch_in)
file(WRITE ${_out}/batch_in/broken.wav "not audio")
file(COPY ${_fx}/real_16k.wav DESTINATION ${_out}/batch_in)

function(musefm_cli_test name)
  cmake_parse_arguments(T "" "RC;REGEX" "ARGS;FILES" ${ARGN})
  string(REPLACE ";" "|" cmd "${_cli};${T_ARGS}")
  string(REPLACE ";" "|" files "${T_FILES}")
  set(rc 0)
  if(DEFINED T_RC)
    set(rc ${T_RC})
  endif()
  add_test(NAME cli_${name} COMMAND ${CMAKE_COMMAND} "-DCMD=${cmd}" -DEXPECT_RC=${rc}
    "-DEXPECT_REGEX=${T_REGEX}" "-DEXPECT_FILES=${files}" -P ${CMAKE_CURRENT_SOURCE_DIR}/run_expect.cmake)
  set_tests_properties(cli_${name} PROPERTIES FIXTURES_REQUIRED rendered_audio)
endfunction()

musefm_cli_test(help ARGS --help REGEX "features.*info|info.*features")
musefm_cli_test(features_help ARGS features --help REGEX "--kind.*--out-dir")
musefm_cli_test(no_command RC 106 REGEX "subcommand")
musefm_cli_test(info_ogg ARGS info ${_fx}/real_music.ogg REGEX "48000 Hz.*channels: +2")
musefm_cli_test(info_json ARGS info --json ${_fx}/real_music.opus REGEX "\"subtype\":\"Opus\"")
musefm_cli_test(info_missing ARGS info /nonexistent.wav RC 1
  REGEX "error: cannot open '/nonexistent.wav': no such file")
musefm_cli_test(features_cqt ARGS features ${_fx}/real_24k.wav --kind cqt --out ${_out}/cqt.npy
  --overwrite REGEX "wrote" FILES ${_out}/cqt.npy ${_out}/cqt.json)
musefm_cli_test(features_mel_set ARGS features ${_fx}/real_24k.wav --kind mel --set n_mels=64
  --print-config REGEX "\"n_mels\": 64")
musefm_cli_test(features_unknown_key ARGS features ${_fx}/real_24k.wav --set n_mel=64 --out x.npy
  RC 1 REGEX "MelConfig: unknown key 'n_mel'")
musefm_cli_test(features_bad_value ARGS features ${_fx}/real_24k.wav --kind cqt --set hop_length=0
  --out x.npy RC 1 REGEX "NnAudioCqtConfig.hop_length must be positive")
musefm_cli_test(features_batch_isolates_failures ARGS features ${_out}/batch_in --kind mfcc
  --out-dir ${_out}/batch_out --overwrite RC 1 REGEX "1 written.*1 failed"
  FILES ${_out}/batch_out/real_16k.npy ${_out}/batch_out/real_16k.json ${_out}/batch_out/failures.jsonl)
musefm_cli_test(features_batch_resumes ARGS features ${_out}/batch_in --kind mfcc
  --out-dir ${_out}/batch_out RC 1 REGEX "0 written, 1 already done")
set_tests_properties(cli_features_batch_resumes PROPERTIES DEPENDS cli_features_batch_isolates_failures)
musefm_cli_test(demo ARGS demo ${CMAKE_CURRENT_BINARY_DIR}/rendered/piano_a4.wav
  ${CMAKE_CURRENT_BINARY_DIR}/rendered/cmajor_chord.wav --out-dir ${_out}/demo
  REGEX "strongest CQT bin: [0-9]+ = 4[34][0-9]\\.[0-9] Hz.*dominant pitch class: A.*dominant pitch class: (C|E|G)"
  FILES ${_out}/demo/piano_a4.cqt.npy ${_out}/demo/cmajor_chord.chroma.json)

# Every shipped feature config parses strictly and resolves to itself.
file(GLOB _feature_configs ${PROJECT_SOURCE_DIR}/configs/features/*.json)
foreach(cfg IN LISTS _feature_configs)
  get_filename_component(_name ${cfg} NAME_WE)
  if(_name MATCHES "mel")
    set(_kind mel)
  elseif(_name MATCHES "mfcc")
    set(_kind mfcc)
  elseif(_name MATCHES "cqt")
    set(_kind cqt)
  else()
    set(_kind chroma)
  endif()
  musefm_cli_test(config_${_name} ARGS features --kind ${_kind} --config ${cfg} --print-config
    REGEX "sample_rate")
endforeach()

# musefm extract with the tiny MERT fixture model.
set(_tiny ${_fx}/encoders/mert_tiny_postln)
musefm_cli_test(extract_mean ARGS extract ${_fx}/real_24k.wav ${_fx}/real_music.opus --model ${_tiny}
  --out-dir ${_out}/emb --window 1 --overwrite REGEX "2 written, 0 already done \\(skipped\\), 0 failed"
  FILES ${_out}/emb/real_24k.npy ${_out}/emb/real_24k.json ${_out}/emb/real_music.npy)
musefm_cli_test(extract_layers_frames ARGS extract ${_fx}/real_24k.wav --model ${_tiny}
  --out-dir ${_out}/emb_frames --layers 0,-1 --pool none --window 0 --overwrite REGEX "1 written"
  FILES ${_out}/emb_frames/real_24k.npy)
musefm_cli_test(extract_bad_layer ARGS extract ${_fx}/real_24k.wav --model ${_tiny} --out-dir ${_out}/x
  --layers 7 RC 1 REGEX "layers: 7 is out of range: the model has 3 hidden states")
musefm_cli_test(extract_missing_model ARGS extract ${_fx}/real_24k.wav --model /nonexistent/model
  RC 1 REGEX "model directory '/nonexistent/model' does not exist")
musefm_cli_test(extract_isolates_failures ARGS extract ${_out}/batch_in --model ${_tiny}
  --out-dir ${_out}/emb_batch --overwrite RC 1 REGEX "1 written.*1 failed"
  FILES ${_out}/emb_batch/real_16k.npy ${_out}/emb_batch/failures.jsonl)
musefm_cli_test(extract_safetensors ARGS extract ${_fx}/real_24k.wav --model ${_tiny}
  --out-dir ${_out}/emb_st --format safetensors --layers -1 --overwrite REGEX "1 written"
  FILES ${_out}/emb_st/real_24k.safetensors ${_out}/emb_st/real_24k.json)
musefm_cli_test(pretrain_help ARGS pretrain --help REGEX "torchrun.*--config.*--data.*--set")
musefm_cli_test(export_help ARGS export --help REGEX "model dir.*--out")
musefm_cli_test(pretrain_missing_recipe ARGS pretrain --config /nonexistent.json --out ${_out}/p RC 1
  REGEX "cannot open pretrain config '/nonexistent.json'")
