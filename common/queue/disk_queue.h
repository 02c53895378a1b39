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
// Durability: put() writes through to the file (one write(2) per record), so a record is in the
// page cache when put() returns and survives `kill -9` of the process; fsync happens every
// `sync_every` puts and on sync() (the owner calls it every --sync-timeout), which also fsyncs
// the segments closed since the last sync and the directory before replacing the metadata.
// Rolling over to a new segment costs no fsync.
//
// Reads after a crash: open() trusts the metadata's read position (records read but not yet
// synced as read are read again: at-least-once) and scans the segments from there, keeping every
// whole record whose checksum matches; the first torn or corrupt record ends the queue there: the
// tail is truncated and reported in RecoveryReport. A bad record in an earlier, closed segment
// ends that segment only (truncated there; later segments are kept). Segments before the
// metadata's read file are deleted (read; their deletion was lost in a crash). With no metadata
// (crash before the first sync) every segment is scanned from its start.
//
// Reading: front() reads ahead up to 1 MiB per read(2), so it costs no syscall per record. A
// record found bad while reading (the file changed behind the queue's back) is logged and the
// rest of its segment skipped; depth() may then count more than is left until the reader
// reaches the writer, where it is reset to 0.
//
// Threading: one thread (the loop). Errors are values; an I/O error leaves the queue usable for
// what it already holds where possible.
class DiskQueue {
 public:
  struct Options {
    std::string dir;   // must exist
    std::string name;  // file name prefix: "<topic>" or "<topic>:<channel>"
    uint64_t max_bytes_per_file = 100ull << 20;
    // Larger records are refused by put() and, found on disk, are corruption. At most 2^31.
    uint32_t max_record_size = 1u << 20;
    uint64_t sync_every = 2500;  // fsync after this many puts (0: only on sync())
  };

  struct RecoveryReport {
    uint64_t records = 0;     // whole records found unread at open
    uint64_t torn_bytes = 0;  // bytes dropped (partial or corrupt record and all after it),
                              // summed over every segment that had some
    std::string torn_file;    // path of the first segment with dropped bytes, empty if none
  };

  // Opens (creating if absent) the queue and recovers it as described above, then syncs (the
  // metadata file exists afterwards). `report` may be null. INVALID_ARGUMENT for a bad option,
  // INTERNAL naming the path for an I/O error.
  static Result<std::unique_ptr<DiskQueue>> open(const Options& options, RecoveryReport* report);
  ~DiskQueue();  // closes files after sync()

  DiskQueue(const DiskQueue&) = delete;
  DiskQueue& operator=(const DiskQueue&) = delete;

  // Appends one record. Fails (and writes nothing) when the record is empty (INVALID_ARGUMENT: a
  // zero length on disk means corruption) or larger than max_record_size (INVALID_ARGUMENT), or
  // the write fails (INTERNAL). A failed periodic fsync (sync_every) is logged, not returned:
  // the record is queued.
  Status put(std::string_view record);

  // The oldest unread record, or nullptr when empty. The view stays valid until the next call
  // of any method. Does not remove it: pop() does.
  Result<const std::string*> front();
  // Removes the oldest record (the one front() returned; front() is not required first).
  // FAILED_PRECONDITION when empty. Deletes a segment once its last record is popped.
  Status pop();

  uint64_t depth() const;  // records not yet popped

  // fsync the current segment and rewrite the metadata.
  Status sync();
  // Drops every record (files deleted, depth 0): /topic/empty, /channel/empty.
  Status empty();
  // Deletes every file of this queue; the object must not be used afterwards but be destroyed
  // (other methods return FAILED_PRECONDITION; the destructor writes nothing).
  Status removeFiles();

 private:
  struct Impl;
  explicit DiskQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace push::queue
