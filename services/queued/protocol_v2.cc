#include "services/queued/protocol_v2.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/tcp_server.h"
#include "common/queue/channel.h"
#include "common/queue/codec/deflate_codec.h"
#include "common/queue/codec/snappy_codec.h"
#include "common/queue/codec/tls_codec.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "services/queued/auth_server.h"
#include "services/queued/body_errors.h"
#include "services/queued/go_format.h"
#include "services/queued/identify.h"

namespace push::queued {

namespace {

using queue::wire::CommandLine;
namespace wire = queue::wire;

constexpr size_t kMaxLine = 16384;  // nsqd's bufio reader: a longer line closes silently
constexpr int64_t kClosingDeadlineMs = 5000;

}  // namespace

ProtocolV2::ProtocolV2(net::EventLoop& loop, queue::QueueEngine& engine,
                       const QueuedOptions& options)
    : loop_(loop), engine_(engine), options_(options) {
  size_t largest_body = std::max<size_t>(options.max_body_size, options.queue.max_msg_size);
  limits_.max_input = static_cast<uint32_t>(largest_body + kMaxLine + 64);
  limits_.hard_limit = std::max<uint32_t>(limits_.hard_limit, limits_.max_input * 2);
  if (!options.auth_http_addresses.empty()) {
    auth_server_ = std::make_unique<AuthServer>(loop, options.auth_http_addresses,
                                                options.http_client_request_timeout_ms);
  }
}

ProtocolV2::~ProtocolV2() {
  close();
}

Status ProtocolV2::loadTls() {
  if (!options_.tls_cert.empty()) {
    queue::TlsOptions tls;
    tls.cert_file = options_.tls_cert;
    tls.key_file = options_.tls_key;
    tls.root_ca_file = options_.tls_root_ca_file;
    tls.verify_peer = options_.tls_client_auth_policy == "require-verify";
    tls.require_peer_cert = options_.tls_client_auth_policy == "require";
    tls.min_version = options_.tls_min_version;
    ASSIGN_OR_RETURN(tls_context_, queue::TlsContext::createServer(tls));
    LOG_INFO(
        Queue, "TLS on (certificate {}, client certificates {})", options_.tls_cert,
        options_.tls_client_auth_policy.empty() ? "not asked" : options_.tls_client_auth_policy);
  }
  return Status::ok();
}

Status ProtocolV2::listen(const std::string& address) {
  net::TcpServer::Options server_options;
  server_options.address = address;
  ASSIGN_OR_RETURN(server_,
                   net::TcpServer::listen(loop_, server_options,
                                          [this](net::TcpConnection& conn) { onAccept(conn); }));
  return Status::ok();
}

net::InetAddress ProtocolV2::address() const {
  return server_ ? server_->address() : net::InetAddress();
}

void ProtocolV2::onAccept(net::TcpConnection& conn) {
  conn.setId(next_conn_id_++);
  conn.start(this, &limits_);
  clients_.emplace(conn.id(), std::make_unique<ClientV2>(*this, conn, loop_.nowMs()));
}

void ProtocolV2::close() {
  server_.reset();
  for (auto& [id, client] : clients_) {
    if (client->conn != nullptr) client->conn->close();
  }
}

size_t ProtocolV2::onData(net::TcpConnection& conn, const char* data, size_t len) {
  auto found = clients_.find(conn.id());
  if (found == clients_.end()) return len;
  ClientV2& client = *found->second;
  std::string_view in(data, len);
  size_t used = 0;
  if (!client.magic_seen) {
    if (len < wire::kMagicV2.size()) return 0;
    if (in.substr(0, 4) != wire::kMagicV2) {
      // nsqd answers any other protocol with a bare E_BAD_PROTOCOL and closes.
      fail(client, "E_BAD_PROTOCOL");
      return len;
    }
    client.magic_seen = true;
    used = 4;
  }
  if (!client.codec) {
    used += runCommands(client, in.substr(used));
    if (!client.codec || client.closing) return client.closing ? len : used;
    // IDENTIFY switched the stream to TLS or compression: what follows is encoded.
  }
  decodeInput(client, in.substr(used));
  return len;
}

void ProtocolV2::decodeInput(ClientV2& client, std::string_view raw) {
  if (!raw.empty()) {
    std::string to_peer;
    Status status = client.codec->decode(raw, &client.plain_in, &to_peer);
    if (!to_peer.empty() && client.conn != nullptr) client.conn->send(to_peer);
    if (!status.isOk()) {
      LOG_INFO(Queue, "client {}: {}", client.remote_address, status.toString());
      closeClient(client);
      return;
    }
    if (client.plain_in.size() > limits_.max_input) {
      LOG_WARN(Queue, "client {}: over {} bytes of unparsed input, closing", client.remote_address,
               limits_.max_input);
      closeClient(client);
      return;
    }
  }
  size_t used = runCommands(client, client.plain_in);
  client.plain_in.erase(0, used);
}

size_t ProtocolV2::runCommands(ClientV2& client, std::string_view in) {
  size_t used = 0;
  client.upgraded_now = false;
  while (used < in.size() && !client.closing && client.conn != nullptr &&
         !client.waiting_for_auth) {
    size_t consumed = 0;
    Outcome outcome = execute(client, in.substr(used), &consumed);
    if (!outcome.error.empty()) {
      if (outcome.fatal) {
        fail(client, outcome.error);
        return in.size();
      }
      sendFrame(client, wire::FrameType::Error, outcome.error);
    }
    if (consumed == 0) break;
    used += consumed;
    if (client.upgraded_now) break;
  }
  return client.closing ? in.size() : used;
}

ProtocolV2::Outcome ProtocolV2::execute(ClientV2& client, std::string_view in, size_t* consumed) {
  CommandLine line;
  switch (wire::parseLine(in, kMaxLine, &line)) {
    case wire::ParseStatus::NeedMore:
      return Outcome::ok();
    case wire::ParseStatus::Error:
      // Like nsqd: a line longer than its reader's buffer ends the connection without a word.
      LOG_WARN(Queue, "client {}: command line over {} bytes, closing", client.remote_address,
               kMaxLine);
      closeClient(client);
      return Outcome::ok();
    case wire::ParseStatus::Ok:
      break;
  }
  client.last_read_ms = loop_.nowMs();
  std::string_view rest = in.substr(line.size);
  size_t body_used = 0;
  Outcome outcome;
  std::string_view name = line.name;
  if (options_.tls_required != 0 && !client.tls && name != "IDENTIFY") {
    outcome =
        Outcome::fail("E_INVALID cannot " + std::string(name) + " in current state (TLS required)");
  } else if (name == "IDENTIFY") {
    outcome = identify(client, line, rest, &body_used);
  } else if (name == "FIN") {
    outcome = fin(client, line);
  } else if (name == "RDY") {
    outcome = rdy(client, line);
  } else if (name == "REQ") {
    outcome = req(client, line);
  } else if (name == "PUB") {
    outcome = pub(client, line, rest, &body_used);
  } else if (name == "MPUB") {
    outcome = mpub(client, line, rest, &body_used);
  } else if (name == "DPUB") {
    outcome = dpub(client, line, rest, &body_used);
  } else if (name == "NOP") {
    outcome = Outcome::ok();
  } else if (name == "TOUCH") {
    outcome = touch(client, line);
  } else if (name == "SUB") {
    outcome = sub(client, line, &body_used);
  } else if (name == "CLS") {
    outcome = cls(client);
  } else if (name == "AUTH") {
    outcome = auth(client, line, rest, &body_used);
  } else {
    outcome = Outcome::fail("E_INVALID invalid command " + std::string(name));
  }
  if (body_used == kWaitForBody) {  // a body command waiting for the rest of its body
    *consumed = 0;
    return Outcome::ok();
  }
  *consumed = line.size + body_used;
  return outcome;
}

ProtocolV2::Outcome ProtocolV2::identify(ClientV2& client, const CommandLine& line,
                                         std::string_view rest, size_t* consumed) {
  if (client.state != ClientV2::State::Init) {
    return Outcome::fail("E_INVALID cannot IDENTIFY in current state");
  }
  wire::SizedBody body;
  if (Outcome refusal; !readBody("IDENTIFY", rest, false, &body, consumed, &refusal)) {
    return refusal;
  }
  *consumed = body.consumed;
  IdentifyRequest request;
  if (!parseIdentify(body.data, &request).isOk()) {
    return Outcome::fail("E_BAD_BODY IDENTIFY failed to decode JSON body");
  }
  // nsqd stores the names before it validates anything else.
  client.client_id = request.client_id;
  client.hostname = request.hostname;
  client.user_agent = request.user_agent;
  Result<IdentifySettings> negotiated =
      negotiateIdentify(request, options_, tls_context_ != nullptr, client.codec != nullptr);
  if (!negotiated.isOk()) return Outcome::fail(negotiated.status().message());
  const IdentifySettings& settings = *negotiated;

  client.heartbeat_interval_ms = settings.heartbeat_interval_ms;
  client.next_heartbeat_ms = loop_.nowMs() + settings.heartbeat_interval_ms;
  client.output_buffer_timeout_ms = settings.output_buffer_timeout_ms;
  client.output_buffer_size = settings.output_buffer_size;
  client.sample_rate = static_cast<int32_t>(settings.sample_rate);
  client.msg_timeout_ms = settings.msg_timeout_ms;
  client.deflate = settings.deflate;
  client.snappy = settings.snappy;
  client.deflate_level = static_cast<int>(settings.deflate_level);

  if (!request.feature_negotiation) {
    respond(client, "OK");
    return Outcome::ok();
  }
  respond(client, identifyAnswer(settings, options_));
  // nsqd's order: the answer in clear, then TLS and an "OK" over it, then compression and an
  // "OK" compressed. Each OK is encoded before the next layer goes on.
  if (settings.tls) {
    client.codec = queue::CodecChain::create(queue::TlsCodec::create(tls_context_), nullptr);
    client.tls = true;
    client.upgraded_now = true;
    respond(client, "OK");
    flushEncoded(client);
  }
  if (settings.deflate || settings.snappy) {
    std::unique_ptr<queue::StreamCodec> compression =
        settings.deflate ? queue::DeflateCodec::create(client.deflate_level)
                         : queue::SnappyCodec::create();
    if (client.codec) {
      client.codec->setInner(std::move(compression));
    } else {
      client.codec = queue::CodecChain::create(nullptr, std::move(compression));
    }
    client.upgraded_now = true;
    respond(client, "OK");
    flushEncoded(client);
  }
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::auth(ClientV2& client, const CommandLine& line,
                                     std::string_view rest, size_t* consumed) {
  if (client.state != ClientV2::State::Init) {
    return Outcome::fail("E_INVALID cannot AUTH in current state");
  }
  if (line.param_count != 0) return Outcome::fail("E_INVALID AUTH invalid number of parameters");
  wire::SizedBody body;
  if (Outcome refusal; !readBody("AUTH", rest, false, &body, consumed, &refusal)) {
    return refusal;
  }
  *consumed = body.consumed;
  if (!client.auth_secret.empty()) return Outcome::fail("E_INVALID AUTH already set");
  if (!auth_server_) return Outcome::fail("E_AUTH_DISABLED AUTH disabled");
  client.auth_secret = std::string(body.data);
  askAuthServer(client, /*first=*/true);
  return Outcome::ok();
}

void ProtocolV2::askAuthServer(ClientV2& client, bool first) {
  client.waiting_for_auth = true;
  if (!client.codec && client.conn != nullptr) client.conn->stopReading();
  std::string ip = client.conn != nullptr ? client.conn->peerAddress().host() : "";
  net::ConnId id = client.conn_id;
  auth_server_->query(client.auth_secret, ip, client.tls,
                      [this, id, first](Result<AuthGrant> grant) {
                        if (grant.status().code() == Code::CANCELLED) return;
                        auto found = clients_.find(id);
                        if (found == clients_.end() || found->second->conn == nullptr) return;
                        ClientV2& owner = *found->second;
                        owner.waiting_for_auth = false;
                        if (!grant.isOk()) {
                          fail(owner, grant.status().code() == Code::NOT_FOUND
                                          ? "E_UNAUTHORIZED AUTH no authorizations found"
                                          : "E_AUTH_FAILED AUTH failed");
                          return;
                        }
                        auto shared = std::make_shared<const AuthGrant>(std::move(grant).value());
                        owner.auth_expires_ms = loop_.nowMs() + shared->ttl_s * 1000;
                        owner.auth_grant = shared;
                        if (first) {
                          JsonWriter json;
                          json.beginObject()
                              .key("identity")
                              .string(shared->identity)
                              .key("identity_url")
                              .string(shared->identity_url)
                              .key("permission_count")
                              .uint64(shared->authorizations.size())
                              .endObject();
                          respond(owner, json.str());
                        }
                        resumeInput(owner);
                      });
}

void ProtocolV2::resumeInput(ClientV2& client) {
  if (client.conn == nullptr || client.closing) return;
  if (client.codec) {
    decodeInput(client, {});
  } else {
    client.conn->startReading();
  }
}

bool ProtocolV2::readBody(const char* command, std::string_view rest, bool message_body,
                          wire::SizedBody* body, size_t* consumed, Outcome* refusal) {
  uint32_t max = message_body ? options_.queue.max_msg_size : options_.max_body_size;
  wire::BodyStatus status = wire::parseSizedBody(rest, max, body);
  if (status == wire::BodyStatus::Ok) return true;
  if (status == wire::BodyStatus::NeedMore) {
    *consumed = kWaitForBody;
    *refusal = Outcome::ok();
  } else {
    *refusal = Outcome::fail(
        message_body ? bodyError("E_BAD_MESSAGE", command, status, body->size, max, "message body")
                     : bodyError("E_BAD_BODY", command, status, body->size, max, "body"));
  }
  return false;
}

bool ProtocolV2::authorized(ClientV2& client, const char* command, std::string_view topic,
                            std::string_view channel, size_t* consumed, Outcome* refusal) {
  if (!auth_server_) return true;
  if (!client.auth_grant) {
    *refusal = Outcome::fail(std::string("E_AUTH_FIRST AUTH required before ") + command);
    return false;
  }
  if (loop_.nowMs() >= client.auth_expires_ms) {
    askAuthServer(client, /*first=*/false);
    *consumed = kWaitForBody;
    *refusal = Outcome::ok();
    return false;
  }
  if (!client.auth_grant->allows(std::string(topic), std::string(channel))) {
    *refusal = Outcome::fail(std::string("E_UNAUTHORIZED AUTH failed for ") + command + " on " +
                             goQuote(topic) + " " + goQuote(channel));
    return false;
  }
  return true;
}

char* ProtocolV2::reserveOutput(ClientV2& client, size_t size) {
  if (client.conn == nullptr) return nullptr;
  if (!client.codec) return client.conn->prepareSend(size);
  size_t at = client.plain_out.size();
  client.plain_out.resize(at + size);
  if (!client.encode_scheduled) {
    client.encode_scheduled = true;
    net::ConnId id = client.conn_id;
    loop_.runBeforePoll([this, id] {
      auto found = clients_.find(id);
      if (found != clients_.end()) flushEncoded(*found->second);
    });
  }
  return client.plain_out.data() + at;
}

void ProtocolV2::commitOutput(ClientV2& client, size_t size) {
  if (!client.codec) client.conn->commitSend(size);
}

void ProtocolV2::flushEncoded(ClientV2& client) {
  client.encode_scheduled = false;
  if (client.plain_out.empty() || client.conn == nullptr || !client.codec) return;
  std::string to_peer;
  Status status = client.codec->encode(client.plain_out, &to_peer);
  client.plain_out.clear();
  if (!to_peer.empty()) client.conn->send(to_peer);
  if (!status.isOk()) {
    LOG_INFO(Queue, "client {}: {}", client.remote_address, status.toString());
    client.conn->close();
  }
}

void ProtocolV2::writeMessage(ClientV2& client, const queue::Message& message) {
  size_t data_size = wire::kMessageHeaderSize + message.body.size();
  char* out = reserveOutput(client, wire::kFrameHeaderSize + data_size);
  if (out == nullptr) return;  // closing (slow peer): the message times out and is requeued
  wire::writeFrameHeader(out, wire::FrameType::Message, data_size);
  wire::writeMessageHeader(out + wire::kFrameHeaderSize, message.timestamp_ns, message.attempts,
                           wire::formatMessageId(message.id));
  std::string_view body = message.body.view();
  if (!body.empty()) {
    std::memcpy(out + wire::kFrameHeaderSize + wire::kMessageHeaderSize, body.data(), body.size());
  }
  commitOutput(client, wire::kFrameHeaderSize + data_size);
  ++client.message_count;
}

void ProtocolV2::sendFrame(ClientV2& client, wire::FrameType type, std::string_view data) {
  char* out = reserveOutput(client, wire::kFrameHeaderSize + data.size());
  if (out == nullptr) return;
  wire::writeFrameHeader(out, type, data.size());
  if (!data.empty()) std::memcpy(out + wire::kFrameHeaderSize, data.data(), data.size());
  commitOutput(client, wire::kFrameHeaderSize + data.size());
}

void ProtocolV2::respond(ClientV2& client, std::string_view data) {
  sendFrame(client, wire::FrameType::Response, data);
}

void ProtocolV2::fail(ClientV2& client, const std::string& error) {
  sendFrame(client, wire::FrameType::Error, error);
  closeClient(client);
}

void ProtocolV2::closeClient(ClientV2& client) {
  if (client.closing || client.conn == nullptr) return;
  if (client.codec) flushEncoded(client);  // the last frame (an error) goes out encoded
  client.closing = true;
  client.closing_since_ms = loop_.nowMs();
  forget(client);
  client.conn->closeAfterFlush();
}

void ProtocolV2::forget(ClientV2& client) {
  queue::Channel* channel = client.channel;
  client.channel = nullptr;
  if (channel == nullptr) return;
  channel->removeClient(&client);
  // Ephemeral channels end with their last client, ephemeral topics with their last channel.
  if (!channel->ephemeral() || channel->clientCount() > 0) return;
  queue::Topic& topic = channel->topic();
  (void)topic.deleteChannel(channel->name());
  if (topic.ephemeral() && topic.channels().empty()) (void)engine_.deleteTopic(topic.name());
}

void ProtocolV2::onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) {
  auto found = clients_.find(conn.id());
  if (found == clients_.end()) return;
  ClientV2& client = *found->second;
  client.conn = nullptr;
  forget(client);
  clients_.erase(found);
}

void ProtocolV2::tick(int64_t now_ms) {
  std::vector<ClientV2*> expired;
  for (auto& [id, client_ptr] : clients_) {
    ClientV2& client = *client_ptr;
    if (client.conn == nullptr) continue;
    if (client.closing) {
      if (now_ms - client.closing_since_ms >= kClosingDeadlineMs) client.conn->close();
      continue;
    }
    if (client.heartbeat_interval_ms <= 0) continue;
    if (now_ms - client.last_read_ms >= 2 * client.heartbeat_interval_ms) {
      expired.push_back(&client);
      continue;
    }
    if (now_ms >= client.next_heartbeat_ms) {
      respond(client, "_heartbeat_");
      client.next_heartbeat_ms = now_ms + client.heartbeat_interval_ms;
    }
  }
  for (ClientV2* client : expired) {
    LOG_INFO(Queue, "client {} ({}): no command for {} ms, closing", client->remote_address,
             client->client_id, 2 * client->heartbeat_interval_ms);
    forget(*client);
    client->conn->close();
  }
}

}  // namespace push::queued
