#include "services/queued/queued_options.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "services/queued/go_format.h"
#include "services/queued/nsqd_flags.h"
#include "services/queued/toml_reader.h"

namespace push::queued {
namespace {

using O = QueuedOptions;
constexpr std::string_view kVersionText = "queued v0.1 (nsqd v1.3.0 compatible)\n";

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// ---------------------------------------------------------------------------------------------
// --config: nsqd's TOML file, read with TomlReader and applied through the flag table.

std::string typeName(TomlValue::Type t) {
  switch (t) {
    case TomlValue::Type::String:
      return "a string";
    case TomlValue::Type::Integer:
      return "an integer";
    case TomlValue::Type::Float:
      return "a float";
    case TomlValue::Type::Bool:
      return "a boolean";
    case TomlValue::Type::Array:
      return "an array";
  }
  return "a value";
}

std::string numberText(const TomlValue& v) {
  if (v.type == TomlValue::Type::Integer) return std::to_string(v.integer);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v.number);
  return buf;
}

// Sets a flag from a TOML value with nsqd's option resolver's coercions.
Reason applyToml(O& o, const Flag& f, const TomlValue& v) {
  using T = TomlValue::Type;
  std::string wanted;
  switch (f.kind) {
    case FlagKind::String:
      if (v.type == T::String) return f.set_text(o, v.text);
      wanted = "a string";
      break;
    case FlagKind::BoolText:
      if (v.type == T::String) return f.set_text(o, v.text);
      if (v.type == T::Bool) return f.set_text(o, v.boolean ? "true" : "false");
      wanted = "a boolean or a string";
      break;
    case FlagKind::Bool:
      if (v.type == T::Bool) {
        f.set_bool(o, v.boolean);
        return {};
      }
      if (v.type == T::String) return applyText(o, f, v.text);
      wanted = "a boolean";
      break;
    case FlagKind::Int:
      if (v.type == T::Integer) return f.set_int(o, v.integer);
      if (v.type == T::String) return applyText(o, f, v.text);
      wanted = "an integer";
      break;
    case FlagKind::Duration:
      // nsqd's resolver reads an integer (or a string of digits) as milliseconds.
      if (v.type == T::Integer) return f.set_int(o, v.integer);
      if (v.type == T::String) {
        if (!v.text.empty() && std::all_of(v.text.begin(), v.text.end(),
                                           [](char c) { return c >= '0' && c <= '9'; })) {
          Reason reason;
          std::optional<int64_t> ms = parseGoInt(v.text, &reason);
          if (!ms) return reason;
          return f.set_int(o, *ms);
        }
        return applyText(o, f, v.text);
      }
      wanted = "a duration string such as \"1m30s\" or an integer of milliseconds";
      break;
    case FlagKind::StringList:
    case FlagKind::FloatList: {
      bool floats = f.kind == FlagKind::FloatList;
      f.clear(o);
      if (v.type == T::String) return applyText(o, f, v.text);  // comma separated in nsqd
      if (v.type == T::Array) {
        for (const TomlValue& item : v.items) {
          Reason reason;
          if (item.type == T::String && !floats) {
            reason = applyText(o, f, item.text);
          } else if ((item.type == T::Float || item.type == T::Integer) && floats) {
            reason = f.set_text(o, numberText(item));
          } else {
            reason = std::string("an array element is ") + typeName(item.type) + ", want " +
                     (floats ? "numbers" : "strings");
          }
          if (!reason.empty()) return reason;
        }
        return {};
      }
      wanted = floats ? "an array of numbers" : "an array of strings";
      break;
    }
  }
  return typeName(v.type) + " where " + wanted + " was expected";
}

Status loadConfigFile(const std::string& path, O& o) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return invalidArgument("--config: failed to load config file " + path + " - open " + path +
                           ": " + std::strerror(err));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  TomlReader reader(buffer.str());
  std::set<std::string> seen;
  std::string key;
  TomlValue value;
  int key_line = 0;
  while (reader.next(&key, &value, &key_line)) {
    std::string where = path + ":" + std::to_string(key_line) + ": ";
    if (!seen.insert(key).second) return invalidArgument(where + "key " + key + " given twice");
    const Flag* f = findCfgKey(key);
    if (f == nullptr) {
      return invalidArgument(where + "unknown key " + key +
                             " (keys are nsqd's flag names with '_')");
    }
    Reason reason = applyToml(o, *f, value);
    if (!reason.empty()) {
      std::string shown = value.type == TomlValue::Type::String ? quote(value.text) : value.text;
      return invalidArgument(where + "invalid value " + shown + " for " + key + " (--" +
                             std::string(f->name) + "): " + reason);
    }
  }
  if (!reader.error().empty()) {
    return invalidArgument("--config: " + path + ":" + std::to_string(reader.line()) + ": " +
                           reader.error());
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------

std::string usage() {
  std::vector<std::pair<std::string, std::string>> entries;  // name, text; sorted as Go does
  auto entry = [&](std::string_view name, std::string_view type, std::string_view help,
                   std::string_view def) {
    std::string text = "  --" + std::string(name);
    if (!type.empty()) text += " " + std::string(type);
    text += "\n    \t" + std::string(help);
    if (!def.empty()) text += " (default " + std::string(def) + ")";
    entries.emplace_back(std::string(name), text + "\n");
  };
  entry("config", "string", "path to config file (nsqd's TOML: flag names with '_')", "");
  entry("help", "", "print this help", "");
  entry("version", "", "print version string", "");
  for (const Flag& f : nsqdFlags()) {
    std::string_view type;
    switch (f.kind) {
      case FlagKind::String:
        type = "string";
        break;
      case FlagKind::Int:
        type = "int";
        break;
      case FlagKind::Bool:
        type = "";
        break;
      case FlagKind::Duration:
        type = "duration";
        break;
      case FlagKind::StringList:
      case FlagKind::FloatList:
      case FlagKind::BoolText:
        type = "value";
        break;
    }
    entry(f.name, type, f.help, f.default_text);
  }
  std::sort(entries.begin(), entries.end());
  std::string out =
      "Usage of queued (nsqd v1.3.0's flags: -flag, --flag, -flag=value, --flag value; "
      "durations as 250ms, 1m30s):\n";
  for (const auto& [name, text] : entries)
    out += text;
  return out;
}

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// Checks across flags, made after the command line and the file are merged (nsqd's New()).
Status validate(O& o) {
  if (!o.tls_client_auth_policy.empty() && o.tls_required == 0) o.tls_required = 2;
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return invalidArgument("--tls-cert and --tls-key must be given together");
  }
  bool tls = !o.tls_cert.empty();
  if (!tls && o.tls_required != 0) {
    return invalidArgument(
        "cannot require TLS client connections without TLS key and cert (--tls-required or "
        "--tls-client-auth-policy needs --tls-cert and --tls-key)");
  }
  return Status::ok();
}

}  // namespace

int QueuedOptions::defaultNodeId(std::string_view hostname) {
  unsigned char md5[EVP_MAX_MD_SIZE];
  unsigned int md5_len = 0;
  if (EVP_Digest(hostname.data(), hostname.size(), md5, &md5_len, EVP_md5(), nullptr) != 1) {
    return 0;
  }
  uLong crc = crc32(0L, md5, md5_len);
  return static_cast<int>(crc % 1024);
}

Result<QueuedOptions> QueuedOptions::parse(int argc, char** argv) {
  QueuedOptions o;
  o.broadcast_address = hostName();
  o.node_id = defaultNodeId(o.broadcast_address);

  struct Assignment {
    const Flag* flag;
    std::string value;
  };
  std::vector<Assignment> assignments;
  std::string config;
  bool version = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) {
        return invalidArgument("unexpected argument " + quote(argv[i + 1]) +
                               ": queued takes no positional arguments");
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return invalidArgument("unexpected argument " + quote(arg) +
                             ": queued takes no positional arguments (a boolean flag takes its "
                             "value as --flag=false, not --flag false)");
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return invalidArgument("bad flag syntax: " + std::string(arg));
    }
    size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    bool has_value = eq != std::string_view::npos;
    std::string value(has_value ? body.substr(eq + 1) : std::string_view());
    std::string shown = "--" + std::string(name);

    if (name == "help" || name == "h") {
      std::fputs(usage().c_str(), stdout);
      std::fflush(stdout);
      return Status(Code::CANCELLED, "--help printed the usage");
    }
    if (name == "version") {
      std::optional<bool> b = has_value ? parseGoBool(value) : std::optional<bool>(true);
      if (!b)
        return invalidArgument("invalid value " + quote(value) +
                               " for flag --version: parse error");
      version = *b;
      continue;
    }
    const Flag* flag = findFlag(name);
    if (flag == nullptr && name != "config") {
      return invalidArgument(
          "flag provided but not defined: " + std::string(arg.substr(0, arg.size() - body.size())) +
          std::string(name));
    }
    if (!has_value && (flag == nullptr || !isBoolLike(*flag))) {
      if (i + 1 >= argc) return invalidArgument("flag needs an argument: " + shown);
      value = argv[++i];
    } else if (!has_value) {
      value = "true";
    }
    if (flag == nullptr) {
      config = value;
    } else {
      assignments.push_back({flag, value});
    }
  }

  if (version) {
    std::fputs(kVersionText.data(), stdout);
    std::fflush(stdout);
    return Status(Code::CANCELLED, "--version printed the version");
  }
  if (!config.empty()) RETURN_IF_ERROR(loadConfigFile(config, o));

  std::set<const Flag*> lists_cleared;
  for (const Assignment& a : assignments) {
    if (isList(*a.flag) && lists_cleared.insert(a.flag).second) a.flag->clear(o);
    Reason reason = applyText(o, *a.flag, a.value);
    if (!reason.empty()) {
      return invalidArgument("invalid value " + quote(a.value) + " for flag --" +
                             std::string(a.flag->name) + ": " + reason);
    }
  }
  RETURN_IF_ERROR(validate(o));
  return o;
}

}  // namespace push::queued
