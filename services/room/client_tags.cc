// ClientProtocol's Subscribe and Unsubscribe frames (sdk/PROTOCOL.md "Tags"): checks, then the
// room's TagIndex. A refusal is a SubscribeResult code, never a close.
#include "services/room/app_table.h"
#include "services/room/client_protocol.h"
#include "services/room/connection_table.h"
#include "services/room/room_options.h"
#include "services/room/tag_index.h"

namespace push::room {

void ClientProtocol::onTags(ClientConn& c, uint64_t seq, const std::string& app_name,
                            const google::protobuf::RepeatedPtrField<std::string>& tags,
                            bool subscribe) {
  client::Frame reply;
  auto* r = reply.mutable_subscribe_result();
  r->set_seq(seq);
  r->set_app(app_name);
  const net::ConnId id = ConnectionTable::idOf(c);
  const int found = app_name.empty() ? -1 : ctx_.apps.find(app_name);
  if (found < 0 || !c.hasApp(static_cast<uint16_t>(found))) {
    r->set_code(client::ERROR_NOT_BOUND);
    r->set_message("app '" + app_name + "' is not bound to this connection");
    sendFrame(c, reply);
    return;
  }
  const auto app = static_cast<uint16_t>(found);
  client::ErrorCode code = client::ERROR_NONE;
  std::string why;
  std::vector<std::string_view> names;
  names.reserve(static_cast<size_t>(tags.size()));
  if (tags.empty()) {
    code = client::ERROR_BAD_TAG;
    why = "no tags";
  }
  for (const std::string& tag : tags) {
    if (!TagIndex::validTag(tag)) {
      code = client::ERROR_BAD_TAG;
      // The name is the client's bytes: quote at most the first 64 of them.
      why = "bad tag name '" + tag.substr(0, TagIndex::kMaxTagBytes) + "': 1.." +
            std::to_string(TagIndex::kMaxTagBytes) + " bytes of [A-Za-z0-9_.:-]";
      break;
    }
    names.push_back(tag);
  }
  if (code == client::ERROR_NONE) {
    if (!subscribe) {
      ctx_.tags.unsubscribe(id, app, names);
    } else if (ctx_.tags.subscribe(id, app, names) == TagIndex::Outcome::TooMany) {
      code = client::ERROR_TOO_MANY_TAGS;
      why = "at most " + std::to_string(ctx_.options.max_tags_per_connection) +
            " tags per connection per app";
    }
  }
  for (std::string& tag : ctx_.tags.tagsOf(id, app))
    r->add_tags(std::move(tag));
  r->set_code(code);
  if (code != client::ERROR_NONE) r->set_message(std::move(why));
  sendFrame(c, reply);
}

}  // namespace push::room
