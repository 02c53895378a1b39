#pragma once

#include "common/http/router.h"

namespace push::queued {

class QueuedServer;

// nsqd's HTTP API on a Router (facts in README.md): /ping, /info, /pub, /mpub, /stats,
// /topic/{create,delete,empty,pause,unpause}, /channel/{...}, /config/{opt}; nsqd's status
// codes, bodies ({"message":"TOPIC_NOT_FOUND"}, "OK", empty 200s) and X-Nsq-Content-Type
// header. `server` must outlive the router.
http::Router makeHttpApi(QueuedServer& server);

}  // namespace push::queued
