#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/base/status.h"
#include "services/queued/queued_options.h"

namespace push::queued {

// IDENTIFY as nsqd v1.3.0 handles it, without the connection: the body's JSON, the checks
// with nsqd's defaults, limits, order and error texts, and the JSON answered under feature
// negotiation. ProtocolV2::identify applies the result to the client and runs the TLS and
// compression upgrades. Pure functions: no I/O, no state, callable from any thread.

// IDENTIFY's body as sent; absent keys stay 0 / empty, as Go's decoder leaves them.
// Durations are in milliseconds, as the client sends them.
struct IdentifyRequest {
  std::string client_id, hostname, user_agent;
  bool has_client_id = false, has_hostname = false, has_user_agent = false;
  int64_t heartbeat_interval = 0, output_buffer_size = 0, output_buffer_timeout = 0;
  int64_t sample_rate = 0, msg_timeout = 0, deflate_level = 0;
  bool feature_negotiation = false, tls_v1 = false, deflate = false, snappy = false;
};

// Decodes IDENTIFY's JSON body into *request. Keys match case-insensitively and unknown keys
// are skipped (Go's decoder); `null` leaves every field at its default. An error (not JSON, a
// value of the wrong type, an integer out of its field's range, trailing bytes) is answered
// by the caller as nsqd does: "E_BAD_BODY IDENTIFY failed to decode JSON body".
Status parseIdentify(std::string_view body, IdentifyRequest* request);

// What IDENTIFY settles for a connection once nsqd's defaults and limits are applied.
struct IdentifySettings {
  int64_t heartbeat_interval_ms = 0;     // -1: heartbeats disabled
  int64_t output_buffer_timeout_ms = 0;  // 0: none
  int64_t output_buffer_size = 0;        // bytes
  int64_t sample_rate = 0;               // percent, 0..99
  int64_t msg_timeout_ms = 0;
  bool tls = false;  // upgrade to TLS after the answer
  bool deflate = false;
  bool snappy = false;        // never both deflate and snappy
  int64_t deflate_level = 0;  // 1..options.max_deflate_level; meaningful with deflate
};

// Validates `request` against `options` in nsqd's order and returns the settings, or an error
// whose message is the text to answer (fatal): "E_BAD_BODY IDENTIFY heartbeat interval (500)
// is invalid", ..., "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression".
// A feature is negotiated only when the client asks for feature_negotiation and for it, the
// server offers it (`tls_available`: a TLS context exists; options.deflate / options.snappy),
// and the stream is not already upgraded (`upgraded`: a second IDENTIFY negotiates nothing).
Result<IdentifySettings> negotiateIdentify(const IdentifyRequest& request,
                                           const QueuedOptions& options, bool tls_available,
                                           bool upgraded);

// The JSON object nsqd answers to an IDENTIFY with feature_negotiation, keys in nsqd's order
// (max_rdy_count, version, ..., output_buffer_timeout).
std::string identifyAnswer(const IdentifySettings& settings, const QueuedOptions& options);

}  // namespace push::queued
