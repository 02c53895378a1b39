#include "services/queued/protocol_v2.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/base/json_reader.h"
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
#include "services/queued/go_format.h"

namespace push::queued {

namespace {

using queue::wire::CommandLine;
namespace wire = queue::wire;

constexpr size_t kMaxLine = 16384;  // nsqd's bufio reader: a longer line closes silently
constexpr int64_t kDefaultHeartbeatMs = 30000;
constexpr int64_t kDefaultOutputBufferSize = 16384;
constexpr int64_t kClosingDeadlineMs = 5000;
constexpr std::string_view kVersion = "1.3.0";

std::string str(std::string_view view) {
  return std::string(view);
}

std::string lower(std::string text) {
  for (char& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

int64_t wallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// IDENTIFY's body as sent; absent keys stay 0 / empty, as Go's decoder leaves them.
struct IdentifyRequest {
  std::string client_id, hostname, user_agent;
  bool has_client_id = false, has_hostname = false, has_user_agent = false;
  int64_t heartbeat_interval = 0, output_buffer_size = 0, output_buffer_timeout = 0;
  int64_t sample_rate = 0, msg_timeout = 0, deflate_level = 0;
  bool feature_negotiation = false, tls_v1 = false, deflate = false, snappy = false;
};

Status parseIdentify(std::string_view body, IdentifyRequest* request) {
  JsonReader reader(body);
  if (reader.isNull()) return reader.finish();
  RETURN_IF_ERROR(reader.beginObject());
  std::string key;
  constexpr int64_t kMin = INT64_MIN, kMax = INT64_MAX;
  while (reader.nextKey(&key)) {
    key = lower(std::move(key));  // Go's decoder matches keys case-insensitively
    if (key == "client_id") {
      RETURN_IF_ERROR(reader.readString(&request->client_id));
      request->has_client_id = true;
    } else if (key == "hostname") {
      RETURN_IF_ERROR(reader.readString(&request->hostname));
      request->has_hostname = true;
    } else if (key == "user_agent") {
      RETURN_IF_ERROR(reader.readString(&request->user_agent));
      request->has_user_agent = true;
    } else if (key == "heartbeat_interval") {
      RETURN_IF_ERROR(reader.readInt(&request->heartbeat_interval, kMin, kMax));
    } else if (key == "output_buffer_size") {
      RETURN_IF_ERROR(reader.readInt(&request->output_buffer_size, kMin, kMax));
    } else if (key == "output_buffer_timeout") {
      RETURN_IF_ERROR(reader.readInt(&request->output_buffer_timeout, kMin, kMax));
    } else if (key == "sample_rate") {
      RETURN_IF_ERROR(reader.readInt(&request->sample_rate, INT32_MIN, INT32_MAX));
    } else if (key == "msg_timeout") {
      RETURN_IF_ERROR(reader.readInt(&request->msg_timeout, kMin, kMax));
    } else if (key == "deflate_level") {
      RETURN_IF_ERROR(reader.readInt(&request->deflate_level, kMin, kMax));
    } else if (key == "feature_negotiation") {
      RETURN_IF_ERROR(reader.readBool(&request->feature_negotiation));
    } else if (key == "tls_v1") {
      RETURN_IF_ERROR(reader.readBool(&request->tls_v1));
    } else if (key == "deflate") {
      RETURN_IF_ERROR(reader.readBool(&request->deflate));
    } else if (key == "snappy") {
      RETURN_IF_ERROR(reader.readBool(&request->snappy));
    } else {
      RETURN_IF_ERROR(reader.skipValue());
    }
  }
  RETURN_IF_ERROR(reader.status());
  return reader.finish();
}

std::string bodyError(std::string_view code, std::string_view command, wire::BodyStatus status,
                      int32_t size, uint32_t max, std::string_view noun) {
  // noun: "message body" (PUB, DPUB) or "body" (IDENTIFY, AUTH, MPUB)
  std::string text = str(code) + " " + str(command);
  if (status == wire::BodyStatus::BadSize) {
    return text + " invalid " + str(noun) + " size " + std::to_string(size);
  }
  std::string what = noun == "message body" ? " message too big " : " body too big ";
  return text + what + std::to_string(size) + " > " + std::to_string(max);
}

}  // namespace

ClientV2::ClientV2(ProtocolV2& owner, net::TcpConnection& connection, int64_t now_ms)
    : protocol(owner), conn(&connection), conn_id(connection.id()) {
  net::InetAddress peer = connection.peerAddress();
  remote_address = peer.toString();
  client_id = peer.host();
  hostname = client_id;
  connect_ts_s = wallSeconds();
  last_read_ms = now_ms;
  next_heartbeat_ms = now_ms + heartbeat_interval_ms;
}

void ClientV2::sendMessage(const queue::Message& message) {
  protocol.writeMessage(*this, message);
}

void ClientV2::onChannelClosing() {
  channel = nullptr;
  protocol.closeClient(*this);
}

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

Status ProtocolV2::listen(const std::string& address) {
  if (!options_.tls_cert.empty()) {
    queue::TlsOptions tls;
    tls.cert_file = options_.tls_cert;
    tls.key_file = options_.tls_key;
    tls.root_ca_file = options_.tls_root_ca_file;
    tls.verify_peer = options_.tls_client_auth_policy == "require-verify";
    tls.min_version = options_.tls_min_version;
    ASSIGN_OR_RETURN(tls_context_, queue::TlsContext::createServer(tls));
    LOG_INFO(
        Queue, "TLS on (certificate {}, client certificates {})", options_.tls_cert,
        options_.tls_client_auth_policy.empty() ? "not asked" : options_.tls_client_auth_policy);
  }
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
    outcome = Outcome::fail("E_INVALID cannot " + str(name) + " in current state (TLS required)");
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
    outcome = Outcome::fail("E_INVALID invalid command " + str(name));
  }
  if (body_used == SIZE_MAX) {  // a body command waiting for the rest of its body
    *consumed = 0;
    return Outcome::ok();
  }
  *consumed = line.size + body_used;
  return outcome;
}

// A body command reports "wait for more bytes" as *consumed = SIZE_MAX, so that the line is
// parsed again, with the whole body, on a later read (checks before the body are repeated,
// which is harmless: they have no effects).
namespace {
constexpr size_t kWaitForBody = SIZE_MAX;
}

ProtocolV2::Outcome ProtocolV2::identify(ClientV2& client, const CommandLine& line,
                                         std::string_view rest, size_t* consumed) {
  if (client.state != ClientV2::State::Init) {
    return Outcome::fail("E_INVALID cannot IDENTIFY in current state");
  }
  wire::SizedBody body;
  wire::BodyStatus status = wire::parseSizedBody(rest, options_.max_body_size, &body);
  if (status == wire::BodyStatus::NeedMore) {
    *consumed = kWaitForBody;
    return Outcome::ok();
  }
  if (status != wire::BodyStatus::Ok) {
    return Outcome::fail(
        bodyError("E_BAD_BODY", "IDENTIFY", status, body.size, options_.max_body_size, "body"));
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

  int64_t heartbeat = request.heartbeat_interval;
  if (heartbeat == -1) {
    heartbeat = -1;
  } else if (heartbeat == 0) {
    heartbeat = kDefaultHeartbeatMs;
  } else if (heartbeat < 1000 || heartbeat > options_.max_heartbeat_interval_ms) {
    return Outcome::fail("E_BAD_BODY IDENTIFY heartbeat interval (" + std::to_string(heartbeat) +
                         ") is invalid");
  }
  int64_t buffer_timeout = request.output_buffer_timeout;
  if (buffer_timeout == -1) {
    buffer_timeout = 0;
  } else if (buffer_timeout == 0) {
    buffer_timeout = options_.output_buffer_timeout_ms;
  } else if (buffer_timeout < options_.min_output_buffer_timeout_ms ||
             buffer_timeout > options_.max_output_buffer_timeout_ms) {
    return Outcome::fail("E_BAD_BODY IDENTIFY output buffer timeout (" +
                         std::to_string(buffer_timeout) + ") is invalid");
  }
  int64_t buffer_size = request.output_buffer_size;
  if (buffer_size == -1) {
    buffer_size = 1;
    buffer_timeout = 0;
  } else if (buffer_size == 0) {
    buffer_size = kDefaultOutputBufferSize;
  } else if (buffer_size < 64 || buffer_size > options_.max_output_buffer_size) {
    return Outcome::fail("E_BAD_BODY IDENTIFY output buffer size (" + std::to_string(buffer_size) +
                         ") is invalid");
  }
  if (request.sample_rate < 0 || request.sample_rate > 99) {
    return Outcome::fail("E_BAD_BODY IDENTIFY sample rate (" + std::to_string(request.sample_rate) +
                         ") is invalid");
  }
  int64_t msg_timeout = request.msg_timeout;
  if (msg_timeout == 0) {
    msg_timeout = options_.queue.msg_timeout_ms;
  } else if (msg_timeout < 1000 || msg_timeout > options_.queue.max_msg_timeout_ms) {
    return Outcome::fail("E_BAD_BODY IDENTIFY msg timeout (" + std::to_string(msg_timeout) +
                         ") is invalid");
  }
  // A second IDENTIFY after an upgrade negotiates nothing new.
  const bool tls = request.feature_negotiation && request.tls_v1 && tls_context_ && !client.codec;
  const bool deflate =
      request.feature_negotiation && request.deflate && options_.deflate && !client.codec;
  const bool snappy =
      request.feature_negotiation && request.snappy && options_.snappy && !client.codec;
  if (deflate && snappy) {
    return Outcome::fail("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
  }
  int64_t deflate_level = request.deflate_level <= 0 ? 6 : request.deflate_level;
  deflate_level = std::min<int64_t>(deflate_level, options_.max_deflate_level);

  client.heartbeat_interval_ms = heartbeat;
  client.next_heartbeat_ms = loop_.nowMs() + heartbeat;
  client.output_buffer_timeout_ms = buffer_timeout;
  client.output_buffer_size = buffer_size;
  client.sample_rate = static_cast<int32_t>(request.sample_rate);
  client.msg_timeout_ms = msg_timeout;
  client.deflate = deflate;
  client.snappy = snappy;
  client.deflate_level = static_cast<int>(deflate_level);

  if (!request.feature_negotiation) {
    respond(client, "OK");
    return Outcome::ok();
  }
  JsonWriter json(320);
  json.beginObject()
      .key("max_rdy_count")
      .int64(options_.max_rdy_count)
      .key("version")
      .string(kVersion)
      .key("max_msg_timeout")
      .int64(options_.queue.max_msg_timeout_ms)
      .key("msg_timeout")
      .int64(msg_timeout)
      .key("tls_v1")
      .boolean(tls)
      .key("deflate")
      .boolean(deflate)
      .key("deflate_level")
      .int64(deflate_level)
      .key("max_deflate_level")
      .int64(options_.max_deflate_level)
      .key("snappy")
      .boolean(snappy)
      .key("sample_rate")
      .int64(request.sample_rate)
      .key("auth_required")
      .boolean(!options_.auth_http_addresses.empty())
      .key("output_buffer_size")
      .int64(buffer_size)
      .key("output_buffer_timeout")
      .int64(buffer_timeout)
      .endObject();
  respond(client, json.str());
  // nsqd's order: the answer in clear, then TLS and an "OK" over it, then compression and an
  // "OK" compressed. Each OK is encoded before the next layer goes on.
  if (tls) {
    client.codec = queue::CodecChain::create(queue::TlsCodec::create(tls_context_), nullptr);
    client.tls = true;
    client.upgraded_now = true;
    respond(client, "OK");
    flushEncoded(client);
  }
  if (deflate || snappy) {
    std::unique_ptr<queue::StreamCodec> compression =
        deflate ? queue::DeflateCodec::create(client.deflate_level) : queue::SnappyCodec::create();
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
  wire::BodyStatus status = wire::parseSizedBody(rest, options_.max_body_size, &body);
  if (status == wire::BodyStatus::NeedMore) {
    *consumed = kWaitForBody;
    return Outcome::ok();
  }
  if (status != wire::BodyStatus::Ok) {
    return Outcome::fail(
        bodyError("E_BAD_BODY", "AUTH", status, body.size, options_.max_body_size, "body"));
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

ProtocolV2::AuthCheck ProtocolV2::checkAuth(ClientV2& client, const char* command,
                                            std::string_view topic, std::string_view channel,
                                            Outcome* denied) {
  if (!auth_server_) return AuthCheck::Allowed;
  if (!client.auth_grant) {
    *denied = Outcome::fail(std::string("E_AUTH_FIRST AUTH required before ") + command);
    return AuthCheck::Denied;
  }
  if (loop_.nowMs() >= client.auth_expires_ms) {
    askAuthServer(client, /*first=*/false);
    return AuthCheck::Pending;
  }
  if (!client.auth_grant->allows(std::string(topic), std::string(channel))) {
    *denied = Outcome::fail(std::string("E_UNAUTHORIZED AUTH failed for ") + command + " on " +
                            goQuote(topic) + " " + goQuote(channel));
    return AuthCheck::Denied;
  }
  return AuthCheck::Allowed;
}

ProtocolV2::Outcome ProtocolV2::sub(ClientV2& client, const CommandLine& line, size_t* consumed) {
  if (client.state != ClientV2::State::Init) {
    return Outcome::fail("E_INVALID cannot SUB in current state");
  }
  if (client.heartbeat_interval_ms <= 0) {
    return Outcome::fail("E_INVALID cannot SUB with heartbeats disabled");
  }
  if (line.param_count < 2) return Outcome::fail("E_INVALID SUB insufficient number of parameters");
  std::string_view topic_name = line.params[0];
  std::string_view channel_name = line.params[1];
  if (!wire::isValidName(topic_name)) {
    return Outcome::fail("E_BAD_TOPIC SUB topic name " + goQuote(topic_name) + " is not valid");
  }
  if (!wire::isValidName(channel_name)) {
    return Outcome::fail("E_BAD_CHANNEL SUB channel name " + goQuote(channel_name) +
                         " is not valid");
  }
  Outcome denied;
  switch (checkAuth(client, "SUB", topic_name, channel_name, &denied)) {
    case AuthCheck::Allowed:
      break;
    case AuthCheck::Pending:
      *consumed = kWaitForBody;
      return Outcome::ok();
    case AuthCheck::Denied:
      return denied;
  }
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(str(topic_name));
  if (!topic.isOk()) return Outcome::fail("E_SUB_FAILED SUB failed " + topic.status().message());
  queue::Channel* existing = (*topic)->findChannel(str(channel_name));
  if (options_.max_channel_consumers > 0 && existing != nullptr &&
      static_cast<int64_t>(existing->clientCount()) >= options_.max_channel_consumers) {
    return Outcome::fail("E_TOO_MANY_CHANNEL_CONSUMERS channel consumers for " + str(topic_name) +
                         ":" + str(channel_name) + " exceeds limit of " +
                         std::to_string(options_.max_channel_consumers));
  }
  Result<queue::Channel*> channel = (*topic)->getOrCreateChannel(str(channel_name));
  if (!channel.isOk()) {
    return Outcome::fail("E_SUB_FAILED SUB failed " + channel.status().message());
  }
  client.channel = *channel;
  client.topic_name = str(topic_name);
  client.channel_name = str(channel_name);
  client.state = ClientV2::State::Subscribed;
  client.channel->addClient(&client, client.msg_timeout_ms);
  respond(client, "OK");
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::rdy(ClientV2& client, const CommandLine& line) {
  if (client.state == ClientV2::State::Closing) return Outcome::ok();  // nsqd ignores it
  if (client.state != ClientV2::State::Subscribed) {
    return Outcome::fail("E_INVALID cannot RDY in current state");
  }
  int64_t count = 1;
  if (line.param_count >= 1 && !parseBase10(line.params[0], &count)) {
    return Outcome::fail("E_INVALID RDY could not parse count " + str(line.params[0]));
  }
  if (count < 0 || count > options_.max_rdy_count) {
    return Outcome::fail("E_INVALID RDY count " + std::to_string(count) + " out of range 0-" +
                         std::to_string(options_.max_rdy_count));
  }
  if (client.channel != nullptr) client.channel->setReady(&client, count);
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::messageCommand(ClientV2& client, const CommandLine& line,
                                               const char* name, size_t min_params, uint64_t* id) {
  if (client.state != ClientV2::State::Subscribed && client.state != ClientV2::State::Closing) {
    return Outcome::fail(std::string("E_INVALID cannot ") + name + " in current state");
  }
  if (line.param_count < min_params) {
    return Outcome::fail(std::string("E_INVALID ") + name + " insufficient number of params");
  }
  if (line.params[0].size() != wire::kMessageIdSize) {
    return Outcome::fail("E_INVALID invalid message ID");
  }
  // An id of 16 bytes that is not hex cannot be in flight: the channel answers that.
  if (!wire::parseMessageId(line.params[0], id)) *id = UINT64_MAX;
  return Outcome::ok();
}

namespace {
std::string failedText(const char* code, const char* name, std::string_view id,
                       const Status& status) {
  return std::string(code) + " " + name + " " + std::string(id) + " failed " + status.message();
}
}  // namespace

ProtocolV2::Outcome ProtocolV2::fin(ClientV2& client, const CommandLine& line) {
  uint64_t id = 0;
  Outcome checked = messageCommand(client, line, "FIN", 1, &id);
  if (!checked.error.empty()) return checked;
  if (client.channel == nullptr) {
    return Outcome::soft(failedText("E_FIN_FAILED", "FIN", line.params[0],
                                    Status(Code::NOT_FOUND, "ID not in flight")));
  }
  Status status = client.channel->finish(&client, id);
  if (!status.isOk()) {
    return Outcome::soft(failedText("E_FIN_FAILED", "FIN", line.params[0], status));
  }
  ++client.finish_count;
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::req(ClientV2& client, const CommandLine& line) {
  uint64_t id = 0;
  Outcome checked = messageCommand(client, line, "REQ", 2, &id);
  if (!checked.error.empty()) return checked;
  int64_t timeout_ms = 0;
  if (!parseBase10(line.params[1], &timeout_ms)) {
    return Outcome::fail("E_INVALID REQ could not parse timeout " + str(line.params[1]));
  }
  // nsqd clamps an out-of-range REQ timeout silently (DPUB's is an error).
  timeout_ms = std::clamp<int64_t>(timeout_ms, 0, options_.queue.max_req_timeout_ms);
  Status status = client.channel == nullptr
                      ? Status(Code::NOT_FOUND, "ID not in flight")
                      : client.channel->requeue(&client, id, timeout_ms, engine_.nowMs());
  if (!status.isOk()) {
    return Outcome::soft(failedText("E_REQ_FAILED", "REQ", line.params[0], status));
  }
  ++client.requeue_count;
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::touch(ClientV2& client, const CommandLine& line) {
  uint64_t id = 0;
  Outcome checked = messageCommand(client, line, "TOUCH", 1, &id);
  if (!checked.error.empty()) return checked;
  Status status = client.channel == nullptr ? Status(Code::NOT_FOUND, "ID not in flight")
                                            : client.channel->touch(&client, id, engine_.nowMs());
  if (!status.isOk()) {
    return Outcome::soft(failedText("E_TOUCH_FAILED", "TOUCH", line.params[0], status));
  }
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::cls(ClientV2& client) {
  if (client.state != ClientV2::State::Subscribed) {
    return Outcome::fail("E_INVALID cannot CLS in current state");
  }
  if (client.channel != nullptr) client.channel->setReady(&client, 0);
  client.state = ClientV2::State::Closing;
  respond(client, "CLOSE_WAIT");
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::pub(ClientV2& client, const CommandLine& line,
                                    std::string_view rest, size_t* consumed) {
  if (line.param_count < 1) return Outcome::fail("E_INVALID PUB insufficient number of parameters");
  std::string_view topic_name = line.params[0];
  if (!wire::isValidName(topic_name)) {
    return Outcome::fail("E_BAD_TOPIC PUB topic name " + goQuote(topic_name) + " is not valid");
  }
  wire::SizedBody body;
  wire::BodyStatus status = wire::parseSizedBody(rest, options_.queue.max_msg_size, &body);
  if (status == wire::BodyStatus::NeedMore) {
    *consumed = kWaitForBody;
    return Outcome::ok();
  }
  if (status != wire::BodyStatus::Ok) {
    return Outcome::fail(bodyError("E_BAD_MESSAGE", "PUB", status, body.size,
                                   options_.queue.max_msg_size, "message body"));
  }
  Outcome denied;
  switch (checkAuth(client, "PUB", topic_name, "", &denied)) {
    case AuthCheck::Allowed:
      break;
    case AuthCheck::Pending:
      *consumed = kWaitForBody;
      return Outcome::ok();
    case AuthCheck::Denied:
      return denied;
  }
  *consumed = body.consumed;
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(str(topic_name));
  if (!topic.isOk()) return Outcome::fail("E_PUB_FAILED PUB failed " + topic.status().message());
  (*topic)->publish(engine_.newMessage(body.data));
  ++client.pub_counts[str(topic_name)];
  respond(client, "OK");
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::dpub(ClientV2& client, const CommandLine& line,
                                     std::string_view rest, size_t* consumed) {
  if (line.param_count < 2) {
    return Outcome::fail("E_INVALID DPUB insufficient number of parameters");
  }
  std::string_view topic_name = line.params[0];
  if (!wire::isValidName(topic_name)) {
    return Outcome::fail("E_BAD_TOPIC DPUB topic name " + goQuote(topic_name) + " is not valid");
  }
  int64_t defer_ms = 0;
  if (!parseBase10(line.params[1], &defer_ms)) {
    return Outcome::fail("E_INVALID DPUB could not parse timeout " + str(line.params[1]));
  }
  if (defer_ms < 0 || defer_ms > options_.queue.max_req_timeout_ms) {
    return Outcome::fail("E_INVALID DPUB timeout " + std::to_string(defer_ms) + " out of range 0-" +
                         std::to_string(options_.queue.max_req_timeout_ms));
  }
  wire::SizedBody body;
  wire::BodyStatus status = wire::parseSizedBody(rest, options_.queue.max_msg_size, &body);
  if (status == wire::BodyStatus::NeedMore) {
    *consumed = kWaitForBody;
    return Outcome::ok();
  }
  if (status != wire::BodyStatus::Ok) {
    return Outcome::fail(bodyError("E_BAD_MESSAGE", "DPUB", status, body.size,
                                   options_.queue.max_msg_size, "message body"));
  }
  Outcome denied;
  switch (checkAuth(client, "DPUB", topic_name, "", &denied)) {
    case AuthCheck::Allowed:
      break;
    case AuthCheck::Pending:
      *consumed = kWaitForBody;
      return Outcome::ok();
    case AuthCheck::Denied:
      return denied;
  }
  *consumed = body.consumed;
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(str(topic_name));
  if (!topic.isOk()) return Outcome::fail("E_DPUB_FAILED DPUB failed " + topic.status().message());
  if (defer_ms > 0) {
    (*topic)->publishDeferred(engine_.newMessage(body.data), engine_.nowMs() + defer_ms);
  } else {
    (*topic)->publish(engine_.newMessage(body.data));
  }
  ++client.pub_counts[str(topic_name)];
  respond(client, "OK");
  return Outcome::ok();
}

ProtocolV2::Outcome ProtocolV2::mpub(ClientV2& client, const CommandLine& line,
                                     std::string_view rest, size_t* consumed) {
  if (line.param_count < 1) {
    return Outcome::fail("E_INVALID MPUB insufficient number of parameters");
  }
  std::string_view topic_name = line.params[0];
  if (!wire::isValidName(topic_name)) {
    // The doubled code is nsqd's (its error wraps an error that already carries it).
    return Outcome::fail("E_BAD_TOPIC E_BAD_TOPIC MPUB topic name " + goQuote(topic_name) +
                         " is not valid");
  }
  Outcome denied;
  switch (checkAuth(client, "MPUB", topic_name, "", &denied)) {
    case AuthCheck::Allowed:
      break;
    case AuthCheck::Pending:
      *consumed = kWaitForBody;
      return Outcome::ok();
    case AuthCheck::Denied:
      return denied;
  }
  // nsqd creates the topic before it looks at the body.
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(str(topic_name));
  if (!topic.isOk()) {
    return Outcome::fail("E_MPUB_FAILED MPUB failed " + topic.status().message());
  }
  wire::SizedBody body;
  wire::BodyStatus status = wire::parseSizedBody(rest, options_.max_body_size, &body);
  if (status == wire::BodyStatus::NeedMore) {
    *consumed = kWaitForBody;
    return Outcome::ok();
  }
  if (status != wire::BodyStatus::Ok) {
    return Outcome::fail(
        bodyError("E_BAD_BODY", "MPUB", status, body.size, options_.max_body_size, "body"));
  }
  *consumed = body.consumed;
  wire::MpubError error;
  switch (wire::parseMpubBody(body.data, options_.queue.max_msg_size, options_.max_body_size,
                              &mpub_scratch_, &error)) {
    case wire::MpubStatus::Ok:
      break;
    case wire::MpubStatus::BadCount:
      return Outcome::fail("E_BAD_BODY MPUB invalid message count " + std::to_string(error.size));
    case wire::MpubStatus::BadMessageSize:
      return Outcome::fail("E_BAD_MESSAGE MPUB invalid message(" + std::to_string(error.index) +
                           ") body size " + std::to_string(error.size));
    case wire::MpubStatus::MessageTooBig:
      return Outcome::fail("E_BAD_MESSAGE MPUB message too big " + std::to_string(error.size) +
                           " > " + std::to_string(options_.queue.max_msg_size));
    case wire::MpubStatus::Truncated:
      if (error.size == -1 && error.index == 0 && body.data.size() < 4) {
        return Outcome::fail("E_BAD_BODY MPUB failed to read message count");
      }
      return Outcome::fail(error.size == -1 ? "E_BAD_MESSAGE MPUB failed to read message(" +
                                                  std::to_string(error.index) + ") body size"
                                            : "E_BAD_MESSAGE MPUB failed to read message body");
  }
  for (std::string_view message : mpub_scratch_) {
    (*topic)->publish(engine_.newMessage(message));
  }
  client.pub_counts[str(topic_name)] += mpub_scratch_.size();
  respond(client, "OK");
  return Outcome::ok();
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
