#include "services/common/cluster_key.h"

namespace push::service {

Status applyClusterKey(const std::string& key, const ConfigFile* file, rpc::Server::Options* server,
                       std::initializer_list<rpc::Channel::Options*> channels) {
  if (key.empty()) return Status::ok();
  if (key.size() < kMinClusterKeyBytes || key.size() > kMaxClusterKeyBytes) {
    const std::string why = std::to_string(key.size()) + " bytes: a key needs " +
                            std::to_string(kMinClusterKeyBytes) + ".." +
                            std::to_string(kMaxClusterKeyBytes);
    return file ? file->fieldError("cluster_key", why) : invalidArgument("cluster_key: " + why);
  }
  if (server && server->cluster_key.empty()) server->cluster_key = key;
  for (rpc::Channel::Options* channel : channels) {
    if (channel && channel->cluster_key.empty()) channel->cluster_key = key;
  }
  return Status::ok();
}

}  // namespace push::service
