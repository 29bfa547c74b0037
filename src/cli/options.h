// Options several commands share: a named enum (choices and default from the enum's names) and
// --threads.
#pragma once

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>

#include <string>

#include "musefm/enum_names.h"

namespace musefm::cli {

/// `--name` taking one of E's names into `target`; --help lists the choices.
template <typename E>
CLI::Option* add_enum_option(CLI::App* app, const std::string& name, E& target,
                             const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name, [&target, name](const std::string& v) { target = parse_enum<E>(v, name); }, help)
      ->check(CLI::IsMember(enum_names<E>()))
      ->default_str(to_string(target));
}

/// `--threads N`: CPU threads for libtorch, set when parsed (0 = all cores; negative refused).
inline CLI::Option* add_threads_option(CLI::App* app, const std::string& what = "") {
  return app
      ->add_option_function<int>(
          "--threads",
          [](const int& n) {
            if (n > 0) at::set_num_threads(n);
          },
          "CPU threads" + what + " (0 = all cores)")
      ->check(CLI::Range(0, 4096));
}

}  // namespace musefm::cli
