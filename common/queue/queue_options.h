#pragma once

#include <cstdint>
#include <string>

namespace push::queue {

// What the engine needs of queued's flags (nsqd's names in comments). Shared by reference by
// every topic and channel; owned by the QueueEngine.
struct QueueOptions {
  std::string data_path;                       // --data-path: disk queues and metadata
  int64_t mem_queue_size = 10000;              // --mem-queue-size: messages kept in memory per
                                               // topic and channel before the disk queue
  uint64_t max_bytes_per_file = 100ull << 20;  // --max-bytes-per-file
  uint64_t sync_every = 2500;                  // --sync-every: fsync after this many disk writes
  uint32_t max_msg_size = 1048576;             // --max-msg-size
  int64_t msg_timeout_ms = 60000;              // --msg-timeout
  int64_t max_msg_timeout_ms = 15 * 60000;     // --max-msg-timeout
  int64_t max_req_timeout_ms = 60 * 60000;     // --max-req-timeout
  // Messages a topic moves from its own backlog to its channels per tick or per publish, so a
  // large backlog (a topic that had no channel) never blocks the loop for long.
  size_t topic_drain_batch = 4096;
  // queued only (nsqd has neither; README "Ephemeral channels across a restart"):
  // --keep-ephemeral-on-restart: at a clean stop an ephemeral channel of a durable topic writes
  // its messages (queued, in flight, deferred) to a disk queue and is listed in
  // queued-ephemeral.dat, so the next start recreates it with them. false: nsqd's behaviour
  // (they are lost).
  bool keep_ephemeral_on_restart = true;
  // --ephemeral-restore-timeout: a restored ephemeral channel that no client subscribes to
  // within this long after the start is deleted with its messages and files. Milliseconds, > 0.
  int64_t ephemeral_restore_timeout_ms = 60000;
};

}  // namespace push::queue
