#include "common/queue/queue_engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common/base/json_reader.h"
#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/queue/channel.h"
#include "common/queue/disk_queue.h"
#include "common/queue/topic.h"
#include "common/queue/wire.h"

namespace push::queue {

namespace {

constexpr const char* kMetadataFile = "nsqd.dat";
constexpr const char* kVersion = "1.3.0";
// The ephemeral channels a clean stop kept (QueueOptions::keep_ephemeral_on_restart), in a file
// of queued's own rather than in nsqd.dat: nsqd v1.3.0 ignores unknown fields there, but it
// creates every channel nsqd.dat names, "#ephemeral" ones included, and such a channel, which no
// client ever joins and so never leaves, would take a copy of every message for good. An older
// queued and nsqd never open this file. Present only while it lists something.
constexpr const char* kEphemeralFile = "queued-ephemeral.dat";
constexpr int kEphemeralFileVersion = 1;

struct ChannelRecord {
  std::string name;
  bool paused = false;
};
struct TopicRecord {
  std::string name;
  bool paused = false;
  std::vector<ChannelRecord> channels;
};

struct EphemeralRecord {
  std::string topic;
  std::string channel;
  bool paused = false;
};

Status errnoStatus(const std::string& what) {
  return Status(Code::INTERNAL, what + ": " + std::strerror(errno));
}

// The whole file in *text; NOT_FOUND when it does not exist.
Status readFile(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status(Code::NOT_FOUND, path);
    return errnoStatus("open " + path);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return Status::ok();
}

// Temp file + fsync + rename: a crash leaves the old file or the new one, never half of one.
Status writeFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errnoStatus("open " + tmp);
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status status = errnoStatus("write " + tmp);
      ::close(fd);
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status status = errnoStatus("fsync " + tmp);
    ::close(fd);
    return status;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errnoStatus("rename " + tmp);
  return Status::ok();
}

// {"channels":[{"topic","channel","paused"}],"version":1}; unknown keys are skipped.
Status parseEphemeral(std::string_view text, std::vector<EphemeralRecord>* records) {
  JsonReader reader(text);
  RETURN_IF_ERROR(reader.beginObject());
  std::string key;
  while (reader.nextKey(&key)) {
    if (key != "channels") {
      RETURN_IF_ERROR(reader.skipValue());
      continue;
    }
    RETURN_IF_ERROR(reader.beginArray());
    while (reader.nextElement()) {
      EphemeralRecord record;
      RETURN_IF_ERROR(reader.beginObject());
      std::string field;
      while (reader.nextKey(&field)) {
        if (field == "topic") {
          RETURN_IF_ERROR(reader.readString(&record.topic));
        } else if (field == "channel") {
          RETURN_IF_ERROR(reader.readString(&record.channel));
        } else if (field == "paused") {
          RETURN_IF_ERROR(reader.readBool(&record.paused));
        } else {
          RETURN_IF_ERROR(reader.skipValue());
        }
      }
      RETURN_IF_ERROR(reader.status());
      records->push_back(std::move(record));
    }
    RETURN_IF_ERROR(reader.status());
  }
  RETURN_IF_ERROR(reader.status());
  return reader.finish();
}

Status readChannels(JsonReader& reader, std::vector<ChannelRecord>* channels) {
  RETURN_IF_ERROR(reader.beginArray());
  while (reader.nextElement()) {
    ChannelRecord record;
    RETURN_IF_ERROR(reader.beginObject());
    std::string key;
    while (reader.nextKey(&key)) {
      if (key == "name") {
        RETURN_IF_ERROR(reader.readString(&record.name));
      } else if (key == "paused") {
        RETURN_IF_ERROR(reader.readBool(&record.paused));
      } else {
        RETURN_IF_ERROR(reader.skipValue());
      }
    }
    RETURN_IF_ERROR(reader.status());
    channels->push_back(std::move(record));
  }
  return reader.status();
}

Status parseMetadata(std::string_view text, std::vector<TopicRecord>* topics) {
  JsonReader reader(text);
  RETURN_IF_ERROR(reader.beginObject());
  std::string key;
  while (reader.nextKey(&key)) {
    if (key != "topics") {
      RETURN_IF_ERROR(reader.skipValue());
      continue;
    }
    RETURN_IF_ERROR(reader.beginArray());
    while (reader.nextElement()) {
      TopicRecord topic;
      RETURN_IF_ERROR(reader.beginObject());
      std::string field;
      while (reader.nextKey(&field)) {
        if (field == "name") {
          RETURN_IF_ERROR(reader.readString(&topic.name));
        } else if (field == "paused") {
          RETURN_IF_ERROR(reader.readBool(&topic.paused));
        } else if (field == "channels") {
          // nsqd writes "channels":null for a topic without channels.
          if (!reader.isNull()) RETURN_IF_ERROR(readChannels(reader, &topic.channels));
        } else {
          RETURN_IF_ERROR(reader.skipValue());
        }
      }
      RETURN_IF_ERROR(reader.status());
      topics->push_back(std::move(topic));
    }
    RETURN_IF_ERROR(reader.status());
  }
  RETURN_IF_ERROR(reader.status());
  return reader.finish();
}

}  // namespace

QueueEngine::QueueEngine(QueueOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  // Ids keep growing across restarts: the wall clock in ms, shifted to leave 2^20 ids per ms of
  // uptime before a restart could reuse one.
  next_id_ = static_cast<uint64_t>(clock_.wallMillis()) << 20;
}

QueueEngine::~QueueEngine() = default;

Status QueueEngine::load() {
  std::string path = options_.data_path + "/" + kMetadataFile;
  std::string text;
  if (Status read = readFile(path, &text); !read.isOk()) {
    // Without nsqd.dat no topic is known: kept ephemeral channels cannot be either.
    return read.code() == Code::NOT_FOUND ? loadEphemeral() : read;
  }
  std::vector<TopicRecord> records;
  Status parsed = parseMetadata(text, &records);
  if (!parsed.isOk()) {
    return Status(Code::INVALID_ARGUMENT, path + ": " + parsed.message());
  }
  loading_ = true;
  for (const TopicRecord& record : records) {
    if (!wire::isValidName(record.name) || wire::isEphemeralName(record.name)) {
      LOG_WARN(Queue, "{}: skipping topic {:?}", path, record.name);
      continue;
    }
    Result<Topic*> topic = getOrCreateTopic(record.name);
    if (!topic.isOk()) {
      loading_ = false;
      return topic.status();
    }
    // Paused before its channels exist, so a paused topic's backlog stays with the topic (and
    // an unpaused one is drained by the next tick to every channel, not to the first alone).
    if (record.paused) (*topic)->pause();
    for (const ChannelRecord& channel_record : record.channels) {
      if (!wire::isValidName(channel_record.name) || wire::isEphemeralName(channel_record.name)) {
        continue;
      }
      Result<Channel*> channel = (*topic)->getOrCreateChannel(channel_record.name);
      if (!channel.isOk()) {
        loading_ = false;
        return channel.status();
      }
      if (channel_record.paused) (*channel)->pause();
    }
  }
  loading_ = false;
  LOG_INFO(Queue, "{}: {} topics loaded", path, topics_.size());
  // Before any tick: a restored channel must exist before its topic drains what it held.
  return loadEphemeral();
}

Status QueueEngine::loadEphemeral() {
  std::string path = options_.data_path + "/" + kEphemeralFile;
  std::string text;
  if (Status read = readFile(path, &text); !read.isOk()) {
    return read.code() == Code::NOT_FOUND ? Status::ok() : read;
  }
  std::vector<EphemeralRecord> records;
  if (Status parsed = parseEphemeral(text, &records); !parsed.isOk()) {
    return Status(Code::INVALID_ARGUMENT, path + ": " + parsed.message());
  }
  loading_ = true;
  const int64_t deadline = nowMs() + options_.ephemeral_restore_timeout_ms;
  size_t restored = 0;
  for (const EphemeralRecord& record : records) {
    if (!wire::isValidName(record.topic) || wire::isEphemeralName(record.topic) ||
        !wire::isValidName(record.channel) || !wire::isEphemeralName(record.channel)) {
      LOG_WARN(Queue, "{}: skipping channel {:?} of topic {:?}", path, record.channel,
               record.topic);
      continue;
    }
    Topic* topic = findTopic(record.topic);
    if (topic != nullptr && topic->findChannel(record.channel) != nullptr) {
      LOG_WARN(Queue, "{}: channel {:?} of topic {:?} listed twice", path, record.channel,
               record.topic);
      continue;  // restored already: its files are in use
    }
    if (options_.keep_ephemeral_on_restart && topic != nullptr) {
      Result<Channel*> channel = topic->restoreEphemeralChannel(record.channel, deadline);
      if (!channel.isOk()) {
        loading_ = false;
        return channel.status();
      }
      if (record.paused) (*channel)->pause();
      Channel::Stats stats = (*channel)->stats();
      LOG_INFO(Queue, "channel {}:{}: ephemeral, restored with {} messages", record.topic,
               record.channel, stats.depth);
      ++restored;
      continue;
    }
    // Turned off since (nsqd's behaviour: the messages are gone), or the topic was deleted
    // meanwhile: no backlog is left behind.
    Result<std::unique_ptr<DiskQueue>> disk =
        openDiskQueue(record.topic + ":" + record.channel, /*ephemeral=*/false);
    Status removed = disk.isOk() ? (*disk)->removeFiles() : disk.status();
    LOG_INFO(Queue, "channel {}:{}: ephemeral, kept at the last stop; dropped{}", record.topic,
             record.channel, removed.isOk() ? "" : ": " + removed.toString());
  }
  loading_ = false;
  LOG_INFO(Queue, "{}: {} ephemeral channels restored", path, restored);
  // Rewrites (or removes) the file to list what was restored, no more.
  return persistMetadata();
}

Status QueueEngine::persistMetadata() {
  JsonWriter json;
  json.beginObject().key("topics").beginArray();
  for (const auto& [name, topic] : topics_) {
    if (topic->ephemeral()) continue;
    json.beginObject().key("channels").beginArray();
    for (const auto& [channel_name, channel] : topic->channels()) {
      if (channel->ephemeral()) continue;
      json.beginObject()
          .key("name")
          .string(channel_name)
          .key("paused")
          .boolean(channel->paused())
          .endObject();
    }
    json.endArray().key("name").string(name).key("paused").boolean(topic->paused()).endObject();
  }
  json.endArray().key("version").string(kVersion).endObject();
  std::string text = json.take();
  text.push_back('\n');
  RETURN_IF_ERROR(writeFileAtomically(options_.data_path + "/" + kMetadataFile, text));
  return persistEphemeral();
}

Status QueueEngine::persistEphemeral() {
  // The ephemeral channels with a disk queue: kept by a clean stop, or restored and not yet
  // deleted (a crash now finds them again, with what their disk queues still hold).
  JsonWriter json;
  json.beginObject().key("channels").beginArray();
  size_t listed = 0;
  for (const auto& [name, topic] : topics_) {
    if (topic->ephemeral()) continue;
    for (const auto& [channel_name, channel] : topic->channels()) {
      if (!channel->ephemeral() || !channel->hasDiskQueue()) continue;
      json.beginObject()
          .key("topic")
          .string(name)
          .key("channel")
          .string(channel_name)
          .key("paused")
          .boolean(channel->paused())
          .endObject();
      ++listed;
    }
  }
  json.endArray().key("version").int64(kEphemeralFileVersion).endObject();
  std::string path = options_.data_path + "/" + kEphemeralFile;
  if (listed == 0) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errnoStatus("unlink " + path);
    return Status::ok();
  }
  std::string text = json.take();
  text.push_back('\n');
  return writeFileAtomically(path, text);
}

Result<Topic*> QueueEngine::getOrCreateTopic(const std::string& name) {
  if (Topic* existing = findTopic(name)) return existing;
  bool ephemeral = wire::isEphemeralName(name);
  ASSIGN_OR_RETURN(std::unique_ptr<DiskQueue> disk, openDiskQueue(name, ephemeral));
  auto topic = std::make_unique<Topic>(*this, name, options_, std::move(disk));
  Topic* raw = topic.get();
  topics_.emplace(name, std::move(topic));
  onCreated(name, "");
  return raw;
}

Topic* QueueEngine::findTopic(const std::string& name) {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

Status QueueEngine::deleteTopic(const std::string& name) {
  auto it = topics_.find(name);
  if (it == topics_.end()) return Status(Code::NOT_FOUND, "TOPIC_NOT_FOUND");
  std::unique_ptr<Topic> topic = std::move(it->second);
  topics_.erase(it);
  Status status = topic->close(/*remove_files=*/true);
  onDeleted(name, "");
  return status;
}

Message QueueEngine::newMessage(std::string_view body) {
  Message message;
  message.id = next_id_++;
  message.timestamp_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.wallNow().time_since_epoch())
          .count();
  message.body = BodyRef(body);
  return message;
}

std::span<Message> QueueEngine::newMessages(std::span<const std::string_view> bodies) {
  int64_t timestamp_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.wallNow().time_since_epoch())
          .count();
  batch_bodies_.clear();
  BodyRef::makeBatch(bodies, &batch_bodies_);
  batch_messages_.clear();
  batch_messages_.reserve(bodies.size());
  for (BodyRef& body : batch_bodies_) {
    Message& message = batch_messages_.emplace_back();
    message.id = next_id_++;
    message.timestamp_ns = timestamp_ns;
    message.body = std::move(body);
  }
  batch_bodies_.clear();
  return batch_messages_;
}

Result<std::unique_ptr<DiskQueue>> QueueEngine::openDiskQueue(const std::string& name,
                                                              bool ephemeral) {
  if (ephemeral) return std::unique_ptr<DiskQueue>();
  DiskQueue::Options disk_options;
  disk_options.dir = options_.data_path;
  disk_options.name = name;
  disk_options.max_bytes_per_file = options_.max_bytes_per_file;
  disk_options.max_record_size = options_.max_msg_size + wire::kMessageHeaderSize;
  disk_options.sync_every = options_.sync_every;
  DiskQueue::RecoveryReport report;
  Result<std::unique_ptr<DiskQueue>> disk = DiskQueue::open(disk_options, &report);
  if (!disk.isOk()) return disk.status();
  if (report.records > 0 || report.torn_bytes > 0) {
    LOG_INFO(Queue, "disk queue {}: recovered {} messages{}", name, report.records,
             report.torn_bytes > 0
                 ? " (" + std::to_string(report.torn_bytes) + " torn bytes dropped at the end of " +
                       report.torn_file + ")"
                 : std::string());
  }
  return disk;
}

void QueueEngine::onCreated(const std::string& topic, const std::string& channel) {
  if (loading_) return;
  (void)persistMetadata();
  if (listener_.created) listener_.created(topic, channel);
}

void QueueEngine::onDeleted(const std::string& topic, const std::string& channel) {
  (void)persistMetadata();
  if (listener_.deleted) listener_.deleted(topic, channel);
}

void QueueEngine::tick() {
  int64_t now = nowMs();
  for (auto& [name, topic] : topics_)
    topic->tick(now);
}

Status QueueEngine::syncDisks() {
  Status first = Status::ok();
  for (auto& [name, topic] : topics_) {
    Status status = topic->syncDisk();
    if (first.isOk() && !status.isOk()) first = status;
  }
  return first;
}

Status QueueEngine::close() {
  Status first = Status::ok();
  for (auto& [name, topic] : topics_) {
    Status status = topic->close(/*remove_files=*/false);
    if (first.isOk() && !status.isOk()) first = status;
  }
  Status metadata = persistMetadata();
  return first.isOk() ? metadata : first;
}

}  // namespace push::queue
