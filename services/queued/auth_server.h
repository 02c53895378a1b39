#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace push::net {
class EventLoop;
}
namespace push::http {
class HttpClient;
}

namespace push::queued {

// What an auth server granted one secret (nsqd's --auth-http-address protocol): who it is, for
// how long, and which topics and channels it may publish to or subscribe on.
struct AuthGrant {
  struct Authorization {
    std::regex topic;                  // unanchored: matches if found anywhere, as Go's
    std::vector<std::regex> channels;  // at least one must match (publish checks "")
    bool publish = false;
    bool subscribe = false;
  };
  std::string identity;
  std::string identity_url;
  int64_t ttl_s = 0;
  std::vector<Authorization> authorizations;

  // nsqd's rule: an authorization with the permission (publish when `channel` is empty,
  // subscribe otherwise) whose topic pattern matches `topic` and one of whose channel patterns
  // matches `channel`.
  bool allows(const std::string& topic, const std::string& channel) const;
};

struct AuthQuery;

// Asks the auth server(s) about a secret: GET <address>/auth?common_name=&remote_ip=&secret=
// &tls= with nsqd's Accept header; the servers are tried in turn from a rotating start until
// one answers. Ownership: owns its HTTP client; pending queries complete with CANCELLED when
// it is destroyed. Loop-thread only.
class AuthServer {
 public:
  // A query's outcome: the grant; or UNAVAILABLE (no server answered 200 with valid JSON:
  // "E_AUTH_FAILED AUTH failed"); or NOT_FOUND (valid, but no authorizations:
  // "E_UNAUTHORIZED AUTH no authorizations found").
  using Done = std::function<void(Result<AuthGrant>)>;

  AuthServer(net::EventLoop& loop, std::vector<std::string> addresses, int64_t timeout_ms);
  ~AuthServer();

  void query(const std::string& secret, const std::string& remote_ip, bool tls, Done done);

 private:
  void tryServer(std::shared_ptr<AuthQuery> query, size_t attempt);

  std::vector<std::string> addresses_;
  size_t next_ = 0;
  std::unique_ptr<http::HttpClient> http_;
};

// Parses an auth server's JSON answer (exposed for tests).
Result<AuthGrant> parseAuthGrant(const std::string& body);

}  // namespace push::queued
