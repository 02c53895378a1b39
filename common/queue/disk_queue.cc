#include "common/queue/disk_queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/base/log.h"

namespace push::queue {

namespace {

constexpr size_t kHeaderBytes = 8;       // u32 length + u32 CRC-32, both big-endian
constexpr size_t kReadChunk = 1u << 20;  // the reader's read-ahead
constexpr size_t kSegmentDigits = 6;     // "<name>.diskqueue.000042.dat"
constexpr std::string_view kSegmentSuffix = ".dat";

Status ioError(std::string_view op, const std::string& path, int err) {
  return internalError(std::string(op) + " " + path + ": " + std::strerror(err));
}

uint32_t crcOf(std::string_view data) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  return static_cast<uint32_t>(
      ::crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

void putBe32(char* out, uint32_t v) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}

uint32_t getBe32(const char* in) {
  auto b = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

void closeFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

// Buffered positional reads of one segment file: one pread(2) fills up to kReadChunk bytes (or
// a whole record when larger), so front()/pop() over small records cost no syscall each.
class SegmentReader {
 public:
  // Forgets the buffer's contents; reads go to `fd` (not owned) from now on.
  void reset(int fd) {
    fd_ = fd;
    buf_off_ = 0;
    buf_len_ = 0;
  }
  // Frees the buffer (the queue was emptied).
  void release() {
    reset(-1);
    buf_.reset();
    cap_ = 0;
  }

  // Bytes [off, off + n) of the file, reading ahead no further than `end` (the readable end of
  // the segment; off + n <= end). The pointer is valid until the next call.
  Result<const char*> bytes(uint64_t off, size_t n, uint64_t end, const std::string& path) {
    assert(off + n <= end);
    if (off >= buf_off_ && off + n <= buf_off_ + buf_len_) return buf_.get() + (off - buf_off_);
    size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(kReadChunk, n), end - off));
    if (want > cap_) {
      // Grows to the read-ahead size at most (or one record when larger): a queue that is
      // only ever caught up with its writer keeps a small buffer.
      size_t cap = std::max(want, std::min(kReadChunk, cap_ * 2));
      buf_ = std::make_unique_for_overwrite<char[]>(cap);
      cap_ = cap;
      buf_len_ = 0;
    }
    size_t got = 0;
    while (got < want) {
      ssize_t r = ::pread(fd_, buf_.get() + got, want - got, static_cast<off_t>(off + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        buf_len_ = 0;
        return ioError("read", path, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    buf_off_ = off;
    buf_len_ = got;
    if (got < n) {
      buf_len_ = 0;
      return internalError("read " + path + ": file ends at " + std::to_string(off + got) +
                           ", expected at least " + std::to_string(off + n));
    }
    return static_cast<const char*>(buf_.get());
  }

 private:
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  uint64_t buf_off_ = 0;  // file offset of buf_[0]
  size_t buf_len_ = 0;    // valid bytes in buf_
};

// The record at `pos` of a segment whose readable bytes end at `end`. Returns true and the
// payload (valid until the reader's next call), or false and why the record is not whole and
// good; an error only when reading fails.
Result<bool> parseRecord(SegmentReader& reader, const std::string& path, uint64_t pos, uint64_t end,
                         uint32_t max_record_size, std::string_view* payload, std::string* why) {
  if (end - pos < kHeaderBytes) {
    *why = "partial header (" + std::to_string(end - pos) + " bytes)";
    return false;
  }
  ASSIGN_OR_RETURN(const char* header, reader.bytes(pos, kHeaderBytes, end, path));
  uint32_t len = getBe32(header);
  uint32_t crc = getBe32(header + 4);
  if (len == 0 || len > max_record_size) {
    *why = "bad length " + std::to_string(len);
    return false;
  }
  if (end - pos - kHeaderBytes < len) {
    *why = "partial record (length " + std::to_string(len) + ", " +
           std::to_string(end - pos - kHeaderBytes) + " bytes present)";
    return false;
  }
  ASSIGN_OR_RETURN(const char* rec, reader.bytes(pos, kHeaderBytes + len, end, path));
  std::string_view data(rec + kHeaderBytes, len);
  if (crcOf(data) != crc) {
    *why = "checksum mismatch (length " + std::to_string(len) + ")";
    return false;
  }
  *payload = data;
  return true;
}

struct Meta {
  uint64_t depth = 0;
  uint64_t read_file = 0;
  uint64_t read_pos = 0;
  uint64_t write_file = 0;
  uint64_t write_pos = 0;
};

// "depth\nread_file,read_pos\nwrite_file,write_pos\n" (the layout NSQ uses).
std::string formatMeta(const Meta& m) {
  return std::to_string(m.depth) + "\n" + std::to_string(m.read_file) + "," +
         std::to_string(m.read_pos) + "\n" + std::to_string(m.write_file) + "," +
         std::to_string(m.write_pos) + "\n";
}

bool parseMeta(std::string_view text, Meta* m) {
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto num = [&](uint64_t* out, char sep) {
    auto [next, ec] = std::from_chars(p, end, *out);
    if (ec != std::errc() || next == end || *next != sep) return false;
    p = next + 1;
    return true;
  };
  return num(&m->depth, '\n') && num(&m->read_file, ',') && num(&m->read_pos, '\n') &&
         num(&m->write_file, ',') && num(&m->write_pos, '\n') && p == end;
}

Status writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t r = ::write(fd, data.data(), data.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return ioError("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(r));
  }
  return Status::ok();
}

}  // namespace

struct DiskQueue::Impl {
  Options options;
  std::string prefix;     // "<dir>/<name>.diskqueue."
  std::string meta_path;  // "<prefix>meta.dat"

  uint64_t depth = 0;
  uint64_t read_file = 0;  // segment and offset of the oldest unpopped record
  uint64_t read_pos = 0;
  uint64_t write_file = 0;  // segment and offset of the next put (its file may not exist yet)
  uint64_t write_pos = 0;
  uint64_t puts_since_sync = 0;

  int write_fd = -1;  // write_file, opened on the first put into it
  // Closed segments not fsynced yet: sync() does it (for those not already read and deleted)
  // before writing metadata that may point past them, so rolling over costs no fsync.
  std::vector<uint64_t> unsynced_closed;
  int read_fd = -1;  // read_fd_file, opened by front()
  uint64_t read_fd_file = 0;
  std::string read_path;        // of read_fd_file
  uint64_t read_file_size = 0;  // the end of read_file once it is closed (read_file < write_file)
  SegmentReader reader;

  std::string front;  // the record front() returned, until pop()
  bool front_valid = false;
  bool removed = false;  // removeFiles() ran

  ~Impl() {
    closeFd(&write_fd);
    closeFd(&read_fd);
  }

  std::string segmentPath(uint64_t n) const {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(n));
    return prefix + digits + std::string(kSegmentSuffix);
  }

  // Segment numbers of this queue present in the directory, ascending.
  Result<std::vector<uint64_t>> listSegments() const {
    DIR* d = ::opendir(options.dir.c_str());
    if (!d) return ioError("opendir", options.dir, errno);
    std::string base = options.name + ".diskqueue.";
    std::vector<uint64_t> out;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string_view f = e->d_name;
      if (!f.starts_with(base) || !f.ends_with(kSegmentSuffix)) continue;
      std::string_view digits =
          f.substr(base.size(), f.size() - base.size() - kSegmentSuffix.size());
      if (digits.size() < kSegmentDigits) continue;
      uint64_t n = 0;
      auto [next, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || next != digits.data() + digits.size()) continue;
      out.push_back(n);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return ioError("readdir", options.dir, err);
    std::sort(out.begin(), out.end());
    return out;
  }

  Status writeMeta() {
    Meta m{depth, read_file, read_pos, write_file, write_pos};
    std::string text = formatMeta(m);
    std::string tmp = meta_path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ioError("open", tmp, errno);
    Status s = writeAll(fd, text, tmp);
    if (s.isOk() && ::fsync(fd) != 0) s = ioError("fsync", tmp, errno);
    ::close(fd);
    if (!s.isOk()) return s;
    if (::rename(tmp.c_str(), meta_path.c_str()) != 0) return ioError("rename", meta_path, errno);
    // The rename, and segments created or deleted since the last sync, are durable only once
    // the directory is.
    int dfd = ::open(options.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return ioError("open", options.dir, errno);
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) return ioError("fsync", options.dir, err);
    return Status::ok();
  }

  // Returns false when there is no usable metadata (absent, or unreadable as text: logged).
  Result<bool> readMeta(Meta* m) const {
    int fd = ::open(meta_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return false;
      return ioError("open", meta_path, errno);
    }
    char buf[256];
    std::string text;
    for (;;) {
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return ioError("read", meta_path, err);
      }
      if (r == 0 || text.size() > 4096) break;
      text.append(buf, static_cast<size_t>(r));
    }
    ::close(fd);
    if (!parseMeta(text, m)) {
      LOG_WARN(Queue, "{}: unreadable metadata, recovering from the segments alone", meta_path);
      return false;
    }
    return true;
  }

  // fsyncs and closes the segments closed since the last sync.
  Status syncClosed() {
    Status first;
    for (uint64_t n : unsynced_closed) {
      if (n < read_file) continue;  // read and deleted
      std::string path = segmentPath(n);
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno != ENOENT && first.isOk()) first = ioError("open", path, errno);
        continue;
      }
      if (::fdatasync(fd) != 0 && first.isOk()) first = ioError("fsync", path, errno);
      ::close(fd);
    }
    unsynced_closed.clear();
    return first;
  }

  // Closes the current segment and moves the writer to the next one, created on the next put.
  // The closed one is fsynced by the next sync(), before metadata that points past it.
  void rollWriter() {
    if (write_fd >= 0) unsynced_closed.push_back(write_file);
    closeFd(&write_fd);
    if (read_file == write_file) read_file_size = write_pos;
    ++write_file;
    write_pos = 0;
  }

  // Opens read_file for reading if not yet open. False when a closed segment's file is missing.
  Result<bool> openRead() {
    if (read_fd >= 0 && read_fd_file == read_file) return true;
    closeFd(&read_fd);
    std::string path = segmentPath(read_file);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT && read_file < write_file) return false;
      return ioError("open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ioError("fstat", path, err);
    }
    read_fd = fd;
    read_fd_file = read_file;
    read_path = std::move(path);
    read_file_size = static_cast<uint64_t>(st.st_size);
    reader.reset(fd);
    return true;
  }

  // The reader is done with read_file (a closed segment): delete it and move on.
  void advanceReadFile() {
    assert(read_file < write_file);
    closeFd(&read_fd);
    reader.reset(-1);
    std::string path = segmentPath(read_file);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      LOG_ERROR(Queue, "{}", ioError("unlink", path, errno).message());
    }
    ++read_file;
    read_pos = 0;
  }

  Result<const std::string*> frontRecord() {
    if (removed) return Status(Code::FAILED_PRECONDITION, "disk queue files were removed");
    if (front_valid) return &front;
    for (;;) {
      assert(read_file <= write_file);
      if (read_file == write_file && read_pos >= write_pos) {
        if (depth != 0) {
          LOG_ERROR(Queue, "{}: depth {} but nothing left to read (records were skipped)", prefix,
                    depth);
          depth = 0;
        }
        return static_cast<const std::string*>(nullptr);
      }
      bool closed = read_file < write_file;
      ASSIGN_OR_RETURN(bool exists, openRead());
      if (!exists) {
        advanceReadFile();
        continue;
      }
      uint64_t end = closed ? read_file_size : write_pos;
      if (read_pos >= end) {
        advanceReadFile();  // closed: `read_file == write_file` was handled above
        continue;
      }
      std::string_view payload;
      std::string why;
      ASSIGN_OR_RETURN(bool good, parseRecord(reader, read_path, read_pos, end,
                                              options.max_record_size, &payload, &why));
      if (!good) {
        // Only a change behind our back gets here (open() checked what was on disk, and
        // put() writes whole records): give up on the rest of this segment.
        LOG_ERROR(Queue,
                  "{}: corrupt record at offset {}: {}; skipping {} bytes to the next segment",
                  read_path, read_pos, why, end - read_pos);
        if (!closed) rollWriter();
        advanceReadFile();
        continue;
      }
      front.assign(payload);
      front_valid = true;
      return &front;
    }
  }

  Status popRecord() {
    if (!front_valid) {
      ASSIGN_OR_RETURN(const std::string* f, frontRecord());
      if (!f) return Status(Code::FAILED_PRECONDITION, "pop from an empty disk queue");
    }
    read_pos += kHeaderBytes + front.size();
    front_valid = false;
    if (depth > 0) --depth;
    if (read_file < write_file && read_pos >= read_file_size) advanceReadFile();
    return Status::ok();
  }

  Status putRecord(std::string_view record) {
    if (removed) return Status(Code::FAILED_PRECONDITION, "disk queue files were removed");
    if (record.empty() || record.size() > options.max_record_size) {
      return invalidArgument("disk queue record of " + std::to_string(record.size()) +
                             " bytes (must be 1.." + std::to_string(options.max_record_size) + ")");
    }
    std::string path;
    if (write_fd < 0) {
      path = segmentPath(write_file);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return ioError("open", path, errno);
      write_fd = fd;
    }
    char header[kHeaderBytes];
    putBe32(header, static_cast<uint32_t>(record.size()));
    putBe32(header + 4, crcOf(record));
    iovec iov[2] = {{header, kHeaderBytes}, {const_cast<char*>(record.data()), record.size()}};
    size_t total = kHeaderBytes + record.size();
    size_t done = 0;
    while (done < total) {
      iovec* v = iov;
      int count = 2;
      iovec rest[2];
      if (done > 0) {  // a short write: resume where it stopped
        size_t skip = done;
        count = 0;
        for (const iovec& part : iov) {
          if (skip >= part.iov_len) {
            skip -= part.iov_len;
            continue;
          }
          rest[count++] = {static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
          skip = 0;
        }
        v = rest;
      }
      ssize_t r = ::pwritev(write_fd, v, count, static_cast<off_t>(write_pos + done));
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        int err = r < 0 ? errno : EIO;  // 0 bytes written: would loop forever
        if (path.empty()) path = segmentPath(write_file);
        // Leave nothing of a partial record behind.
        if (done > 0 && ::ftruncate(write_fd, static_cast<off_t>(write_pos)) != 0) {
          LOG_ERROR(Queue, "{}", ioError("ftruncate", path, errno).message());
        }
        return ioError("write", path, err);
      }
      done += static_cast<size_t>(r);
    }
    write_pos += total;
    ++depth;
    if (options.sync_every != 0 && ++puts_since_sync >= options.sync_every) {
      Status s = sync();
      if (!s.isOk()) LOG_EVERY_SEC(Error, Queue, 1, "{}: sync failed: {}", prefix, s.message());
    }
    if (write_pos >= options.max_bytes_per_file) rollWriter();
    return Status::ok();
  }

  Status sync() {
    if (removed) return Status(Code::FAILED_PRECONDITION, "disk queue files were removed");
    RETURN_IF_ERROR(syncClosed());
    if (write_fd >= 0 && ::fdatasync(write_fd) != 0) {
      return ioError("fsync", segmentPath(write_file), errno);
    }
    RETURN_IF_ERROR(writeMeta());
    puts_since_sync = 0;
    return Status::ok();
  }

  // Deletes every segment file of this queue; returns the first error after trying them all.
  Status deleteSegments(uint64_t* last) {
    unsynced_closed.clear();
    closeFd(&write_fd);
    closeFd(&read_fd);
    reader.release();
    front_valid = false;
    front = std::string();
    ASSIGN_OR_RETURN(std::vector<uint64_t> segs, listSegments());
    Status first;
    for (uint64_t n : segs) {
      std::string path = segmentPath(n);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT && first.isOk()) {
        first = ioError("unlink", path, errno);
      }
    }
    if (last && !segs.empty()) *last = std::max(*last, segs.back());
    return first;
  }

  Status empty() {
    if (removed) return Status(Code::FAILED_PRECONDITION, "disk queue files were removed");
    uint64_t last = write_file;
    Status deleted = deleteSegments(&last);
    // Numbers are not reused, so a file that could not be deleted is never read as new.
    write_file = last + 1;
    write_pos = 0;
    read_file = write_file;
    read_pos = 0;
    depth = 0;
    Status synced = sync();
    return deleted.isOk() ? synced : deleted;
  }

  Status removeFiles() {
    if (removed) return Status::ok();
    removed = true;
    Status first = deleteSegments(nullptr);
    for (const std::string& path : {meta_path, meta_path + ".tmp"}) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT && first.isOk()) {
        first = ioError("unlink", path, errno);
      }
    }
    depth = 0;
    return first;
  }

  // Segment n from `start`: counts its whole, good records and truncates the file after the last
  // one. Adds what was dropped to `report`.
  Status recoverSegment(uint64_t n, uint64_t start, bool is_last, uint64_t* records,
                        uint64_t* end_out, DiskQueue::RecoveryReport* report) {
    std::string path = segmentPath(n);
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return ioError("open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ioError("fstat", path, err);
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (start > size) {
      LOG_WARN(Queue, "{}: metadata read position {} is past the end ({} bytes)", path, start,
               size);
      start = size;
    }
    SegmentReader scan;
    scan.reset(fd);
    uint64_t pos = start;
    std::string why;
    while (pos < size) {
      std::string_view payload;
      Result<bool> good =
          parseRecord(scan, path, pos, size, options.max_record_size, &payload, &why);
      if (!good.isOk()) {
        ::close(fd);
        return good.status();
      }
      if (!*good) break;
      pos += kHeaderBytes + payload.size();
      ++*records;
    }
    if (pos < size) {
      LOG_WARN(Queue, "{}: {} at offset {}; dropping {} bytes{}", path, why, pos, size - pos,
               is_last ? " at the tail" : ", the rest of this closed segment");
      if (::ftruncate(fd, static_cast<off_t>(pos)) != 0 || ::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        return ioError("truncate", path, err);
      }
      report->torn_bytes += size - pos;
      if (report->torn_file.empty()) report->torn_file = path;
    }
    ::close(fd);
    *end_out = pos;
    return Status::ok();
  }

  Status recover(DiskQueue::RecoveryReport* report) {
    Meta meta;
    ASSIGN_OR_RETURN(bool have_meta, readMeta(&meta));
    ASSIGN_OR_RETURN(std::vector<uint64_t> segs, listSegments());
    uint64_t start_file = 0;
    uint64_t start_pos = 0;
    if (have_meta) {
      start_file = meta.read_file;
      start_pos = meta.read_pos;
    } else if (!segs.empty()) {
      start_file = segs.front();
      LOG_INFO(Queue, "{}: no metadata, recovering from {} segment(s)", prefix, segs.size());
    }
    // Segments before the read position were read to the end; their deletion did not happen
    // or was not made durable before a crash.
    std::vector<uint64_t> kept;
    for (uint64_t n : segs) {
      if (n >= start_file) {
        kept.push_back(n);
        continue;
      }
      std::string path = segmentPath(n);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ioError("unlink", path, errno);
    }
    uint64_t meta_write_file = have_meta ? meta.write_file : 0;
    if (kept.empty()) {
      write_file = std::max(meta_write_file, start_file);
      write_pos = 0;
      read_file = write_file;
      read_pos = 0;
      depth = 0;
      return Status::ok();
    }
    if (kept.front() != start_file) start_pos = 0;
    uint64_t records = 0;
    uint64_t last_end = 0;
    for (size_t i = 0; i < kept.size(); ++i) {
      uint64_t from = i == 0 ? start_pos : 0;
      uint64_t end = 0;
      RETURN_IF_ERROR(recoverSegment(kept[i], from, i + 1 == kept.size(), &records, &end, report));
      if (i == 0) start_pos = std::min(start_pos, end);
      last_end = end;
    }
    read_file = kept.front();
    read_pos = start_pos;
    write_file = std::max(kept.back(), meta_write_file);
    write_pos = write_file == kept.back() ? last_end : 0;
    if (write_pos >= options.max_bytes_per_file) {
      ++write_file;
      write_pos = 0;
    }
    depth = records;
    return Status::ok();
  }
};

Result<std::unique_ptr<DiskQueue>> DiskQueue::open(const Options& options, RecoveryReport* report) {
  if (options.dir.empty() || options.name.empty() || options.name.find('/') != std::string::npos) {
    return invalidArgument("disk queue needs a dir and a name without '/' (name \"" + options.name +
                           "\")");
  }
  if (options.max_bytes_per_file == 0 || options.max_record_size == 0 ||
      options.max_record_size > (1u << 31)) {
    return invalidArgument("disk queue " + options.name +
                           ": max_bytes_per_file must be > 0 and max_record_size 1..2^31");
  }
  struct stat st {};
  if (::stat(options.dir.c_str(), &st) != 0) return ioError("stat", options.dir, errno);
  if (!S_ISDIR(st.st_mode)) return invalidArgument(options.dir + " is not a directory");

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->prefix = options.dir + "/" + options.name + ".diskqueue.";
  impl->meta_path = impl->prefix + "meta.dat";

  RecoveryReport local;
  RecoveryReport* rep = report ? report : &local;
  *rep = RecoveryReport{};
  RETURN_IF_ERROR(impl->recover(rep));
  rep->records = impl->depth;
  // Records the recovered state, truncations included, before anything new is written.
  RETURN_IF_ERROR(impl->sync());
  return std::unique_ptr<DiskQueue>(new DiskQueue(std::move(impl)));
}

DiskQueue::DiskQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DiskQueue::~DiskQueue() {
  if (impl_->removed) return;
  Status s = impl_->sync();
  if (!s.isOk()) LOG_ERROR(Queue, "{}: sync on close failed: {}", impl_->prefix, s.message());
}

Status DiskQueue::put(std::string_view record) {
  return impl_->putRecord(record);
}

Result<const std::string*> DiskQueue::front() {
  return impl_->frontRecord();
}

Status DiskQueue::pop() {
  return impl_->popRecord();
}

uint64_t DiskQueue::depth() const {
  return impl_->depth;
}

Status DiskQueue::sync() {
  return impl_->sync();
}

Status DiskQueue::empty() {
  return impl_->empty();
}

Status DiskQueue::removeFiles() {
  return impl_->removeFiles();
}

}  // namespace push::queue
