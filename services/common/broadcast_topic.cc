#include "services/common/broadcast_topic.h"

#include "common/queue/wire.h"

namespace push::service {

std::string broadcastTopic(std::string_view app) {
  return "bcast." + std::string(app);
}

Status checkBroadcastTopic(std::string_view app) {
  const std::string topic = broadcastTopic(app);
  if (queue::wire::isValidName(topic) && !queue::wire::isEphemeralName(topic)) return Status::ok();
  return invalidArgument("apps: '" + std::string(app) + "' cannot be broadcast to: topic '" +
                         topic +
                         "' is not a valid queued topic name (1..64 bytes of A-Z a-z 0-9 . _ -); "
                         "rename the app or leave queued empty");
}

}  // namespace push::service
