// GCC 12 reports a false -Wmaybe-uninitialized inside <regex>'s compiler (GCC bug 105562).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "services/queued/auth_server.h"

#include <chrono>
#include <utility>

#include "common/base/json_reader.h"
#include "common/base/log.h"
#include "common/http/http_client.h"

namespace push::queued {

struct AuthQuery {
  std::string target;  // path and query after the address
  AuthServer::Done done;
};

namespace {

std::string queryEscape(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

Status readPatterns(JsonReader& reader, std::vector<std::regex>* patterns) {
  RETURN_IF_ERROR(reader.beginArray());
  while (reader.nextElement()) {
    std::string pattern;
    RETURN_IF_ERROR(reader.readString(&pattern));
    try {
      patterns->emplace_back(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      return Status(Code::INVALID_ARGUMENT, "bad channel pattern " + pattern);
    }
  }
  return reader.status();
}

Status readAuthorization(JsonReader& reader, AuthGrant::Authorization* out) {
  RETURN_IF_ERROR(reader.beginObject());
  std::string key;
  while (reader.nextKey(&key)) {
    if (key == "topic") {
      std::string pattern;
      RETURN_IF_ERROR(reader.readString(&pattern));
      try {
        out->topic = std::regex(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return Status(Code::INVALID_ARGUMENT, "bad topic pattern " + pattern);
      }
    } else if (key == "channels") {
      RETURN_IF_ERROR(readPatterns(reader, &out->channels));
    } else if (key == "permissions") {
      RETURN_IF_ERROR(reader.beginArray());
      while (reader.nextElement()) {
        std::string permission;
        RETURN_IF_ERROR(reader.readString(&permission));
        if (permission == "publish") {
          out->publish = true;
        } else if (permission == "subscribe") {
          out->subscribe = true;
        } else {
          return Status(Code::INVALID_ARGUMENT, "unknown permission " + permission);
        }
      }
      RETURN_IF_ERROR(reader.status());
    } else {
      RETURN_IF_ERROR(reader.skipValue());
    }
  }
  return reader.status();
}

}  // namespace

bool AuthGrant::allows(const std::string& topic, const std::string& channel) const {
  bool publishing = channel.empty();
  for (const Authorization& authorization : authorizations) {
    if (publishing ? !authorization.publish : !authorization.subscribe) continue;
    if (!std::regex_search(topic, authorization.topic)) continue;
    for (const std::regex& pattern : authorization.channels) {
      if (std::regex_search(channel, pattern)) return true;
    }
  }
  return false;
}

Result<AuthGrant> parseAuthGrant(const std::string& body) {
  AuthGrant grant;
  JsonReader reader(body);
  RETURN_IF_ERROR(reader.beginObject());
  std::string key;
  while (reader.nextKey(&key)) {
    if (key == "ttl") {
      RETURN_IF_ERROR(reader.readInt(&grant.ttl_s, INT64_MIN / 1000, INT64_MAX / 1000));
    } else if (key == "identity") {
      RETURN_IF_ERROR(reader.readString(&grant.identity));
    } else if (key == "identity_url") {
      RETURN_IF_ERROR(reader.readString(&grant.identity_url));
    } else if (key == "authorizations") {
      RETURN_IF_ERROR(reader.beginArray());
      while (reader.nextElement()) {
        AuthGrant::Authorization authorization;
        RETURN_IF_ERROR(readAuthorization(reader, &authorization));
        grant.authorizations.push_back(std::move(authorization));
      }
      RETURN_IF_ERROR(reader.status());
    } else {
      RETURN_IF_ERROR(reader.skipValue());
    }
  }
  RETURN_IF_ERROR(reader.status());
  RETURN_IF_ERROR(reader.finish());
  if (grant.ttl_s <= 0) return Status(Code::INVALID_ARGUMENT, "ttl must be above 0");
  return grant;
}

AuthServer::AuthServer(net::EventLoop& loop, std::vector<std::string> addresses, int64_t timeout_ms)
    : addresses_(std::move(addresses)) {
  http::HttpClient::Options options;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  options.max_body_bytes = 1u << 20;
  http_ = std::make_unique<http::HttpClient>(loop, options);
}

AuthServer::~AuthServer() = default;

void AuthServer::query(const std::string& secret, const std::string& remote_ip, bool tls,
                       Done done) {
  auto query = std::make_shared<AuthQuery>();
  // nsqd's parameters, in its (sorted) order; common_name is the TLS client certificate's CN.
  query->target = "?common_name=&remote_ip=" + queryEscape(remote_ip) +
                  "&secret=" + queryEscape(secret) + "&tls=" + (tls ? "true" : "false");
  query->done = std::move(done);
  tryServer(std::move(query), 0);
}

void AuthServer::tryServer(std::shared_ptr<AuthQuery> query, size_t attempt) {
  if (addresses_.empty() || attempt >= addresses_.size()) {
    query->done(Status(Code::UNAVAILABLE, "no auth server answered"));
    return;
  }
  const std::string& address = addresses_[(next_ + attempt) % addresses_.size()];
  if (attempt == 0) next_ = (next_ + 1) % addresses_.size();
  std::string url = address.rfind("http://", 0) == 0 ? address : "http://" + address + "/auth";
  http_->get(url + query->target,
             [this, query, attempt, address](Result<http::ClientResponse> response) {
               if (!response.isOk()) {
                 if (response.status().code() == Code::CANCELLED)
                   return query->done(response.status());
                 LOG_WARN(Queue, "auth server {}: {}", address, response.status().toString());
                 return tryServer(query, attempt + 1);
               }
               if (response->status != 200) {
                 LOG_WARN(Queue, "auth server {}: status {}", address, response->status);
                 return tryServer(query, attempt + 1);
               }
               Result<AuthGrant> grant = parseAuthGrant(response->body);
               if (!grant.isOk()) {
                 LOG_WARN(Queue, "auth server {}: bad answer: {}", address,
                          grant.status().toString());
                 return query->done(Status(Code::UNAVAILABLE, grant.status().message()));
               }
               if (grant->authorizations.empty()) {
                 return query->done(Status(Code::NOT_FOUND, "no authorizations found"));
               }
               query->done(std::move(grant));
             },
             {{"Accept", "application/vnd.nsq; version=1.0"}});
}

}  // namespace push::queued
