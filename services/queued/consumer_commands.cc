#include "services/queued/protocol_v2.h"

#include <algorithm>
#include <string>

#include "common/queue/channel.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "services/queued/go_format.h"

// ProtocolV2's consumer commands: SUB, RDY, FIN, REQ, TOUCH and CLS, with nsqd's checks in
// nsqd's order and its error texts.

namespace push::queued {

namespace {

using queue::wire::CommandLine;
namespace wire = queue::wire;

// "E_FIN_FAILED FIN <id> failed <why>", as nsqd words a FIN, REQ or TOUCH the channel refused.
std::string failedText(const char* code, const char* name, std::string_view id,
                       const Status& status) {
  return std::string(code) + " " + name + " " + std::string(id) + " failed " + status.message();
}

}  // namespace

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
    return badTopic("SUB", topic_name);
  }
  if (!wire::isValidName(channel_name)) {
    return Outcome::fail("E_BAD_CHANNEL SUB channel name " + goQuote(channel_name) +
                         " is not valid");
  }
  if (Outcome refusal; !authorized(client, "SUB", topic_name, channel_name, consumed, &refusal)) {
    return refusal;
  }
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(std::string(topic_name));
  if (!topic.isOk()) return Outcome::fail("E_SUB_FAILED SUB failed " + topic.status().message());
  queue::Channel* existing = (*topic)->findChannel(std::string(channel_name));
  if (options_.max_channel_consumers > 0 && existing != nullptr &&
      static_cast<int64_t>(existing->clientCount()) >= options_.max_channel_consumers) {
    return Outcome::fail("E_TOO_MANY_CHANNEL_CONSUMERS channel consumers for " +
                         std::string(topic_name) + ":" + std::string(channel_name) +
                         " exceeds limit of " + std::to_string(options_.max_channel_consumers));
  }
  Result<queue::Channel*> channel = (*topic)->getOrCreateChannel(std::string(channel_name));
  if (!channel.isOk()) {
    return Outcome::fail("E_SUB_FAILED SUB failed " + channel.status().message());
  }
  client.channel = *channel;
  client.topic_name = std::string(topic_name);
  client.channel_name = std::string(channel_name);
  client.state = ClientV2::State::Subscribed;
  client.channel->addClient(&client, client.msg_timeout_ms, client.sample_rate);
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
    return Outcome::fail("E_INVALID RDY could not parse count " + std::string(line.params[0]));
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
    return Outcome::fail("E_INVALID REQ could not parse timeout " + std::string(line.params[1]));
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

}  // namespace push::queued
