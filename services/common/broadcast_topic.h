#pragma once

#include <string>
#include <string_view>

#include "common/base/status.h"

namespace push::service {

// The queued topic that carries an app's broadcasts (proto/broadcast.proto): "bcast.<app>".
// Center publishes to it; every room consumes it. One rule for both sides.
std::string broadcastTopic(std::string_view app);

// OK when `app` makes a valid, non-ephemeral topic name (NSQ: 1..64 bytes of
// [A-Za-z0-9._-]); else INVALID_ARGUMENT naming the app and the rule, for a config error.
Status checkBroadcastTopic(std::string_view app);

}  // namespace push::service
