#include "services/coordinator/webhook_body.h"

#include "common/base/json_writer.h"
#include "proto/coordinator.pb.h"

namespace push::coord {

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                       uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string upstreamBody(const UpstreamItem& item, std::string_view request_id) {
  JsonWriter w(128 + item.payload().size() * 4 / 3);
  w.beginObject();
  w.key("request_id").string(request_id);
  w.key("app").string(item.app());
  w.key("user").string(item.user());
  w.key("device").string(item.device());
  w.key("room").string(item.room());
  w.key("conn_id").uint64(item.conn_id());
  w.key("seq").uint64(item.seq());
  w.key("type").string(item.type());
  w.key("payload").string(base64(item.payload()));
  w.endObject();
  return w.take();
}

std::string eventsBody(const std::vector<SessionEvent>& events) {
  JsonWriter w(64 + events.size() * 128);
  w.beginArray();
  for (const SessionEvent& e : events) {
    w.beginObject();
    w.key("event").string(e.online() ? "online" : "offline");
    w.key("app").string(e.app());
    w.key("user").string(e.user());
    w.key("device").string(e.device());
    w.key("room").string(e.room());
    w.key("conn_id").uint64(e.conn_id());
    w.key("time_ms").int64(e.time_ms());
    w.endObject();
  }
  w.endArray();
  return w.take();
}

}  // namespace push::coord
