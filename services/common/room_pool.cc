#include "services/common/room_pool.h"

#include "common/base/log.h"

namespace push::service {

RoomPool::RoomPool(net::EventLoop& loop, rpc::Channel::Options options, size_t max_rooms)
    : loop_(loop), options_(std::move(options)), max_rooms_(max_rooms) {}

RoomPool::~RoomPool() = default;  // ChannelPtr closes each channel

rpc::Channel* RoomPool::get(const std::string& address) {
  auto it = channels_.find(address);
  if (it != channels_.end()) {
    it->second.last_used = ++clock_;
    return it->second.channel.get();
  }
  if (channels_.size() >= max_rooms_) {
    auto oldest = channels_.begin();
    for (auto i = channels_.begin(); i != channels_.end(); ++i) {
      if (i->second.last_used < oldest->second.last_used) oldest = i;
    }
    channels_.erase(oldest);
  }
  auto channel = rpc::Channel::create(loop_, options_);
  if (!channel.isOk()) return nullptr;
  rpc::ChannelPtr ptr = std::move(channel).value();
  if (!ptr->setEndpoints(std::vector<std::string>{address}).isOk()) {
    LOG_EVERY_SEC(Warn, Rpc, 1, "register returned a bad room address '{}'", address);
    return nullptr;
  }
  rpc::Channel* raw = ptr.get();
  channels_.emplace(address, Entry{std::move(ptr), ++clock_});
  return raw;
}

}  // namespace push::service
