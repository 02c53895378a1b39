#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

#include "common/rpc/channel.h"

namespace push::net {
class EventLoop;
}

namespace push::service {

// One RPC channel per room address, created on first use (rooms are learned from register's
// sessions). Center delivers through it; center and coordinator kick through it (UserKicker).
// Bounded: beyond `max_rooms` the least recently used channel is closed. Loop-thread only; closes
// every channel when destroyed.
class RoomPool {
 public:
  RoomPool(net::EventLoop& loop, rpc::Channel::Options options, size_t max_rooms = 4096);
  ~RoomPool();
  // The channel for `address` ("host:port"), or nullptr if the address does not parse.
  rpc::Channel* get(const std::string& address);
  size_t size() const { return channels_.size(); }

 private:
  struct Entry {
    rpc::ChannelPtr channel;
    uint64_t last_used = 0;
  };
  net::EventLoop& loop_;
  rpc::Channel::Options options_;
  size_t max_rooms_;
  uint64_t clock_ = 0;
  std::unordered_map<std::string, Entry> channels_;
};

}  // namespace push::service
