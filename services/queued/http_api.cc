#include "services/queued/http_api.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/json_reader.h"
#include "common/base/json_writer.h"
#include "common/queue/channel.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "common/queue/wire.h"
#include "services/queued/lookupd_registrar.h"
#include "services/queued/protocol_v2.h"
#include "services/queued/queued_server.h"
#include "services/queued/stats.h"

namespace push::queued {

namespace {

using http::HttpRequest;
using http::HttpResponder;
using http::HttpResponse;

constexpr const char* kNsqContentType = "nsq; version=1.0";
constexpr const char* kTextType = "text/plain; charset=utf-8";
constexpr const char* kJsonType = "application/json; charset=utf-8";

HttpResponse nsqError(int status, std::string_view message) {
  JsonWriter json(message.size() + 16);
  json.beginObject().key("message").string(message).endObject();
  HttpResponse response(status);
  response.setHeader("X-Nsq-Content-Type", kNsqContentType);
  response.setBody(json.take(), kJsonType);
  return response;
}

HttpResponse nsqText(std::string text) {
  HttpResponse response(200);
  response.setHeader("X-Nsq-Content-Type", kNsqContentType);
  response.setBody(std::move(text), kTextType);
  return response;
}

HttpResponse nsqJson(std::string json) {
  HttpResponse response(200);
  response.setHeader("X-Nsq-Content-Type", kNsqContentType);
  response.setBody(std::move(json), kJsonType);
  return response;
}

// nsqd answers admin actions with a 200 and nothing else.
HttpResponse nsqEmpty() {
  HttpResponse response(200);
  response.setHeader("X-Nsq-Content-Type", kNsqContentType);
  return response;
}

// nsqd's boolean query flags: only "false" and "0" are false; absent is the default.
bool flagOn(const HttpRequest& req, std::string_view name, bool fallback) {
  std::optional<std::string_view> value = req.query(name);
  if (!value) return fallback;
  return !(*value == "false" || *value == "0");
}

// The topic of /pub, /mpub: created on success. Answers and returns nullptr on error.
queue::Topic* publishTopic(QueuedServer& server, const HttpRequest& req, HttpResponder& responder) {
  std::optional<std::string_view> name = req.query("topic");
  if (!name) {
    responder.respond(nsqError(400, "MISSING_ARG_TOPIC"));
    return nullptr;
  }
  if (!queue::wire::isValidName(*name)) {
    responder.respond(nsqError(400, "INVALID_TOPIC"));
    return nullptr;
  }
  Result<queue::Topic*> topic = server.engine().getOrCreateTopic(std::string(*name));
  if (!topic.isOk()) {
    responder.respond(nsqError(503, "EXITING"));
    return nullptr;
  }
  return *topic;
}

void handlePub(QueuedServer& server, HttpRequest& req, HttpResponder responder) {
  const std::string& body = req.body();
  if (body.size() > server.options().queue.max_msg_size) {
    return responder.respond(nsqError(413, "MSG_TOO_BIG"));
  }
  if (body.empty()) return responder.respond(nsqError(400, "MSG_EMPTY"));
  // The defer value is checked before the topic is created, so a bad one leaves nothing.
  int64_t defer_ms = 0;
  if (std::optional<std::string_view> defer = req.query("defer")) {
    std::string text(*defer);
    char* end = nullptr;
    errno = 0;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < 0 ||
        value > server.options().queue.max_req_timeout_ms) {
      if (!req.query("topic") || !queue::wire::isValidName(*req.query("topic"))) {
        (void)publishTopic(server, req, responder);  // answers the topic error first, as nsqd
        return;
      }
      return responder.respond(nsqError(400, "INVALID_DEFER"));
    }
    defer_ms = value;
  }
  queue::Topic* topic = publishTopic(server, req, responder);
  if (topic == nullptr) return;
  queue::Message message = server.engine().newMessage(body);
  if (defer_ms > 0) {
    topic->publishDeferred(std::move(message), server.engine().nowMs() + defer_ms);
  } else {
    topic->publish(std::move(message));
  }
  responder.respond(nsqText("OK"));
}

void handleMpub(QueuedServer& server, HttpRequest& req, HttpResponder responder) {
  const QueuedOptions& options = server.options();
  if (req.body().size() > options.max_body_size) {
    return responder.respond(nsqError(413, "BODY_TOO_BIG"));
  }
  queue::Topic* topic = publishTopic(server, req, responder);
  if (topic == nullptr) return;
  std::optional<std::string_view> binary = req.query("binary");
  bool is_binary = binary && !(*binary == "false" || *binary == "0");
  std::vector<std::string_view> messages;
  std::string_view body = req.body();
  if (is_binary) {
    queue::wire::MpubError error;
    switch (queue::wire::parseMpubBody(body, options.queue.max_msg_size, options.max_body_size,
                                       &messages, &error)) {
      case queue::wire::MpubStatus::Ok:
        break;
      case queue::wire::MpubStatus::BadCount:
        return responder.respond(nsqError(413, "BAD_BODY"));
      case queue::wire::MpubStatus::Truncated:
        if (body.size() < 4) return responder.respond(nsqError(413, "BAD_BODY"));
        return responder.respond(nsqError(413, "BAD_MESSAGE"));
      case queue::wire::MpubStatus::BadMessageSize:
      case queue::wire::MpubStatus::MessageTooBig:
        return responder.respond(nsqError(413, "BAD_MESSAGE"));
    }
  } else {
    while (!body.empty()) {
      size_t newline = body.find('\n');
      std::string_view line = body.substr(0, newline);
      body.remove_prefix(newline == std::string_view::npos ? body.size() : newline + 1);
      if (line.empty()) continue;
      if (line.size() > options.queue.max_msg_size) {
        return responder.respond(nsqError(413, "MSG_TOO_BIG"));
      }
      messages.push_back(line);
    }
  }
  for (queue::Message& message : server.engine().newMessages(messages)) {
    topic->publish(std::move(message));
  }
  responder.respond(nsqText("OK"));
}

void handleStats(QueuedServer& server, HttpRequest& req, HttpResponder responder) {
  StatsQuery query;
  query.topic = std::string(req.query("topic").value_or(""));
  query.channel = std::string(req.query("channel").value_or(""));
  query.include_clients = flagOn(req, "include_clients", true);
  query.include_mem = flagOn(req, "include_mem", true);
  StatsContext context{server.engine(), server.protocol(), server.startTimeSeconds(),
                       server.uptimeMs()};
  if (req.query("format").value_or("") == "json") {
    return responder.respond(nsqJson(renderStatsJson(context, query)));
  }
  HttpResponse response(200);
  response.setBody(renderStatsText(context, query), kTextType);
  responder.respond(std::move(response));
}

void handleInfo(QueuedServer& server, HttpRequest& req, HttpResponder responder) {
  const QueuedOptions& options = server.options();
  constexpr int64_t kNsPerMs = 1000000;
  JsonWriter json(320);
  json.beginObject()
      .key("version")
      .string("1.3.0")
      .key("broadcast_address")
      .string(options.broadcast_address)
      .key("hostname")
      .string(options.broadcast_address)
      .key("http_port")
      .int64(server.httpAddress().port())
      .key("tcp_port")
      .int64(server.tcpAddress().port())
      .key("start_time")
      .int64(server.startTimeSeconds())
      .key("max_heartbeat_interval")
      .int64(options.max_heartbeat_interval_ms * kNsPerMs)
      .key("max_output_buffer_size")
      .int64(options.max_output_buffer_size)
      .key("max_output_buffer_timeout")
      .int64(options.max_output_buffer_timeout_ms * kNsPerMs)
      .key("max_deflate_level")
      .int64(options.max_deflate_level)
      .endObject();
  responder.respond(nsqJson(json.take()));
}

// /topic/<action>: nsqd validates the name for create and empty (400 INVALID_TOPIC) but not
// for delete, pause and unpause (404 TOPIC_NOT_FOUND).
void handleTopic(QueuedServer& server, const std::string& action, HttpRequest& req,
                 HttpResponder responder) {
  std::optional<std::string_view> name = req.query("topic");
  if (!name) return responder.respond(nsqError(400, "MISSING_ARG_TOPIC"));
  std::string topic_name(*name);
  queue::QueueEngine& engine = server.engine();
  if ((action == "create" || action == "empty") && !queue::wire::isValidName(topic_name)) {
    return responder.respond(nsqError(400, "INVALID_TOPIC"));
  }
  if (action == "create") {
    Result<queue::Topic*> topic = engine.getOrCreateTopic(topic_name);
    if (!topic.isOk()) return responder.respond(nsqError(500, "INTERNAL_ERROR"));
    return responder.respond(nsqEmpty());
  }
  queue::Topic* topic = engine.findTopic(topic_name);
  if (topic == nullptr) return responder.respond(nsqError(404, "TOPIC_NOT_FOUND"));
  if (action == "delete") {
    (void)engine.deleteTopic(topic_name);
  } else if (action == "empty") {
    if (!topic->empty().isOk()) return responder.respond(nsqError(500, "INTERNAL_ERROR"));
  } else if (action == "pause") {
    topic->pause();
    (void)engine.persistMetadata();
  } else {
    topic->unpause();
    (void)engine.persistMetadata();
  }
  responder.respond(nsqEmpty());
}

void handleChannel(QueuedServer& server, const std::string& action, HttpRequest& req,
                   HttpResponder responder) {
  std::optional<std::string_view> topic_name = req.query("topic");
  if (!topic_name) return responder.respond(nsqError(400, "MISSING_ARG_TOPIC"));
  if (!queue::wire::isValidName(*topic_name)) {
    return responder.respond(nsqError(400, "INVALID_ARG_TOPIC"));
  }
  std::optional<std::string_view> channel_name = req.query("channel");
  if (!channel_name) return responder.respond(nsqError(400, "MISSING_ARG_CHANNEL"));
  if (!queue::wire::isValidName(*channel_name)) {
    return responder.respond(nsqError(400, "INVALID_ARG_CHANNEL"));
  }
  queue::Topic* topic = server.engine().findTopic(std::string(*topic_name));
  if (topic == nullptr) return responder.respond(nsqError(404, "TOPIC_NOT_FOUND"));
  std::string name(*channel_name);
  if (action == "create") {
    if (!topic->getOrCreateChannel(name).isOk()) {
      return responder.respond(nsqError(500, "INTERNAL_ERROR"));
    }
    return responder.respond(nsqEmpty());
  }
  queue::Channel* channel = topic->findChannel(name);
  if (channel == nullptr) return responder.respond(nsqError(404, "CHANNEL_NOT_FOUND"));
  if (action == "delete") {
    (void)topic->deleteChannel(name);
  } else if (action == "empty") {
    if (!channel->empty().isOk()) return responder.respond(nsqError(500, "INTERNAL_ERROR"));
  } else if (action == "pause") {
    channel->pause();
    (void)server.engine().persistMetadata();
  } else {
    channel->unpause();
    (void)server.engine().persistMetadata();
  }
  responder.respond(nsqEmpty());
}

std::string addressesJson(const std::vector<std::string>& addresses) {
  JsonWriter json;
  json.beginArray();
  for (const std::string& address : addresses)
    json.string(address);
  json.endArray();
  return json.take();
}

void handleConfig(QueuedServer& server, HttpRequest& req, HttpResponder responder) {
  std::string option(req.pathParam("opt").value_or(""));
  const QueuedOptions& options = server.options();
  if (req.method() == "PUT") {
    if (option != "nsqlookupd_tcp_addresses") {
      return responder.respond(nsqError(400, "INVALID_OPTION"));
    }
    const std::string& body = req.body();
    if (body.empty() || body.size() > options.queue.max_msg_size) {
      return responder.respond(nsqError(413, "INVALID_VALUE"));
    }
    std::vector<std::string> addresses;
    JsonReader reader(body);
    Status parsed = reader.beginArray();
    while (parsed.isOk() && reader.nextElement()) {
      std::string address;
      parsed = reader.readString(&address);
      if (parsed.isOk()) addresses.push_back(std::move(address));
    }
    if (parsed.isOk()) parsed = reader.status();
    if (parsed.isOk()) parsed = reader.finish();
    if (!parsed.isOk()) return responder.respond(nsqError(400, "INVALID_VALUE"));
    server.registrar().setAddresses(addresses);
    return responder.respond(nsqJson(addressesJson(addresses)));
  }
  constexpr int64_t kNsPerMs = 1000000;
  if (option == "nsqlookupd_tcp_addresses") {
    return responder.respond(nsqJson(addressesJson(server.registrar().addresses())));
  }
  if (option == "auth_http_addresses") {
    return responder.respond(nsqJson(addressesJson(options.auth_http_addresses)));
  }
  auto text = [&](const std::string& value) { responder.respond(nsqText(value)); };
  auto number = [&](int64_t value) { responder.respond(nsqJson(std::to_string(value))); };
  if (option == "tcp_address") return text(options.tcp_address);
  if (option == "http_address") return text(options.http_address);
  if (option == "https_address") return text(options.https_address);
  if (option == "broadcast_address") return text(options.broadcast_address);
  if (option == "data_path") return text(options.queue.data_path);
  if (option == "mem_queue_size") return number(options.queue.mem_queue_size);
  if (option == "max_bytes_per_file") {
    return number(static_cast<int64_t>(options.queue.max_bytes_per_file));
  }
  if (option == "sync_every") return number(static_cast<int64_t>(options.queue.sync_every));
  if (option == "max_msg_size") return number(options.queue.max_msg_size);
  if (option == "max_body_size") return number(options.max_body_size);
  if (option == "max_rdy_count") return number(options.max_rdy_count);
  if (option == "msg_timeout") return number(options.queue.msg_timeout_ms * kNsPerMs);
  if (option == "max_msg_timeout") return number(options.queue.max_msg_timeout_ms * kNsPerMs);
  if (option == "max_req_timeout") return number(options.queue.max_req_timeout_ms * kNsPerMs);
  if (option == "sync_timeout") return number(options.sync_timeout_ms * kNsPerMs);
  if (option == "max_deflate_level") return number(options.max_deflate_level);
  responder.respond(nsqError(400, "INVALID_OPTION"));
}

}  // namespace

http::Router makeHttpApi(QueuedServer& server) {
  http::Router router;
  router.setMissResponse([](int status, std::string_view allow) {
    return nsqError(status, status == 405 ? "METHOD_NOT_ALLOWED" : "NOT_FOUND");
  });
  auto bind = [&server](void (*fn)(QueuedServer&, HttpRequest&, HttpResponder)) {
    return [&server, fn](HttpRequest& req, HttpResponder responder) {
      fn(server, req, std::move(responder));
    };
  };
  (void)router.add("GET", "/ping", [](HttpRequest&, HttpResponder responder) {
    HttpResponse response(200);
    response.setBody("OK", kTextType);
    responder.respond(std::move(response));
  });
  (void)router.add("GET", "/info", bind(handleInfo));
  (void)router.add("POST", "/pub", bind(handlePub));
  (void)router.add("POST", "/mpub", bind(handleMpub));
  (void)router.add("GET", "/stats", bind(handleStats));
  for (const char* action : {"create", "delete", "empty", "pause", "unpause"}) {
    std::string name = action;
    (void)router.add("POST", "/topic/" + name,
                     [&server, name](HttpRequest& req, HttpResponder responder) {
                       handleTopic(server, name, req, std::move(responder));
                     });
    (void)router.add("POST", "/channel/" + name,
                     [&server, name](HttpRequest& req, HttpResponder responder) {
                       handleChannel(server, name, req, std::move(responder));
                     });
  }
  (void)router.add("GET", "/config/{opt}", bind(handleConfig));
  (void)router.add("PUT", "/config/{opt}", bind(handleConfig));
  return router;
}

}  // namespace push::queued
