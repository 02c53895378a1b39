#include "tests/unit/sdk/fake_room.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/net/frame_codec.h"

namespace push::sdk::testing {

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

FakeRoom::FakeRoom(net::EventLoop& loop) : loop_(loop) {}

FakeRoom::~FakeRoom() {
  stop();
}

Status FakeRoom::start() {
  auto server = net::TcpServer::listen(loop_, {}, [this](net::TcpConnection& tcp) {
    auto c = std::make_unique<Conn>();
    c->index = static_cast<int>(conns_.size());
    c->tcp = &tcp;
    c->accepted_ms = steadyMs();
    tcp.setContext(c.get());
    tcp.start(this, &limits_);
    Conn& ref = *c;
    conns_.push_back(std::move(c));
    if (on_accept) on_accept(ref);
  });
  if (!server.isOk()) return server.status();
  server_ = std::move(server).value();
  return Status::ok();
}

std::string FakeRoom::address() const {
  return server_ ? server_->address().toString() : "";
}

void FakeRoom::stop() {
  server_.reset();
  for (auto& c : conns_) {
    if (c->tcp) c->tcp->close();
  }
}

size_t FakeRoom::openConnections() const {
  size_t n = 0;
  for (const auto& c : conns_)
    n += c->open();
  return n;
}

size_t FakeRoom::authenticated() const {
  size_t n = 0;
  for (const auto& c : conns_)
    n += c->auth_result_ms != 0;
  return n;
}

size_t FakeRoom::onData(net::TcpConnection& tcp, const char* data, size_t len) {
  auto* c = static_cast<Conn*>(tcp.context());
  size_t used = 0;
  while (used < len && !tcp.closing()) {
    net::FrameView view;
    if (net::decodeLengthPrefixed(data + used, len - used, 1 << 20, &view) !=
        net::FrameStatus::Complete) {
      break;
    }
    used += view.consumed;
    client::Frame frame;
    if (!frame.ParseFromArray(view.payload, static_cast<int>(view.size))) {
      ADD_FAILURE() << "the client sent bytes that are not a Frame";
      tcp.close();
      return len;
    }
    onFrame(*c, frame);
  }
  return tcp.closing() ? len : used;
}

void FakeRoom::onFrame(Conn& c, const client::Frame& frame) {
  c.frames.push_back(frame.body_case());
  switch (frame.body_case()) {
    case client::Frame::kAuth:
      c.auths.push_back(frame.auth());
      if (on_auth) {
        on_auth(c, frame.auth());
      } else {
        sendAuthResult(c);
      }
      break;
    case client::Frame::kPing:
      c.ping_ms.push_back(steadyMs());
      if (answer_pings) {
        client::Frame pong;
        pong.mutable_pong()->set_server_time_ms(1);
        send(c, pong);
      }
      break;
    case client::Frame::kAck:
      ++c.ack_frames;
      for (uint64_t id : frame.ack().message_ids())
        c.acked.push_back(id);
      break;
    case client::Frame::kUpstream:
      c.upstreams.push_back(frame.upstream());
      if (answer_upstream) {
        client::Frame ack;
        ack.mutable_upstream_ack()->set_seq(frame.upstream().seq());
        ack.mutable_upstream_ack()->set_code(client::ERROR_NONE);
        ack.mutable_upstream_ack()->set_reply(upstream_reply);
        send(c, ack);
      }
      break;
    case client::Frame::kSubscribe:
    case client::Frame::kUnsubscribe: {
      c.tag_requests.push_back(frame);
      const bool sub = frame.has_subscribe();
      const auto& req = sub ? frame.subscribe().tags() : frame.unsubscribe().tags();
      const std::string& app = sub ? frame.subscribe().app() : frame.unsubscribe().app();
      client::Frame reply;
      auto* r = reply.mutable_subscribe_result();
      r->set_seq(sub ? frame.subscribe().seq() : frame.unsubscribe().seq());
      r->set_app(app);
      const bool refuse = sub && std::any_of(req.begin(), req.end(), [&](const std::string& t) {
                            return refused_tags.count(t) > 0;
                          });
      if (refuse) {
        r->set_code(client::ERROR_TOO_MANY_TAGS);
        r->set_message("refused by the test");
      } else {
        for (const std::string& t : req) {
          if (sub) {
            c.tags[app].insert(t);
          } else {
            c.tags[app].erase(t);
          }
        }
      }
      for (const std::string& t : c.tags[app])
        r->add_tags(t);
      send(c, reply);
      break;
    }
    case client::Frame::kBind:
      c.bind_frames.push_back(frame.bind());  // answered by the test (send a BindResult)
      break;
    default:
      break;
  }
}

void FakeRoom::pushBroadcast(Conn& c, uint64_t id, const std::string& app, uint64_t broadcast_seq,
                             const std::string& tag) {
  client::Frame frame;
  auto* p = frame.mutable_push();
  p->set_message_id(id);
  p->set_app(app);
  p->set_payload("b");
  p->set_broadcast_seq(broadcast_seq);
  p->set_tag(tag);
  send(c, frame);
}

void FakeRoom::onClosed(net::TcpConnection& tcp, net::TcpConnection::CloseReason) {
  auto* c = static_cast<Conn*>(tcp.context());
  c->tcp = nullptr;
  c->closed_ms = steadyMs();
}

void FakeRoom::sendAuthResult(Conn& c) {
  client::Frame frame;
  auto* r = frame.mutable_auth_result();
  r->set_heartbeat_interval_s(heartbeat_s);
  r->set_app("demo");
  r->set_user("alice");
  r->set_device("phone-1");
  r->set_room("fake-" + std::to_string(c.index));
  r->set_broadcast_seq(auth_broadcast_seq);
  send(c, frame);
  c.auth_result_ms = steadyMs();
}

void FakeRoom::send(Conn& c, const client::Frame& frame) {
  if (!c.tcp) return;
  const std::string body = frame.SerializeAsString();
  std::string bytes(net::kLengthPrefixBytes, '\0');
  net::encodeLengthPrefix(static_cast<uint32_t>(body.size()), bytes.data());
  bytes += body;
  c.tcp->send(bytes);
}

void FakeRoom::sendRaw(Conn& c, const std::string& bytes) {
  if (c.tcp && !bytes.empty()) c.tcp->send(bytes);
}

void FakeRoom::push(Conn& c, uint64_t id, const std::string& app, const std::string& payload,
                    uint32_t qos) {
  client::Frame frame;
  auto* p = frame.mutable_push();
  p->set_message_id(id);
  p->set_app(app);
  p->set_payload(payload);
  p->set_qos(qos);
  p->set_created_ms(1700000000000);
  send(c, frame);
}

void FakeRoom::sendError(Conn& c, client::ErrorCode code, const std::string& message, bool close) {
  client::Frame frame;
  frame.mutable_error()->set_code(code);
  frame.mutable_error()->set_message(message);
  send(c, frame);
  if (close && c.tcp) c.tcp->closeAfterFlush();
}

void FakeRoom::kick(Conn& c, const std::string& reason) {
  client::Frame frame;
  frame.mutable_kick()->set_reason(reason);
  send(c, frame);
  if (c.tcp) c.tcp->closeAfterFlush();
}

void FakeRoom::reconnect(Conn& c, uint32_t delay_ms) {
  client::Frame frame;
  frame.mutable_reconnect()->set_delay_ms(delay_ms);
  frame.mutable_reconnect()->set_reason("draining");
  send(c, frame);
}

void FakeRoom::close(Conn& c) {
  if (c.tcp) c.tcp->close();
}

}  // namespace push::sdk::testing
