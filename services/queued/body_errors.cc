#include "services/queued/body_errors.h"

namespace push::queued {

namespace wire = queue::wire;

std::string bodyError(std::string_view code, std::string_view command, wire::BodyStatus status,
                      int32_t size, uint32_t max, std::string_view noun) {
  std::string text = std::string(code) + " " + std::string(command);
  if (status == wire::BodyStatus::BadSize) {
    return text + " invalid " + std::string(noun) + " size " + std::to_string(size);
  }
  std::string what = noun == "message body" ? " message too big " : " body too big ";
  return text + what + std::to_string(size) + " > " + std::to_string(max);
}

std::string mpubBodyError(wire::MpubStatus status, const wire::MpubError& error, size_t body_size,
                          uint32_t max_msg_size) {
  switch (status) {
    case wire::MpubStatus::Ok:
      break;
    case wire::MpubStatus::BadCount:
      return "E_BAD_BODY MPUB invalid message count " + std::to_string(error.size);
    case wire::MpubStatus::BadMessageSize:
      return "E_BAD_MESSAGE MPUB invalid message(" + std::to_string(error.index) + ") body size " +
             std::to_string(error.size);
    case wire::MpubStatus::MessageTooBig:
      return "E_BAD_MESSAGE MPUB message too big " + std::to_string(error.size) + " > " +
             std::to_string(max_msg_size);
    case wire::MpubStatus::Truncated:
      if (error.size == -1 && error.index == 0 && body_size < 4) {
        return "E_BAD_BODY MPUB failed to read message count";
      }
      return error.size == -1 ? "E_BAD_MESSAGE MPUB failed to read message(" +
                                    std::to_string(error.index) + ") body size"
                              : "E_BAD_MESSAGE MPUB failed to read message body";
  }
  return {};
}

}  // namespace push::queued
