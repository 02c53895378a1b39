#include "services/room/broadcast_consumer.h"

#include <algorithm>
#include <utility>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/tag_name.h"
#include "common/queue/wire.h"
#include "proto/broadcast.pb.h"
#include "proto/client.pb.h"
#include "services/common/broadcast_topic.h"
#include "services/room/app_table.h"
#include "services/room/broadcast_pacer.h"
#include "services/room/room_metrics.h"

namespace push::room {

namespace {

constexpr std::string_view kEphemeral = "#ephemeral";
constexpr size_t kMaxChannelBytes = 64;

bool channelChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '.' || ch == '_' || ch == '-';
}

}  // namespace

std::string BroadcastConsumer::channelFor(const std::string& room_id) {
  std::string id = room_id;
  for (char& ch : id) {
    if (!channelChar(ch)) ch = '_';
  }
  if (id.rfind("room", 0) != 0) id = "room-" + id;
  const size_t room_for_id = kMaxChannelBytes - kEphemeral.size();
  if (id.size() > room_for_id) id = "room-" + id.substr(id.size() - (room_for_id - 5));
  return id + std::string(kEphemeral);
}

BroadcastConsumer::BroadcastConsumer(net::EventLoop& loop, Options options, BroadcastPacer& pacer,
                                     std::string channel)
    : loop_(loop), options_(std::move(options)), pacer_(pacer), channel_(std::move(channel)) {}

BroadcastConsumer::~BroadcastConsumer() = default;

Result<std::unique_ptr<BroadcastConsumer>> BroadcastConsumer::create(net::EventLoop& loop,
                                                                     Options options,
                                                                     const AppTable& apps,
                                                                     const std::string& room_id,
                                                                     BroadcastPacer& pacer) {
  if (options.queued.empty() && options.lookupd.empty()) {
    return invalidArgument("broadcast: no queued or queued_lookupd address");
  }
  std::unique_ptr<BroadcastConsumer> self(
      new BroadcastConsumer(loop, std::move(options), pacer, channelFor(room_id)));
  self->apps_ = &apps;
  for (size_t i = 0; i < apps.size(); ++i) {
    if (apps.serves(static_cast<uint16_t>(i))) {
      RETURN_IF_ERROR(self->addApp(static_cast<uint16_t>(i)));
    }
  }
  LOG_INFO(Room, "broadcast: consuming bcast.<app> of {} apps, channel {}", apps.served(),
           self->channel_);
  return self;
}

Status BroadcastConsumer::addApp(uint16_t index) {
  if (stopping_) return Status::ok();  // the room is going: nothing new is subscribed
  if (index < consumers_.size() && consumers_[index]) return Status::ok();  // back again
  const std::string& app = apps_->name(index);
  RETURN_IF_ERROR(service::checkBroadcastTopic(app));
  queue::Consumer::Options o;
  o.topic = service::broadcastTopic(app);
  o.channel = channel_;
  o.nsqd_tcp_addresses = options_.queued;
  o.lookupd_http_addresses = options_.lookupd;
  o.lookup_interval = options_.lookup_interval;
  o.max_in_flight = options_.max_in_flight;
  // A broadcast that failed to reach the room's connections is not retried (no requeue):
  // the users missing it catch up by sequence (saver). FIN when dropped.
  o.auto_finish = true;
  // Nothing is held at stop (stop() drops it first): CLOSE_WAIT comes at once when queued is
  // up, and a room must not wait long for one that is not.
  o.stop_timeout = std::chrono::milliseconds(2'000);
  ASSIGN_OR_RETURN(auto consumer,
                   queue::Consumer::create(loop_, std::move(o), [this, index](queue::Message m) {
                     onMessage(index, std::move(m));
                   }));
  if (consumers_.size() <= index) {
    consumers_.resize(index + 1);
    latest_seq_.resize(index + 1, 0);
  }
  consumers_[index] = std::move(consumer);
  return Status::ok();
}

void BroadcastConsumer::onMessage(uint16_t app, queue::Message message) {
  ++stats_.received;
  broadcast::BroadcastMessage bm;
  const std::string& name = apps_->name(app);
  if (!bm.ParseFromString(message.body()) || bm.app() != name ||
      (!bm.tag().empty() && !isValidTagName(bm.tag()))) {
    ++stats_.invalid;
    roomMetrics().broadcasts_invalid.inc();
    LOG_WARN(Room, "broadcast: dropped an invalid message on topic {} ({} bytes, app '{}')",
             service::broadcastTopic(name), message.body().size(), bm.app());
    return;  // dropped: finished
  }
  // Expired or not, the app has reached this sequence.
  latest_seq_[app] = std::max(latest_seq_[app], bm.sequence());
  if (bm.expires_ms() != 0 &&
      static_cast<int64_t>(bm.expires_ms()) <= Clock::system().wallMillis()) {
    ++stats_.expired;
    roomMetrics().broadcasts_expired.inc();
    return;
  }
  client::Frame frame;
  client::Push* push = frame.mutable_push();
  push->set_message_id(bm.message_id());
  push->set_app(bm.app());
  push->set_payload(bm.payload());
  push->set_qos(bm.qos());
  push->set_created_ms(bm.created_ms());
  push->set_broadcast_seq(bm.sequence());
  push->set_tag(bm.tag());
  const uint64_t token = next_token_++;
  held_.emplace(token, std::move(message));
  ++stats_.queued_for_delivery;
  pacer_.enqueue(token, app, bm.tag(), frame.SerializeAsString());
}

void BroadcastConsumer::onWritten(uint64_t token, uint32_t /*written*/) {
  auto found = held_.find(token);
  if (found == held_.end()) return;
  found->second.finish();
  held_.erase(found);
  ++stats_.delivered;
}

void BroadcastConsumer::stop(std::function<void()> done) {
  stopping_ = true;
  pacer_.clear();
  held_.clear();  // unanswered: finished by the consumers (auto_finish)
  stop_done_ = std::move(done);
  stopping_left_ = 0;
  for (const auto& consumer : consumers_)
    if (consumer) ++stopping_left_;
  if (stopping_left_ == 0) {
    if (stop_done_) std::exchange(stop_done_, nullptr)();
    return;
  }
  for (auto& consumer : consumers_) {
    if (!consumer) continue;
    consumer->stop([this] {
      if (--stopping_left_ == 0 && stop_done_) std::exchange(stop_done_, nullptr)();
    });
  }
}

BroadcastConsumer::Stats BroadcastConsumer::stats() const {
  Stats s = stats_;
  s.connections = 0;
  for (const auto& consumer : consumers_)
    if (consumer) s.connections += consumer->stats().connections;
  return s;
}

}  // namespace push::room
