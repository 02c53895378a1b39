#include "tests/support/room_fake_saver.h"

#include <utility>

#include "common/rpc/controller.h"

namespace push::testing {

namespace {
void fail(google::protobuf::RpcController* controller) {
  static_cast<rpc::Controller*>(controller)->setStatus(unavailable("fake saver: failing"));
}
}  // namespace

// Held answers belong to the server's calls: stop() answers them while it is still up.
RoomFakeSaver::~RoomFakeSaver() = default;

Status RoomFakeSaver::start(const std::string& address) {
  rpc::Server::Options o;
  o.address = address;
  server_ = rpc::Server::create(loop_, o);
  RETURN_IF_ERROR(server_->addService(this));
  RETURN_IF_ERROR(server_->start());
  address_ = server_->address().toString();
  return Status::ok();
}

void RoomFakeSaver::stop(std::function<void()> done) {
  for (HeldLoad& h : held_)
    h.done->Run();  // answered (empty) before the server goes
  held_.clear();
  if (!server_) {
    if (done) done();
    return;
  }
  server_.release()->shutdown(std::chrono::milliseconds(0), std::move(done));  // deletes itself
}

void RoomFakeSaver::storeMessage(const std::string& user, const Message& message) {
  inboxes_[{message.app(), user}][message.id()] = message;
}

void RoomFakeSaver::storeBroadcast(const broadcast::BroadcastMessage& broadcast) {
  broadcasts_[broadcast.app()][broadcast.sequence()] = broadcast;
}

std::vector<uint64_t> RoomFakeSaver::inbox(const std::string& app, const std::string& user) const {
  std::vector<uint64_t> ids;
  auto it = inboxes_.find({app, user});
  if (it == inboxes_.end()) return ids;
  for (const auto& [id, m] : it->second)
    ids.push_back(id);
  return ids;
}

void RoomFakeSaver::releaseLoads() {
  std::vector<HeldLoad> held = std::exchange(held_, {});
  for (HeldLoad& h : held) {
    answerLoad(*h.request, h.response);
    h.done->Run();
  }
}

void RoomFakeSaver::Store(google::protobuf::RpcController*, const saver::StoreRequest* request,
                          saver::StoreResponse* response, google::protobuf::Closure* done) {
  rpc::DoneGuard guard(done);
  for (const saver::StoreItem& item : request->items()) {
    for (const std::string& user : item.users())
      storeMessage(user, item.message());
    response->set_stored(response->stored() + static_cast<uint32_t>(item.users_size()));
  }
}

void RoomFakeSaver::answerLoad(const saver::LoadRequest& request, saver::LoadResponse* response) {
  auto it = inboxes_.find({request.app(), request.user()});
  if (it == inboxes_.end()) return;
  const uint32_t limit = request.limit() ? request.limit() : 100;
  for (auto m = it->second.upper_bound(request.after_id()); m != it->second.end(); ++m) {
    if (static_cast<uint32_t>(response->messages_size()) == limit) {
      response->set_more(true);
      break;
    }
    saver::StoredMessage* stored = response->add_messages();
    *stored->mutable_message() = m->second;
    stored->set_loads(1);
  }
}

void RoomFakeSaver::Load(google::protobuf::RpcController* controller,
                         const saver::LoadRequest* request, saver::LoadResponse* response,
                         google::protobuf::Closure* done) {
  load_requests.push_back(*request);
  if (fail_loads) {
    ++failed_calls;
    fail(controller);
    done->Run();
    return;
  }
  if (hold_loads) {
    held_.push_back(HeldLoad{request, response, done});
    return;
  }
  answerLoad(*request, response);
  done->Run();
}

void RoomFakeSaver::Ack(google::protobuf::RpcController* controller,
                        const saver::AckRequest* request, saver::AckResponse* response,
                        google::protobuf::Closure* done) {
  rpc::DoneGuard guard(done);
  if (fail_acks) {
    ++failed_calls;
    fail(controller);
    return;
  }
  ack_requests.push_back(*request);
  uint32_t removed = 0;
  for (const saver::AckItem& item : request->items()) {
    auto inbox = inboxes_.find({item.app(), item.user()});
    for (uint64_t id : item.message_ids()) {
      acked.push_back(Acked{item.app(), item.user(), id});
      if (inbox != inboxes_.end()) removed += static_cast<uint32_t>(inbox->second.erase(id));
    }
  }
  response->set_removed(removed);
}

void RoomFakeSaver::StoreBroadcast(google::protobuf::RpcController*,
                                   const saver::StoreBroadcastRequest* request,
                                   saver::StoreBroadcastResponse* response,
                                   google::protobuf::Closure* done) {
  rpc::DoneGuard guard(done);
  auto& log = broadcasts_[request->broadcast().app()];
  const uint64_t seq = log.empty() ? 1 : log.rbegin()->first + 1;
  broadcast::BroadcastMessage b = request->broadcast();
  b.set_sequence(seq);
  log[seq] = b;
  response->set_sequence(seq);
}

void RoomFakeSaver::LoadBroadcasts(google::protobuf::RpcController* controller,
                                   const saver::LoadBroadcastsRequest* request,
                                   saver::LoadBroadcastsResponse* response,
                                   google::protobuf::Closure* done) {
  rpc::DoneGuard guard(done);
  load_broadcast_requests.push_back(*request);
  if (fail_loads) {
    ++failed_calls;
    fail(controller);
    return;
  }
  auto it = broadcasts_.find(request->app());
  if (it == broadcasts_.end()) return;
  response->set_latest_sequence(it->second.empty() ? 0 : it->second.rbegin()->first);
  if (request->after_sequence() == 0) return;  // a new client does not get the history
  const uint32_t limit = request->limit() ? request->limit() : 100;
  for (auto b = it->second.upper_bound(request->after_sequence()); b != it->second.end(); ++b) {
    if (static_cast<uint32_t>(response->broadcasts_size()) == limit) {
      response->set_more(true);
      break;
    }
    *response->add_broadcasts() = b->second;
  }
}

}  // namespace push::testing
