#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/queue/wire.h"

namespace push::queued {

// nsqd v1.3.0's error texts for a command body it rejects, byte for byte (clients and the
// conformance test compare them). Every one of them is answered as a fatal error.

// A sized body ([u32 size][bytes]) whose size is bad or over `max`. `status` is BadSize or
// TooBig (not Ok / NeedMore); `size` is the size as sent. `code` is the error code
// ("E_BAD_BODY", "E_BAD_MESSAGE"), `noun` is "message body" for PUB and DPUB and "body" for
// IDENTIFY, AUTH and MPUB, which also picks nsqd's wording of "too big":
//   "E_BAD_MESSAGE PUB invalid message body size 0"
//   "E_BAD_MESSAGE PUB message too big 2000 > 1024"
//   "E_BAD_BODY MPUB body too big 9000 > 8192"
std::string bodyError(std::string_view code, std::string_view command,
                      queue::wire::BodyStatus status, int32_t size, uint32_t max,
                      std::string_view noun);

// An MPUB body whose contents parseMpubBody rejected (`status` is not Ok): the count, a
// message's size, or the body ending early. `body_size` is the whole body's size in bytes,
// `max_msg_size` the limit a message was over.
//   "E_BAD_BODY MPUB invalid message count 0"
//   "E_BAD_MESSAGE MPUB invalid message(2) body size 0"
//   "E_BAD_MESSAGE MPUB failed to read message(1) body size"
std::string mpubBodyError(queue::wire::MpubStatus status, const queue::wire::MpubError& error,
                          size_t body_size, uint32_t max_msg_size);

}  // namespace push::queued
