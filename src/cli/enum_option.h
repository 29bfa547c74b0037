// A CLI11 option for a named enum: the choices and the default come from the enum's names.
#pragma once

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

}  // namespace musefm::cli
