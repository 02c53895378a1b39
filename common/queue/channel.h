#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/status.h"
#include "common/net/timing_wheel.h"
#include "common/queue/message.h"
#include "common/queue/queue_options.h"

namespace push::queue {

class DiskQueue;
class Topic;

// A consumer subscribed to one channel: queued's protocol connection implements it. The
// channel keeps the counters it schedules by here, so dispatch touches no map.
class ChannelClient {
 public:
  // Writes one message to the client (it is in flight from now on). Called from inside the
  // channel's put/finish/setReady/tick calls; must not call back into the channel.
  virtual void sendMessage(const Message& message) = 0;
  // The channel is being deleted (HTTP /channel/delete, /topic/delete): close the client. The
  // channel forgets the client right after this returns.
  virtual void onChannelClosing() = 0;

  int64_t readyCount() const { return ready_count_; }
  int64_t inFlightCount() const { return in_flight_; }

 protected:
  ~ChannelClient() = default;

 private:
  friend class Channel;
  int64_t ready_count_ = 0;
  int64_t in_flight_ = 0;
  int64_t msg_timeout_ms_ = 60000;
  int32_t sample_rate_ = 0;
  bool in_ready_ring_ = false;
};

// One channel of a topic: every channel gets a copy of each message of its topic; the clients
// subscribed to it share them, each taking up to its RDY count in flight. A message handed to a
// client is in flight until FIN (done), REQ (back to the queue, now or after a delay) or its
// timeout (back to the queue); attempts count the deliveries.
//
// Queue: memory up to Options::mem_queue_size, then the channel's DiskQueue; an ephemeral
// channel has no disk queue and drops what does not fit (counted), as nsqd does. Except with
// QueueOptions::keep_ephemeral_on_restart: a clean stop gives an ephemeral channel a disk queue
// (flushToDisk), and the channel restored from it at the next start keeps it (overflow goes
// there) until it is deleted: with its last client, or at its restore deadline when no client
// came (markRestored).
//
// Ownership: owned by its Topic. Clients are not owned: a client calls removeClient() before it
// goes away. Loop-thread only; time comes in through tick(now_ms) (fake-time testable).
class Channel {
 public:
  Channel(Topic& topic, std::string name, const QueueOptions& options,
          std::unique_ptr<DiskQueue> disk, int64_t now_ms);
  ~Channel();

  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  const std::string& name() const { return name_; }
  Topic& topic() { return topic_; }
  bool ephemeral() const { return ephemeral_; }
  bool paused() const { return paused_; }
  // Whether the channel has a disk queue: always unless ephemeral; an ephemeral one only once
  // flushToDisk kept its messages, or when it was restored from them.
  bool hasDiskQueue() const { return disk_ != nullptr; }

  // An ephemeral channel recreated from its disk queue at start (QueueEngine::load): unless a
  // client subscribes before `deadline_ms` (engine time), Topic::tick deletes it, files and all,
  // at the first tick at or after it. addClient() clears the deadline for good.
  void markRestored(int64_t deadline_ms) { restore_deadline_ms_ = deadline_ms; }
  // The deadline above; 0 when none is pending.
  int64_t restoreDeadlineMs() const { return restore_deadline_ms_; }

  // A new message from the topic (or a requeue): queued, then handed out if a client is ready.
  void put(Message message);
  // A message whose delivery waits until deliver_at_ms (DPUB, REQ with a delay).
  void putDeferred(Message message, int64_t deliver_at_ms);

  // Clients. `msg_timeout_ms` is the client's in-flight timeout (IDENTIFY msg_timeout).
  // `sample_rate` (IDENTIFY sample_rate, 1..99; 0 = every message) makes the client a sampler,
  // as in nsqd: each message it would be handed goes to it only when a draw in 0..99 is at
  // most sample_rate, and is otherwise taken off the channel and dropped (counted in
  // Stats::sampled_out_count). A channel with sampling consumers loses messages by design.
  void addClient(ChannelClient* client, int64_t msg_timeout_ms, int32_t sample_rate = 0);
  // Requeues the client's in-flight messages at once (nsqd waits for their timeouts; a client
  // that is gone will not finish them, so waiting only delays them).
  void removeClient(ChannelClient* client);
  size_t clientCount() const { return clients_.size(); }
  void setReady(ChannelClient* client, int64_t count);

  // What a client says about a message it holds. NOT_FOUND "ID not in flight";
  // PERMISSION_DENIED "client does not own message" (nsqd's texts).
  Status finish(ChannelClient* client, uint64_t id);
  Status requeue(ChannelClient* client, uint64_t id, int64_t delay_ms, int64_t now_ms);
  Status touch(ChannelClient* client, uint64_t id, int64_t now_ms);

  // Timeouts and deferred messages due by now_ms; then dispatch.
  void tick(int64_t now_ms);

  void pause();
  void unpause();
  // Drops every queued, deferred and in-flight message (clients' in-flight counts reset).
  Status empty();
  // Tells every client to close and forgets them: the channel is about to be destroyed.
  void closeClients();
  // Deletes the disk queue's files (the channel is being deleted, not just closed).
  Status removeFiles();
  Status syncDisk();
  // A clean stop: every message in memory, in flight or deferred is written to the disk queue
  // (after what is there already; deferred ones lose their delay), then synced. Clients must be
  // gone (closeClients). An ephemeral channel of a durable topic first opens a disk queue of
  // its own ("<topic>:<channel>", a durable channel's naming) when keep_ephemeral_on_restart
  // is set, even when it holds nothing (restored, it gets what the topic still held and what
  // is published before its consumer is back); otherwise (and for an ephemeral topic's
  // channels) a no-op: the messages are lost, as nsqd's.
  Status flushToDisk();

  struct Stats {
    uint64_t depth = 0;          // memory + disk
    uint64_t backend_depth = 0;  // disk
    uint64_t in_flight = 0;
    uint64_t deferred = 0;
    uint64_t message_count = 0;  // put() calls, requeues excluded
    uint64_t requeue_count = 0;
    uint64_t timeout_count = 0;
    uint64_t dropped_count = 0;      // ephemeral overflow, disk write failures
    uint64_t sampled_out_count = 0;  // dropped for a sampling client (addClient sample_rate)
    size_t clients = 0;
  };
  Stats stats() const;

  // Dispatch as much as the ready clients take. Called by the mutators above; public for the
  // topic, which calls it after a batch of put()s.
  void dispatch();

 private:
  struct InFlight {
    Message message;
    ChannelClient* client;
    int64_t deadline_ms;
  };
  struct Deferred {
    int64_t deliver_at_ms;
    uint64_t seq;
    Message message;
    bool operator>(const Deferred& other) const {
      return deliver_at_ms != other.deliver_at_ms ? deliver_at_ms > other.deliver_at_ms
                                                  : seq > other.seq;
    }
  };

  using InFlightMap = std::unordered_map<uint64_t, InFlight>;
  Status checkOwner(InFlightMap::const_iterator it, const ChannelClient* client) const;
  bool hasQueued() const;
  bool popQueued(Message* message);
  void enqueue(Message message);
  void onTimeout(uint64_t id);
  bool isReady(const ChannelClient* client) const;
  void markReady(ChannelClient* client);
  void requeueNow(Message message);
  bool sampledOut(const ChannelClient* client);

  Topic& topic_;
  const std::string name_;
  const QueueOptions& options_;
  const bool ephemeral_;
  bool paused_ = false;
  std::unique_ptr<DiskQueue> disk_;
  std::deque<Message> memory_;
  std::vector<ChannelClient*> clients_;
  std::deque<ChannelClient*> ready_ring_;  // clients that can take more, round robin
  InFlightMap in_flight_;
  std::priority_queue<Deferred, std::vector<Deferred>, std::greater<>> deferred_;
  net::TimingWheel timeouts_;
  int64_t now_ms_;
  uint64_t deferred_seq_ = 0;
  int64_t restore_deadline_ms_ = 0;  // markRestored; 0: none
  bool read_disk_next_ = false;      // alternate memory and disk so neither starves
  bool dispatching_ = false;
  uint64_t sample_state_ = 0x9e3779b97f4a7c15ULL;  // xorshift64 for sampling draws
  Stats counters_;
};

}  // namespace push::queue
