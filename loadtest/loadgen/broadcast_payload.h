#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace push::loadgen {

// The payload of every broadcast of the broadcast benchmark (center, Redis and the raw floor
// alike): "bcast n=<number> t=<send ns> " padded with '.' to the requested size. <send ns> is
// steady_clock (CLOCK_MONOTONIC, one clock for every process of the machine) when the
// publisher queued the request, so any receiving process gets the latency from the API call.
// Text, so that it goes through center's JSON "payload" and Redis unchanged.
constexpr size_t kMinBroadcastPayloadBytes = 48;  // the tag with 20-digit numbers, and a space

// The payload of broadcast `number` sent at `sent_ns`, `bytes` long (at least the tag).
std::string makeBroadcastPayload(uint64_t number, int64_t sent_ns, size_t bytes);

// Reads the tag back; false when `payload` is not one of ours.
bool parseBroadcastPayload(std::string_view payload, uint64_t* number, int64_t* sent_ns);
// Only the number (the per-receipt path: the send time is read once per broadcast).
bool parseBroadcastNumber(std::string_view payload, uint64_t* number);

// What the benchmark needs of a client::Frame that carries a Push, read straight from the
// protobuf wire bytes (no parse into a message, no copy of the payload).
struct PushView {
  uint64_t broadcast_seq = 0;
  uint32_t qos = 0;
  std::string_view payload;  // points into the frame
};
// True when `frame` (a client::Frame's bytes, no length prefix) is a well-formed Frame{push}.
bool decodePushFrame(std::string_view frame, PushView* out);

}  // namespace push::loadgen
