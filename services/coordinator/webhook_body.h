#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace push::coord {

class SessionEvent;
class UpstreamItem;

// The JSON bodies the coordinator POSTs to the apps (services/coordinator/README.md
// "Webhook requests"). Every string is JSON-escaped (JsonWriter); payloads are base64.

// {"request_id":..,"app":..,"user":..,"device":..,"room":..,"conn_id":..,"seq":..,"type":..,
//  "payload":"<base64>"}
std::string upstreamBody(const UpstreamItem& item, std::string_view request_id);
// [{"event":"online"|"offline","app":..,"user":..,"device":..,"room":..,"conn_id":..,
//   "time_ms":..}, ...]
std::string eventsBody(const std::vector<SessionEvent>& events);
// Standard base64 with padding (RFC 4648 §4).
std::string base64(std::string_view bytes);

}  // namespace push::coord
