#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/base/status.h"
#include "common/queue/message.h"
#include "common/queue/queue_options.h"

namespace push::queue {

class Channel;
class DiskQueue;
class QueueEngine;

// A topic: what producers publish to. Each message is copied (the body shared) to every
// channel. While the topic has no channel, or is paused, messages wait in the topic's own queue
// (memory up to mem_queue_size, then its disk queue; an ephemeral topic drops the overflow)
// and move on to the channels once there are some / it is unpaused, at most
// topic_drain_batch per publish or tick so a big backlog never stalls the loop.
//
// Ownership: owned by the QueueEngine; owns its channels. Loop-thread only.
class Topic {
 public:
  Topic(QueueEngine& engine, std::string name, const QueueOptions& options,
        std::unique_ptr<DiskQueue> disk);
  ~Topic();

  Topic(const Topic&) = delete;
  Topic& operator=(const Topic&) = delete;

  const std::string& name() const { return name_; }
  bool ephemeral() const { return ephemeral_; }
  bool paused() const { return paused_; }

  // Publishes one message (a new id and timestamp are assigned by the engine). deliver_at_ms
  // > now defers it in every channel (DPUB).
  void publish(Message message);
  void publishDeferred(Message message, int64_t deliver_at_ms);

  // Channels. getOrCreateChannel fails only when the disk queue cannot be opened.
  Result<Channel*> getOrCreateChannel(const std::string& name);
  // Recreates ephemeral channel `name` from the disk queue a clean stop left
  // (Channel::flushToDisk), restored until `deadline_ms` (Channel::markRestored). Only while the
  // engine loads: like getOrCreateChannel then, it neither drains the topic nor tells the
  // listener. Fails when the disk queue cannot be opened.
  Result<Channel*> restoreEphemeralChannel(const std::string& name, int64_t deadline_ms);
  Channel* findChannel(const std::string& name);
  Status deleteChannel(const std::string& name);
  const std::map<std::string, std::unique_ptr<Channel>>& channels() const { return channels_; }

  void pause();
  void unpause();
  // Drops the topic's own backlog (not its channels' queues), as nsqd's /topic/empty.
  Status empty();
  // Closes every client of every channel. Without remove_files (a clean stop) every message
  // held in memory, in flight or deferred goes to the disk queues first (an ephemeral
  // channel's too with keep_ephemeral_on_restart, Channel::flushToDisk; else they are lost, as
  // nsqd's); with remove_files, deletes all disk files instead.
  Status close(bool remove_files);

  // Timeouts, deferred messages, backlog draining; deletes restored ephemeral channels whose
  // restore deadline passed with no client.
  void tick(int64_t now_ms);
  Status syncDisk();

  struct Stats {
    uint64_t depth = 0;  // the topic's own backlog, memory + disk
    uint64_t backend_depth = 0;
    uint64_t message_count = 0;  // messages published
    uint64_t message_bytes = 0;
    uint64_t dropped_count = 0;
  };
  Stats stats() const;

  QueueEngine& engine() { return engine_; }

 private:
  struct Pending {
    Message message;
    int64_t deliver_at_ms;  // 0: now
  };
  Channel* addChannel(const std::string& name, std::unique_ptr<DiskQueue> disk);
  void deleteUnclaimedChannels(int64_t now_ms);
  void fanOut(const Message& message, int64_t deliver_at_ms);
  void buffer(Message message, int64_t deliver_at_ms);
  void drainBacklog();
  Status flushToDisk();
  bool flowing() const { return !paused_ && !channels_.empty(); }

  QueueEngine& engine_;
  const std::string name_;
  const QueueOptions& options_;
  const bool ephemeral_;
  bool paused_ = false;
  std::unique_ptr<DiskQueue> disk_;
  // Messages waiting for a channel. Deferred ones keep their time here; on disk the delay is
  // lost and they are delivered when drained (nsqd's disk format has no place for it either).
  std::deque<Pending> memory_;
  std::map<std::string, std::unique_ptr<Channel>> channels_;
  Stats counters_;
};

}  // namespace push::queue
