#include "common/base/command_line.h"

#include <charconv>

namespace push {

CommandLine::CommandLine(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void CommandLine::option(std::string name, std::string value_name, std::string help) {
  specs_.emplace_back(std::move(name), Spec{std::move(value_name), std::move(help)});
}

void CommandLine::flag(std::string name, std::string help) {
  specs_.emplace_back(std::move(name), Spec{"", std::move(help)});
}

Status CommandLine::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--") return invalidArgument("unexpected argument '" + std::string(arg) + "'");
    std::string name(arg.substr(2));
    std::string value;
    size_t eq = name.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const Spec* spec = nullptr;
    for (const auto& [n, s] : specs_) {
      if (n == name) spec = &s;
    }
    if (!spec) return invalidArgument("unknown flag --" + name);
    if (values_.count(name)) return invalidArgument("flag --" + name + " given twice");
    if (spec->value_name.empty()) {
      if (inline_value) return invalidArgument("flag --" + name + " takes no value");
      values_[name] = "true";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) return invalidArgument("flag --" + name + " needs a value (" + spec->value_name + ")");
      value = argv[++i];
    }
    values_[name] = value;
  }
  return Status::ok();
}

bool CommandLine::has(std::string_view name) const { return values_.find(name) != values_.end(); }

std::string CommandLine::get(std::string_view name, std::string fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<long long> CommandLine::getInt(std::string_view name, long long fallback, long long min,
                                      long long max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  long long v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
    return invalidArgument("--" + std::string(name) + ": '" + s + "' is not a number in [" +
                           std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

std::string CommandLine::usage() const {
  std::string out = program_ + ": " + summary_ + "\nusage: " + program_ + " [flags]\n";
  for (const auto& [name, spec] : specs_) {
    std::string left = "  --" + name + (spec.value_name.empty() ? "" : " " + spec.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    out += left + " " + spec.help + "\n";
  }
  return out;
}

}  // namespace push
