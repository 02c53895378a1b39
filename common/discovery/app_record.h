#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace push::discovery {

// One secret an app's server signs client tokens with (DESIGN.md §5: HMAC-SHA256 over the
// claims). An app lists several while it rotates: a token signed with any listed secret that
// has not passed its `not_after_ms` is valid, and removing a secret from the record revokes
// every token signed with it.
struct AppSecret {
  // Names the secret in logs and in the record (never the secret itself). Unique in the app.
  std::string id;
  // The key bytes: at least kMinSecretBytes.
  std::string secret;
  // Unix time (ms) after which tokens signed with it are refused; 0: no end.
  int64_t not_after_ms = 0;

  bool operator==(const AppSecret& other) const = default;
};

// The data of `apps/<app>` (DESIGN.md §7), as JSON:
//
//   {"secrets":[{"id":"k2","secret":"...","not_after_ms":0}],
//    "api_keys":["..."],
//    "webhooks":{"upstream":{"default":"http://...","<type>":"http://..."},
//                "events":"http://..."},
//    "events":["online","offline"],
//    "push_rate_per_s":1000,"push_burst":2000,
//    "broadcast_rate_per_s":10,"broadcast_burst":20,"offline_ttl_s":604800}
//
// Missing members take the defaults below; unknown members are ignored (a newer writer may
// add some). decodeAppRecord() refuses a record that breaks a rule with INVALID_ARGUMENT
// naming the member: no secret, a secret shorter than kMinSecretBytes, duplicate secret ids
// or api keys, a webhook that is not an http:// or https:// URL with a host, an event not in
// kAppEvents, a number out of its range (given below) or not an integer.
struct AppRecord {
  static constexpr size_t kMinSecretBytes = 16;
  static constexpr size_t kMinApiKeyBytes = 16;

  // The node's name (not in the JSON).
  std::string name;
  // At least one. See AppSecret.
  std::vector<AppSecret> secrets;
  // Keys the app's servers present to the operator API (center); unique, kMinApiKeyBytes+.
  std::vector<std::string> api_keys;
  // Upstream message type -> the URL it is POSTed to; "default" for types not listed.
  std::map<std::string, std::string> upstream_webhooks;
  // Where online/offline events go; empty: none are sent.
  std::string events_webhook;
  // The events the app wants ("online", "offline"), sorted, no duplicates.
  std::vector<std::string> events;
  // Center's per-app limits (token buckets) and how long an undelivered message is kept.
  uint32_t push_rate_per_s = 1000;     // [1, 1'000'000]
  uint32_t push_burst = 2000;          // [1, 10'000'000]
  uint32_t broadcast_rate_per_s = 10;  // [1, 10'000]
  uint32_t broadcast_burst = 20;       // [1, 100'000]
  uint32_t offline_ttl_s = 604800;     // [60, 7'776'000] (1 minute .. 90 days)

  // The upstream URL for messages of `type`: its own, else "default", else "".
  const std::string& upstreamWebhook(std::string_view type) const;
  // The secrets valid at `now_ms` (Unix ms): not_after_ms 0 or later than now_ms.
  std::vector<const AppSecret*> activeSecrets(int64_t now_ms) const;
  bool wantsEvent(std::string_view event) const;

  bool operator==(const AppRecord& other) const = default;
};

// The events an app may ask for.
inline constexpr std::string_view kAppEvents[] = {"offline", "online"};

// The node data of `record` (its name is the node name, not written). Members in a fixed
// order, so equal records encode to equal bytes.
std::string encodeAppRecord(const AppRecord& record);
// Parses the data of `apps/<name>`. INVALID_ARGUMENT with the reason (see AppRecord).
Result<AppRecord> decodeAppRecord(std::string_view name, std::string_view data);

}  // namespace push::discovery
