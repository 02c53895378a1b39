#include "common/discovery/app_record.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/base/json_writer.h"

namespace push::discovery {

namespace {

using google::protobuf::Value;

// Builds the INVALID_ARGUMENT messages: "app <name>: <what>".
class Checker {
 public:
  explicit Checker(std::string_view name) : prefix_("app " + std::string(name) + ": ") {}
  Status fail(std::string_view what) const { return invalidArgument(prefix_ + std::string(what)); }

  Result<std::string> string(const Value& v, std::string_view what) const {
    if (v.kind_case() != Value::kStringValue) return fail(std::string(what) + " is not a string");
    return v.string_value();
  }

  // An integer in [lo, hi] (JSON numbers arrive as doubles: exact up to 2^53).
  Result<int64_t> integer(const Value& v, std::string_view what, int64_t lo, int64_t hi) const {
    const double d = v.number_value();
    if (v.kind_case() != Value::kNumberValue || !std::isfinite(d) || d != std::floor(d)) {
      return fail(std::string(what) + " is not an integer");
    }
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      return fail(std::string(what) + ": " + std::to_string(static_cast<int64_t>(d)) +
                  " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return static_cast<int64_t>(d);
  }

  Status url(const std::string& u, std::string_view what) const {
    std::string_view rest;
    if (u.rfind("http://", 0) == 0) {
      rest = std::string_view(u).substr(7);
    } else if (u.rfind("https://", 0) == 0) {
      rest = std::string_view(u).substr(8);
    } else {
      return fail(std::string(what) + " '" + u + "' is not an http:// or https:// URL");
    }
    if (rest.empty() || rest.front() == '/' || rest.front() == ':' || rest.front() == '?') {
      return fail(std::string(what) + " '" + u + "' has no host");
    }
    if (u.find_first_of(" \t\r\n") != std::string::npos) {
      return fail(std::string(what) + " '" + u + "' contains whitespace");
    }
    return Status::ok();
  }

 private:
  std::string prefix_;
};

Status decodeSecrets(const Checker& c, const Value& v, AppRecord& out) {
  if (v.kind_case() != Value::kListValue) return c.fail("secrets is not an array");
  std::set<std::string> ids;
  for (const Value& item : v.list_value().values()) {
    if (item.kind_case() != Value::kStructValue) return c.fail("a secret is not an object");
    const auto& f = item.struct_value().fields();
    AppSecret s;
    auto id = f.find("id");
    if (id == f.end()) return c.fail("a secret has no id");
    ASSIGN_OR_RETURN(s.id, c.string(id->second, "secret id"));
    if (s.id.empty()) return c.fail("a secret id is empty");
    if (!ids.insert(s.id).second) return c.fail("duplicate secret id '" + s.id + "'");
    auto secret = f.find("secret");
    if (secret == f.end()) return c.fail("secret '" + s.id + "' has no secret");
    ASSIGN_OR_RETURN(s.secret, c.string(secret->second, "secret '" + s.id + "'"));
    if (s.secret.size() < AppRecord::kMinSecretBytes) {
      return c.fail("secret '" + s.id + "' is " + std::to_string(s.secret.size()) +
                    " bytes, fewer than " + std::to_string(AppRecord::kMinSecretBytes));
    }
    if (auto na = f.find("not_after_ms"); na != f.end()) {
      ASSIGN_OR_RETURN(s.not_after_ms, c.integer(na->second, "secret '" + s.id + "' not_after_ms",
                                                 0, int64_t{1} << 53));
    }
    out.secrets.push_back(std::move(s));
  }
  if (out.secrets.empty()) return c.fail("secrets is empty (an app needs one to sign tokens)");
  return Status::ok();
}

Status decodeApiKeys(const Checker& c, const Value& v, AppRecord& out) {
  if (v.kind_case() != Value::kListValue) return c.fail("api_keys is not an array");
  std::set<std::string> seen;
  for (const Value& item : v.list_value().values()) {
    ASSIGN_OR_RETURN(std::string key, c.string(item, "an api key"));
    if (key.size() < AppRecord::kMinApiKeyBytes) {
      return c.fail("an api key is shorter than " + std::to_string(AppRecord::kMinApiKeyBytes) +
                    " bytes");
    }
    if (!seen.insert(key).second) return c.fail("duplicate api key");
    out.api_keys.push_back(std::move(key));
  }
  return Status::ok();
}

Status decodeWebhooks(const Checker& c, const Value& v, AppRecord& out) {
  if (v.kind_case() != Value::kStructValue) return c.fail("webhooks is not an object");
  const auto& f = v.struct_value().fields();
  if (auto up = f.find("upstream"); up != f.end()) {
    if (up->second.kind_case() != Value::kStructValue) {
      return c.fail("webhooks.upstream is not an object");
    }
    for (const auto& [type, url] : up->second.struct_value().fields()) {
      const std::string what = "webhooks.upstream." + type;
      if (type.empty()) return c.fail("webhooks.upstream has an empty type");
      ASSIGN_OR_RETURN(std::string u, c.string(url, what));
      RETURN_IF_ERROR(c.url(u, what));
      out.upstream_webhooks[type] = std::move(u);
    }
  }
  if (auto ev = f.find("events"); ev != f.end()) {
    ASSIGN_OR_RETURN(out.events_webhook, c.string(ev->second, "webhooks.events"));
    RETURN_IF_ERROR(c.url(out.events_webhook, "webhooks.events"));
  }
  return Status::ok();
}

Status decodeEvents(const Checker& c, const Value& v, AppRecord& out) {
  if (v.kind_case() != Value::kListValue) return c.fail("events is not an array");
  for (const Value& item : v.list_value().values()) {
    ASSIGN_OR_RETURN(std::string event, c.string(item, "an event"));
    if (std::find(std::begin(kAppEvents), std::end(kAppEvents), event) == std::end(kAppEvents)) {
      return c.fail("unknown event '" + event + "' (known: offline, online)");
    }
    out.events.push_back(std::move(event));
  }
  std::sort(out.events.begin(), out.events.end());
  out.events.erase(std::unique(out.events.begin(), out.events.end()), out.events.end());
  return Status::ok();
}

}  // namespace

const std::string& AppRecord::upstreamWebhook(std::string_view type) const {
  static const std::string kNone;
  if (auto it = upstream_webhooks.find(std::string(type)); it != upstream_webhooks.end()) {
    return it->second;
  }
  if (auto it = upstream_webhooks.find("default"); it != upstream_webhooks.end()) {
    return it->second;
  }
  return kNone;
}

std::vector<const AppSecret*> AppRecord::activeSecrets(int64_t now_ms) const {
  std::vector<const AppSecret*> out;
  for (const AppSecret& s : secrets) {
    if (s.not_after_ms == 0 || s.not_after_ms > now_ms) out.push_back(&s);
  }
  return out;
}

bool AppRecord::wantsEvent(std::string_view event) const {
  return std::find(events.begin(), events.end(), event) != events.end();
}

std::string encodeAppRecord(const AppRecord& r) {
  JsonWriter w(256);
  w.beginObject();
  w.key("secrets").beginArray();
  for (const AppSecret& s : r.secrets) {
    w.beginObject().key("id").string(s.id).key("secret").string(s.secret);
    w.key("not_after_ms").int64(s.not_after_ms).endObject();
  }
  w.endArray();
  w.key("api_keys").beginArray();
  for (const std::string& key : r.api_keys)
    w.string(key);
  w.endArray();
  w.key("webhooks").beginObject();
  w.key("upstream").beginObject();
  for (const auto& [type, url] : r.upstream_webhooks)
    w.key(type).string(url);
  w.endObject();
  if (!r.events_webhook.empty()) w.key("events").string(r.events_webhook);
  w.endObject();
  w.key("events").beginArray();
  for (const std::string& e : r.events)
    w.string(e);
  w.endArray();
  w.key("push_rate_per_s").uint64(r.push_rate_per_s);
  w.key("push_burst").uint64(r.push_burst);
  w.key("broadcast_rate_per_s").uint64(r.broadcast_rate_per_s);
  w.key("broadcast_burst").uint64(r.broadcast_burst);
  w.key("offline_ttl_s").uint64(r.offline_ttl_s);
  w.endObject();
  return w.take();
}

Result<AppRecord> decodeAppRecord(std::string_view name, std::string_view data) {
  Checker c(name);
  if (data.empty()) return c.fail("no data");
  // protobuf's JSON parser into a Struct, as decodeInstance does: records are small and read
  // only when they change.
  google::protobuf::Struct doc;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(data.data(), data.size()), &doc, options);
  if (!parsed.ok()) {
    std::string why = parsed.ToString();
    std::replace(why.begin(), why.end(), '\n', ' ');
    return c.fail("not a JSON object: " + why);
  }
  AppRecord out;
  out.name = std::string(name);
  const auto& f = doc.fields();
  auto secrets = f.find("secrets");
  if (secrets == f.end()) return c.fail("secrets is missing (an app needs one to sign tokens)");
  RETURN_IF_ERROR(decodeSecrets(c, secrets->second, out));
  if (auto it = f.find("api_keys"); it != f.end())
    RETURN_IF_ERROR(decodeApiKeys(c, it->second, out));
  if (auto it = f.find("webhooks"); it != f.end())
    RETURN_IF_ERROR(decodeWebhooks(c, it->second, out));
  if (auto it = f.find("events"); it != f.end()) RETURN_IF_ERROR(decodeEvents(c, it->second, out));
  struct Limit {
    const char* key;
    uint32_t* field;
    int64_t lo, hi;
  } limits[] = {
      {"push_rate_per_s", &out.push_rate_per_s, 1, 1'000'000},
      {"push_burst", &out.push_burst, 1, 10'000'000},
      {"broadcast_rate_per_s", &out.broadcast_rate_per_s, 1, 10'000},
      {"broadcast_burst", &out.broadcast_burst, 1, 100'000},
      {"offline_ttl_s", &out.offline_ttl_s, 60, 7'776'000},
  };
  for (const Limit& l : limits) {
    auto it = f.find(l.key);
    if (it == f.end()) continue;
    ASSIGN_OR_RETURN(int64_t v, c.integer(it->second, l.key, l.lo, l.hi));
    *l.field = static_cast<uint32_t>(v);
  }
  return out;
}

}  // namespace push::discovery
