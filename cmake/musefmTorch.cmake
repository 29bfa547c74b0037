# Locates libtorch and defines the imported target musefm::torch.
#
# Search order:
#   1. MUSEFM_TORCH_ROOT (a torch install prefix: the wheel's torch/ folder or an unpacked
#      official libtorch archive),
#   2. Torch/TorchConfig.cmake under CMAKE_PREFIX_PATH (official libtorch archive),
#   3. the project-local virtual environment's torch wheel (torch.utils.cmake_prefix_path),
#      i.e. <source>/.venv, or MUSEFM_PYTHON.
# The target is built from the install layout rather than through TorchConfig.cmake, because
# the CUDA builds of TorchConfig require a full CUDA toolkit even for CPU-only consumers.
include_guard(GLOBAL)

function(_musefm_torch_prefix_from_python python out)
  execute_process(
    COMMAND "${python}" -c "import torch.utils, os; print(os.path.normpath(os.path.join(torch.utils.cmake_prefix_path, '..', '..')))"
    OUTPUT_VARIABLE prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND EXISTS "${prefix}/include/torch")
    set(${out} "${prefix}" PARENT_SCOPE)
  endif()
endfunction()

function(musefm_find_torch)
  if(TARGET musefm::torch)
    return()
  endif()
  set(prefix "")
  if(MUSEFM_TORCH_ROOT)
    set(prefix "${MUSEFM_TORCH_ROOT}")
  endif()
  if(NOT prefix)
    find_path(_musefm_torch_cfg_dir NAMES Torch/TorchConfig.cmake
      PATH_SUFFIXES share/cmake NO_CMAKE_SYSTEM_PATH NO_SYSTEM_ENVIRONMENT_PATH)
    if(_musefm_torch_cfg_dir)
      get_filename_component(prefix "${_musefm_torch_cfg_dir}/../.." ABSOLUTE)
    endif()
    unset(_musefm_torch_cfg_dir CACHE)
  endif()
  if(NOT prefix)
    set(candidates "${MUSEFM_PYTHON}" "${PROJECT_SOURCE_DIR}/.venv/bin/python")
    foreach(py IN LISTS candidates)
      if(py AND EXISTS "${py}" AND NOT prefix)
        _musefm_torch_prefix_from_python("${py}" prefix)
      endif()
    endforeach()
  endif()
  if(NOT prefix OR NOT EXISTS "${prefix}/include/torch")
    message(FATAL_ERROR
      "musefm: libtorch not found. Run tools/setup.sh (creates .venv with the torch wheel), "
      "or pass -DMUSEFM_TORCH_ROOT=<libtorch dir> or -DCMAKE_PREFIX_PATH=<libtorch dir>.")
  endif()
  set(libs "")
  foreach(name torch torch_cpu c10)
    find_library(_musefm_lib_${name} NAMES ${name} PATHS "${prefix}/lib" NO_DEFAULT_PATH)
    if(NOT _musefm_lib_${name})
      message(FATAL_ERROR "musefm: ${prefix}/lib has no lib${name}.so")
    endif()
    list(APPEND libs "${_musefm_lib_${name}}")
  endforeach()
  add_library(musefm::torch INTERFACE IMPORTED GLOBAL)
  target_include_directories(musefm::torch SYSTEM INTERFACE
    "${prefix}/include" "${prefix}/include/torch/csrc/api/include")
  target_link_libraries(musefm::torch INTERFACE ${libs})
  # All torch >= 2.7 binaries (wheel and archive) use the new libstdc++ ABI.
  target_compile_definitions(musefm::torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1)
  set(MUSEFM_TORCH_PREFIX "${prefix}" CACHE INTERNAL "libtorch install prefix")
  set(MUSEFM_TORCH_HAS_CUDA OFF CACHE INTERNAL "")
  if(EXISTS "${prefix}/lib/libtorch_cuda.so")
    set(MUSEFM_TORCH_HAS_CUDA ON CACHE INTERNAL "")
  endif()
  message(STATUS "musefm: libtorch at ${prefix} (CUDA build: ${MUSEFM_TORCH_HAS_CUDA})")
endfunction()
