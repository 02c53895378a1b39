#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/result.h"
#include "common/base/status.h"
#include "common/queue/message.h"
#include "common/queue/queue_options.h"

namespace push::queue {

class Channel;
class DiskQueue;
class Topic;

// The queue core: topics and their channels, message ids, disk queues and the metadata file
// (`<data_path>/nsqd.dat`, nsqd's name and layout: {"topics":[{"name","paused","channels":
// [{"name","paused"}]}],"version"}) so a restart finds the same topics, channels and paused
// states, and every message their disk queues held. Ephemeral channels kept by a clean stop are
// listed in a file of their own (load()), which nsqd and older queueds never read.
//
// Ownership: owns the topics. Loop-thread only; time comes from the Clock, and tick() is
// called by the owner (queued: every 10 ms) so tests can drive it.
class QueueEngine {
 public:
  // What a registry (nsqlookupd) needs to hear. Called after the change.
  struct Listener {
    std::function<void(const std::string& topic, const std::string& channel)> created;
    std::function<void(const std::string& topic, const std::string& channel)> deleted;
  };

  QueueEngine(QueueOptions options, const Clock& clock);
  ~QueueEngine();

  QueueEngine(const QueueEngine&) = delete;
  QueueEngine& operator=(const QueueEngine&) = delete;

  // Loads nsqd.dat and opens (recovering) the disk queue of every topic and channel in it.
  // A missing file is a fresh start; an unreadable one is an error (queued refuses to start
  // rather than forget topics). Then the ephemeral channels a clean stop kept
  // (`<data_path>/queued-ephemeral.dat`, QueueOptions::keep_ephemeral_on_restart): each is
  // recreated with its disk queue, before any tick (so the topic's backlog reaches it too),
  // and restored until now + ephemeral_restore_timeout_ms (Channel::markRestored). With the
  // option off, or when its topic is gone, its files are deleted instead.
  Status load();
  // Rewrites nsqd.dat (temp file + fsync + rename), and queued-ephemeral.dat (the ephemeral
  // channels that have a disk queue; removed when there is none). Called after every create,
  // delete, pause and unpause; a failure is logged and returned.
  Status persistMetadata();

  void setListener(Listener listener) { listener_ = std::move(listener); }

  // Topics. getOrCreateTopic fails only when the disk queue cannot be opened; names are
  // checked by the caller (wire::isValidName).
  Result<Topic*> getOrCreateTopic(const std::string& name);
  Topic* findTopic(const std::string& name);
  Status deleteTopic(const std::string& name);
  const std::map<std::string, std::unique_ptr<Topic>>& topics() const { return topics_; }

  // A new message: fresh id, the wall clock as its timestamp, attempts 0.
  Message newMessage(std::string_view body);
  // New messages for bodies that arrived together (MPUB): consecutive ids, one timestamp (one
  // clock read for the batch), bodies sharing allocations (BodyRef::makeBatch). They are in a
  // buffer of the engine's, valid until the next call: move them out.
  std::span<Message> newMessages(std::span<const std::string_view> bodies);

  // Opens the disk queue "<name>" (topic) or "<topic>:<channel>"; nullptr for ephemeral names.
  Result<std::unique_ptr<DiskQueue>> openDiskQueue(const std::string& name, bool ephemeral);

  // Called by Topic and Channel when they are created or deleted (persist + listener).
  void onCreated(const std::string& topic, const std::string& channel);
  void onDeleted(const std::string& topic, const std::string& channel);

  void tick();
  Status syncDisks();
  // Closes every client and syncs every disk queue (clean stop); with
  // keep_ephemeral_on_restart ephemeral channels' messages go to disk queues too.
  Status close();

  int64_t nowMs() const { return clock_.monoMillis(); }
  const QueueOptions& options() const { return options_; }
  bool loading() const { return loading_; }

 private:
  Status loadEphemeral();
  Status persistEphemeral();

  QueueOptions options_;
  const Clock& clock_;
  std::map<std::string, std::unique_ptr<Topic>> topics_;
  Listener listener_;
  uint64_t next_id_;
  std::vector<BodyRef> batch_bodies_;  // newMessages' buffers, reused
  std::vector<Message> batch_messages_;
  bool loading_ = false;
};

}  // namespace push::queue
