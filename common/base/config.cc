#include "common/base/config.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

namespace push {

namespace pb = google::protobuf;

struct ConfigFile::Impl {
  pb::TextFormat::ParseInfoTree tree;
};

namespace {

std::string outOfRange(int64_t value, int64_t min, int64_t max) {
  return std::to_string(value) + " is out of range [" + std::to_string(min) + ", " +
         std::to_string(max) + "]";
}

class CollectErrors : public pb::io::ErrorCollector {
 public:
  explicit CollectErrors(const std::string& name) : name_(name) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    append("", line, column, message);
  }
  void AddWarning(int line, pb::io::ColumnNumber column, const std::string& message) override {
    append("warning: ", line, column, message);
  }
  const std::string& text() const { return text_; }

 private:
  void append(const char* kind, int line, int column, const std::string& message) {
    if (!text_.empty()) text_ += "; ";
    // The parser counts from 0; editors count from 1.
    text_ += name_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
             kind + message;
  }
  const std::string& name_;
  std::string text_;
};

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    parts.push_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

}  // namespace

ConfigFile::ConfigFile(std::string name, pb::Message* root)
    : name_(std::move(name)), root_(root), impl_(std::make_unique<Impl>()) {}

ConfigFile::~ConfigFile() = default;

Result<std::unique_ptr<ConfigFile>> ConfigFile::load(const std::string& path, pb::Message* out) {
  std::ifstream in(path);
  if (!in) return notFound("cannot read config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), path, out);
}

Result<std::unique_ptr<ConfigFile>> ConfigFile::parse(std::string_view text, std::string name,
                                                      pb::Message* out) {
  std::unique_ptr<ConfigFile> file(new ConfigFile(std::move(name), out));
  CollectErrors errors(file->name_);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&file->impl_->tree);
  out->Clear();
  if (!parser.ParseFromString(std::string(text), out)) {
    return invalidArgument(errors.text().empty() ? file->name_ + ": cannot parse" : errors.text());
  }
  return file;
}

Status ConfigFile::fieldError(std::string_view field_path, std::string_view why) const {
  std::string where = name_;
  const pb::TextFormat::ParseInfoTree* tree = &impl_->tree;
  const pb::Descriptor* descriptor = root_->GetDescriptor();
  auto parts = splitPath(field_path);
  for (size_t i = 0; i < parts.size() && tree && descriptor; ++i) {
    const pb::FieldDescriptor* field = descriptor->FindFieldByName(std::string(parts[i]));
    if (!field) break;
    const int index = field->is_repeated() ? 0 : -1;
    if (i + 1 == parts.size()) {
      pb::TextFormat::ParseLocation loc = tree->GetLocation(field, index);
      if (loc.line >= 0) {
        // Appended piecewise: GCC 12 at -O3 warns (-Wrestrict, falsely) on the chained form.
        where += ':';
        where += std::to_string(loc.line + 1);
        where += ':';
        where += std::to_string(loc.column + 1);
      }
    } else {
      tree = tree->GetTreeForNested(field, index);
      descriptor = field->message_type();
    }
  }
  return invalidArgument(where + ": " + std::string(field_path) + ": " + std::string(why));
}

Status ConfigFile::requireRange(std::string_view field_path, int64_t min, int64_t max,
                                bool zero_means_default) const {
  const pb::Message* msg = root_;
  auto parts = splitPath(field_path);
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::Descriptor* descriptor = msg->GetDescriptor();
    const pb::FieldDescriptor* field = descriptor->FindFieldByName(std::string(parts[i]));
    if (!field || field->is_repeated()) {
      return internalError("requireRange: no singular field '" + std::string(field_path) + "' in " +
                           root_->GetDescriptor()->full_name());
    }
    const pb::Reflection* reflection = msg->GetReflection();
    if (i + 1 < parts.size()) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        return internalError("requireRange: '" + std::string(parts[i]) + "' is not a message");
      }
      msg = &reflection->GetMessage(*msg, field);
      continue;
    }
    int64_t value;
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        value = reflection->GetInt32(*msg, field);
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        value = reflection->GetInt64(*msg, field);
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        value = reflection->GetUInt32(*msg, field);
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = reflection->GetUInt64(*msg, field);
        if (v > static_cast<uint64_t>(INT64_MAX)) {
          return fieldError(field_path, std::to_string(v) + " is out of range");
        }
        value = static_cast<int64_t>(v);
        break;
      }
      default:
        return internalError("requireRange: '" + std::string(field_path) + "' is not an integer");
    }
    if (value == 0 && zero_means_default) return Status::ok();
    if (value < min || value > max) return fieldError(field_path, outOfRange(value, min, max));
  }
  return Status::ok();
}

namespace {

// The value of the singular integer field at dotted `path`; nullopt when there is none. A
// uint64 above INT64_MAX reads as INT64_MAX (out of every range).
std::optional<int64_t> integerAt(const pb::Message& message, std::string_view path) {
  const pb::Message* msg = &message;
  while (true) {
    const size_t dot = path.find('.');
    const pb::FieldDescriptor* field =
        msg->GetDescriptor()->FindFieldByName(std::string(path.substr(0, dot)));
    if (!field || field->is_repeated()) return std::nullopt;
    const pb::Reflection* reflection = msg->GetReflection();
    if (dot != std::string_view::npos) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return std::nullopt;
      msg = &reflection->GetMessage(*msg, field);
      path.remove_prefix(dot + 1);
      continue;
    }
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        return reflection->GetInt32(*msg, field);
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        return reflection->GetUInt32(*msg, field);
      case pb::FieldDescriptor::CPPTYPE_INT64:
        return reflection->GetInt64(*msg, field);
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        return static_cast<int64_t>(
            std::min<uint64_t>(reflection->GetUInt64(*msg, field), INT64_MAX));
      default:
        return std::nullopt;
    }
  }
}

}  // namespace

Status checkFieldRanges(const pb::Message& config, const ConfigFile* file,
                        std::span<const FieldRange> ranges) {
  for (const FieldRange& r : ranges) {
    if (auto value = integerAt(config, r.path)) {
      RETURN_IF_ERROR(checkFieldRange(file, r.path, *value, r.min, r.max));
    }
  }
  return Status::ok();
}

std::vector<FieldRange> withPrefix(std::string_view prefix, std::span<const FieldRange> ranges) {
  std::vector<FieldRange> out;
  out.reserve(ranges.size());
  for (const FieldRange& r : ranges) {
    out.push_back({std::string(prefix) + "." + r.path, r.min, r.max});
  }
  return out;
}

std::vector<std::string> integerFieldPaths(const pb::Descriptor* descriptor) {
  std::vector<std::string> paths;
  struct Todo {
    const pb::Descriptor* descriptor;
    std::string prefix;
  };
  std::vector<Todo> todo = {{descriptor, ""}};
  while (!todo.empty()) {
    Todo t = std::move(todo.back());
    todo.pop_back();
    for (int i = 0; i < t.descriptor->field_count(); ++i) {
      const pb::FieldDescriptor* f = t.descriptor->field(i);
      if (f->is_repeated()) continue;
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
          todo.push_back({f->message_type(), t.prefix + f->name() + "."});
          break;
        case pb::FieldDescriptor::CPPTYPE_INT32:
        case pb::FieldDescriptor::CPPTYPE_UINT32:
        case pb::FieldDescriptor::CPPTYPE_INT64:
        case pb::FieldDescriptor::CPPTYPE_UINT64:
          paths.push_back(t.prefix + f->name());
          break;
        default:
          break;
      }
    }
  }
  return paths;
}

Status checkFieldRange(const ConfigFile* file, std::string_view field_path, int64_t value,
                       int64_t min, int64_t max) {
  if (value == 0 || (value >= min && value <= max)) return Status::ok();
  const std::string why = outOfRange(value, min, max);
  if (file) return file->fieldError(field_path, why);
  return invalidArgument(std::string(field_path) + ": " + why);
}

}  // namespace push
