#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace push::net {
class EventLoop;
}

namespace push::room {

class ClientProtocol;
class ConnectionTable;

// A room draining before it stops or restarts (docs/ARCHITECTURE.md §2, reconnect): every
// authenticated client gets Reconnect with a delay spread evenly over `window`, so the clients do
// not all come back at once; a connection still open at its delay + kGraceMs (or at `deadline`) is
// closed. Messages keep reaching a session until its client has moved (it connects elsewhere
// first, then closes this one). Connections not authenticated yet get Error{ERROR_DRAINING}.
//
// The listeners are closed by the owner (RoomServer) before start(). Loop-thread only.
class RoomDrain {
 public:
  // After the Reconnect delay, how long a client has to move before it is closed.
  static constexpr int64_t kGraceMs = 5'000;

  RoomDrain(net::EventLoop& loop, ConnectionTable& table, ClientProtocol& protocol)
      : loop_(loop), table_(table), protocol_(protocol) {}

  // Starts the drain (once; later calls only replace `on_drained` when one is given).
  // `on_drained` is posted to the loop once no connection is left.
  void start(std::chrono::milliseconds window, std::chrono::milliseconds deadline,
             std::function<void()> on_drained);
  bool active() const { return active_; }
  // Call after each connection closes: finishes the drain when it was the last.
  void check();

 private:
  net::EventLoop& loop_;
  ConnectionTable& table_;
  ClientProtocol& protocol_;
  bool active_ = false;
  std::function<void()> on_drained_;
};

}  // namespace push::room
