#pragma once

// push-load's broadcast modes (main.cc dispatches; flags in each mode's --help):
//   broadcast        POST /v1/broadcast publisher and/or room clients counting the broadcasts
//   redis-broadcast  the same with Redis PUBLISH / SUBSCRIBE (the baseline)
//   raw-broadcast    clients of push-broadcast-floor (the raw-epoll baseline)
// `argv[0]` is the mode; each returns the process's exit status.
namespace push::loadgen {

int broadcastMode(int argc, char** argv);
int redisBroadcastMode(int argc, char** argv);
int rawBroadcastMode(int argc, char** argv);

}  // namespace push::loadgen
