#include "services/queued/protocol_v2.h"

#include <string>

#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "services/queued/body_errors.h"
#include "services/queued/go_format.h"

// ProtocolV2's publish commands: PUB, DPUB and MPUB, with nsqd's checks in nsqd's order
// (which differs between them: MPUB asks for authorization and creates the topic before it
// looks at the body) and its error texts.

namespace push::queued {

namespace {

using queue::wire::CommandLine;
namespace wire = queue::wire;

}  // namespace

ProtocolV2::Outcome ProtocolV2::badTopic(const char* command, std::string_view name) {
  return Outcome::fail(std::string("E_BAD_TOPIC ") + command + " topic name " + goQuote(name) +
                       " is not valid");
}

ProtocolV2::Outcome ProtocolV2::pub(ClientV2& client, const CommandLine& line,
                                    std::string_view rest, size_t* consumed) {
  if (line.param_count < 1) return Outcome::fail("E_INVALID PUB insufficient number of parameters");
  return publishOne(client, "PUB", line.params[0], 0, rest, consumed);
}

ProtocolV2::Outcome ProtocolV2::dpub(ClientV2& client, const CommandLine& line,
                                     std::string_view rest, size_t* consumed) {
  if (line.param_count < 2) {
    return Outcome::fail("E_INVALID DPUB insufficient number of parameters");
  }
  std::string_view topic_name = line.params[0];
  if (!wire::isValidName(topic_name)) return badTopic("DPUB", topic_name);
  int64_t defer_ms = 0;
  if (!parseBase10(line.params[1], &defer_ms)) {
    return Outcome::fail("E_INVALID DPUB could not parse timeout " + std::string(line.params[1]));
  }
  if (defer_ms < 0 || defer_ms > options_.queue.max_req_timeout_ms) {
    return Outcome::fail("E_INVALID DPUB timeout " + std::to_string(defer_ms) + " out of range 0-" +
                         std::to_string(options_.queue.max_req_timeout_ms));
  }
  return publishOne(client, "DPUB", topic_name, defer_ms, rest, consumed);
}

ProtocolV2::Outcome ProtocolV2::publishOne(ClientV2& client, const char* command,
                                           std::string_view topic_name, int64_t defer_ms,
                                           std::string_view rest, size_t* consumed) {
  if (!wire::isValidName(topic_name)) return badTopic(command, topic_name);
  wire::SizedBody body;
  if (Outcome refusal; !readBody(command, rest, true, &body, consumed, &refusal)) {
    return refusal;
  }
  if (Outcome refusal; !authorized(client, command, topic_name, "", consumed, &refusal)) {
    return refusal;
  }
  *consumed = body.consumed;
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(std::string(topic_name));
  if (!topic.isOk()) {
    return Outcome::fail(std::string("E_") + command + "_FAILED " + command + " failed " +
                         topic.status().message());
  }
  if (defer_ms > 0) {
    (*topic)->publishDeferred(engine_.newMessage(body.data), engine_.nowMs() + defer_ms);
  } else {
    (*topic)->publish(engine_.newMessage(body.data));
  }
  ++client.pub_counts[std::string(topic_name)];
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
  if (Outcome refusal; !authorized(client, "MPUB", topic_name, "", consumed, &refusal)) {
    return refusal;
  }
  // nsqd creates the topic before it looks at the body.
  Result<queue::Topic*> topic = engine_.getOrCreateTopic(std::string(topic_name));
  if (!topic.isOk()) {
    return Outcome::fail("E_MPUB_FAILED MPUB failed " + topic.status().message());
  }
  wire::SizedBody body;
  if (Outcome refusal; !readBody("MPUB", rest, false, &body, consumed, &refusal)) {
    return refusal;
  }
  *consumed = body.consumed;
  wire::MpubError error;
  wire::MpubStatus parsed = wire::parseMpubBody(body.data, options_.queue.max_msg_size,
                                                options_.max_body_size, &mpub_scratch_, &error);
  if (parsed != wire::MpubStatus::Ok) {
    return Outcome::fail(
        mpubBodyError(parsed, error, body.data.size(), options_.queue.max_msg_size));
  }
  for (queue::Message& message : engine_.newMessages(mpub_scratch_)) {
    (*topic)->publish(std::move(message));
  }
  client.pub_counts[std::string(topic_name)] += mpub_scratch_.size();
  respond(client, "OK");
  return Outcome::ok();
}

}  // namespace push::queued
