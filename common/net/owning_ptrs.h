#pragma once

#include <memory>

// The owning handles of common/net's self-closing objects, in a header of their own so that a
// class can hold one without including the object's header (and <uv.h>): e.g. the HTTP server
// keeps its listener and timing wheel in one. Like conn_id.h, it only names things.
//
// Each of these objects owns libuv handles and deletes itself in their close callback
// (docs/CONVENTIONS.md §7), so its handle's deleter calls close(), never delete: destroying the
// handle (or reset()) closes the object at once (no callback of it runs afterwards) and the memory
// goes a loop turn later. The factories (TcpServer::listen, LoopWheel::create,
// PeriodicTimer::create, SignalWatcher::create) return these; nobody holds the objects by raw
// owning pointer. Reset every handle before its loop's shutdown(). Loop-thread only, like the
// objects. The deleters are defined in the objects' .cc files.

namespace push::net {

class LoopWheel;
class PeriodicTimer;
class SignalWatcher;
class TcpServer;

struct LoopWheelCloser {
  void operator()(LoopWheel* wheel) const;
};
using LoopWheelPtr = std::unique_ptr<LoopWheel, LoopWheelCloser>;

struct PeriodicTimerCloser {
  void operator()(PeriodicTimer* timer) const;
};
using PeriodicTimerPtr = std::unique_ptr<PeriodicTimer, PeriodicTimerCloser>;

struct SignalWatcherCloser {
  void operator()(SignalWatcher* watcher) const;
};
using SignalWatcherPtr = std::unique_ptr<SignalWatcher, SignalWatcherCloser>;

struct TcpServerCloser {
  void operator()(TcpServer* server) const;
};
using TcpServerPtr = std::unique_ptr<TcpServer, TcpServerCloser>;

}  // namespace push::net
