#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/base/status.h"

namespace push::queue {

// A FIFO of byte records on disk: where a topic's or channel's messages go once its memory queue
// is full (--mem-queue-size), and what survives a restart.
//
// Layout: in `dir`, segment files `<name>.diskqueue.<6-digit number>.dat`, each a sequence of
// records [u32 big-endian length][u32 big-endian CRC-32 of the payload][payload], and one
// metadata file `<name>.diskqueue.meta.dat` (text: depth, read file/position, write
// file/position) rewritten on sync(). A segment is closed once it passes max_bytes_per_file
// and a new one started; a segment is deleted once every record in it was read.
//
// Durability: put() writes through to the file (a write(2) per record, or per batch with
// putBatch), so a record is in the page cache when put() returns and survives `kill -9` of the
// process; fsync happens every `sync_every` puts and on sync() (the owner calls it every
// --sync-timeout). Reads after a crash: open() trusts the metadata's read position (records
// read but not yet synced as read are read again: at-least-once) and scans the segments from
// there, keeping every whole record whose checksum matches; the first torn or corrupt record
// ends the queue there: the tail is truncated and reported in RecoveryReport.
//
// Threading: one thread (the loop). Errors are values; an I/O error leaves the queue usable for
// what it already holds where possible.
class DiskQueue {
 public:
  struct Options {
    std::string dir;    // must exist
    std::string name;   // file name prefix: "<topic>" or "<topic>:<channel>"
    uint64_t max_bytes_per_file = 100ull << 20;
    uint32_t max_record_size = 1u << 20;  // larger records are refused by put() / skipped as corrupt
    uint64_t sync_every = 2500;           // fsync after this many puts (0: only on sync())
  };

  struct RecoveryReport {
    uint64_t records = 0;        // whole records found unread at open
    uint64_t torn_bytes = 0;     // bytes dropped at the tail (partial or corrupt record)
    std::string torn_file;       // the segment they were in, empty if none
  };

  // Opens (creating if absent) the queue and recovers it as described above.
  static Result<std::unique_ptr<DiskQueue>> open(const Options& options, RecoveryReport* report);
  ~DiskQueue();  // closes files after sync()

  DiskQueue(const DiskQueue&) = delete;
  DiskQueue& operator=(const DiskQueue&) = delete;

  // Appends one record. Fails (and writes nothing) when the record is larger than
  // max_record_size or the write fails.
  Status put(std::string_view record);

  // The oldest unread record, or nullptr when empty. The view stays valid until the next call
  // of any method. Does not remove it: pop() does.
  Result<const std::string*> front();
  // Removes the oldest record (the one front() returned).
  Status pop();

  uint64_t depth() const;  // records not yet popped

  // fsync the current segment and rewrite the metadata.
  Status sync();
  // Drops every record (files deleted, depth 0): /topic/empty, /channel/empty.
  Status empty();
  // Deletes every file of this queue; the object must not be used afterwards but be destroyed.
  Status removeFiles();

 private:
  struct Impl;
  explicit DiskQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace push::queue
