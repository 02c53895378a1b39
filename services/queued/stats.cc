#include "services/queued/stats.h"

#include <malloc.h>

#include <algorithm>
#include <cstdarg>

#include <cstdio>
#include <ctime>
#include <vector>

#include "common/base/json_writer.h"
#include "common/queue/channel.h"
#include "common/queue/queue_engine.h"
#include "common/queue/topic.h"
#include "services/queued/go_format.h"
#include "services/queued/protocol_v2.h"

namespace push::queued {

namespace {

constexpr const char* kVersion = "1.3.0";

std::vector<const ClientV2*> clientsOf(const ProtocolV2& protocol, const queue::Channel* channel) {
  std::vector<const ClientV2*> out;
  for (const auto& [id, client] : protocol.clients()) {
    if (client->channel == channel && client->conn != nullptr) out.push_back(client.get());
  }
  return out;
}

std::vector<const ClientV2*> producersOf(const ProtocolV2& protocol) {
  std::vector<const ClientV2*> out;
  for (const auto& [id, client] : protocol.clients()) {
    if (!client->pub_counts.empty() && client->conn != nullptr) out.push_back(client.get());
  }
  return out;
}

bool wanted(const std::string& filter, const std::string& name) {
  return filter.empty() || filter == name;
}

void writeClient(JsonWriter& json, const ClientV2& client) {
  json.beginObject()
      .key("client_id")
      .string(client.client_id)
      .key("hostname")
      .string(client.hostname)
      .key("version")
      .string("V2")
      .key("remote_address")
      .string(client.remote_address)
      .key("state")
      .int64(static_cast<int>(client.state))
      .key("ready_count")
      .int64(client.readyCount())
      .key("in_flight_count")
      .int64(client.inFlightCount())
      .key("message_count")
      .uint64(client.message_count)
      .key("finish_count")
      .uint64(client.finish_count)
      .key("requeue_count")
      .uint64(client.requeue_count)
      .key("connect_ts")
      .int64(client.connect_ts_s)
      .key("sample_rate")
      .int64(client.sample_rate)
      .key("deflate")
      .boolean(client.deflate)
      .key("snappy")
      .boolean(client.snappy)
      .key("user_agent")
      .string(client.user_agent);
  if (!client.pub_counts.empty()) {
    json.key("pub_counts").beginArray();
    for (const auto& [topic, count] : client.pub_counts) {
      json.beginObject().key("topic").string(topic).key("count").uint64(count).endObject();
    }
    json.endArray();
  }
  json.key("tls")
      .boolean(client.tls)
      .key("tls_cipher_suite")
      .string("")
      .key("tls_version")
      .string("")
      .key("tls_negotiated_protocol")
      .string("")
      .key("tls_negotiated_protocol_is_mutual")
      .boolean(false)
      .endObject();
}

void writeLatency(JsonWriter& json) {
  json.key("e2e_processing_latency")
      .beginObject()
      .key("count")
      .int64(0)
      .key("percentiles")
      .null()
      .endObject();
}

void writeMemory(JsonWriter& json) {
  struct mallinfo2 info = mallinfo2();
  json.key("memory")
      .beginObject()
      .key("heap_objects")
      .uint64(0)
      .key("heap_idle_bytes")
      .uint64(info.fordblks)
      .key("heap_in_use_bytes")
      .uint64(info.uordblks + info.hblkhd)
      .key("heap_released_bytes")
      .uint64(0)
      .key("gc_pause_usec_100")
      .int64(0)
      .key("gc_pause_usec_99")
      .int64(0)
      .key("gc_pause_usec_95")
      .int64(0)
      .key("next_gc_bytes")
      .uint64(0)
      .key("gc_total_runs")
      .uint64(0)
      .endObject();
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[512];
  va_list args;
  va_start(args, fmt);
  int n = std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  if (n < 0) return {};
  return std::string(buffer, std::min<size_t>(static_cast<size_t>(n), sizeof buffer - 1));
}

std::string clientName(const ClientV2& client) {
  // nsqd: "<hostname>:<remote port> <user agent>" padded to 21.
  std::string port = client.remote_address.substr(client.remote_address.rfind(':') + 1);
  return client.hostname + ":" + port + " " + client.user_agent;
}

int64_t connectedSeconds(const ClientV2& client) {
  return static_cast<int64_t>(std::time(nullptr)) - client.connect_ts_s;
}

}  // namespace

std::string renderStatsJson(const StatsContext& context, const StatsQuery& query) {
  JsonWriter json(4096);
  json.beginObject()
      .key("version")
      .string(kVersion)
      .key("health")
      .string("OK")
      .key("start_time")
      .int64(context.start_time_s)
      .key("topics");
  bool any_topic = false;
  for (const auto& [name, topic] : context.engine.topics()) {
    if (!wanted(query.topic, name)) continue;
    if (!any_topic) json.beginArray();
    any_topic = true;
    queue::Topic::Stats topic_stats = topic->stats();
    json.beginObject().key("topic_name").string(name).key("channels").beginArray();
    for (const auto& [channel_name, channel] : topic->channels()) {
      if (!wanted(query.channel, channel_name)) continue;
      queue::Channel::Stats stats = channel->stats();
      json.beginObject()
          .key("channel_name")
          .string(channel_name)
          .key("depth")
          .uint64(stats.depth)
          .key("backend_depth")
          .uint64(stats.backend_depth)
          .key("in_flight_count")
          .uint64(stats.in_flight)
          .key("deferred_count")
          .uint64(stats.deferred)
          .key("message_count")
          .uint64(stats.message_count)
          .key("requeue_count")
          .uint64(stats.requeue_count)
          .key("timeout_count")
          .uint64(stats.timeout_count)
          .key("client_count")
          .uint64(stats.clients)
          .key("clients");
      if (query.include_clients) {
        json.beginArray();
        for (const ClientV2* client : clientsOf(context.protocol, channel.get())) {
          writeClient(json, *client);
        }
        json.endArray();
      } else {
        json.null();
      }
      json.key("paused").boolean(channel->paused());
      writeLatency(json);
      json.endObject();
    }
    json.endArray()
        .key("depth")
        .uint64(topic_stats.depth)
        .key("backend_depth")
        .uint64(topic_stats.backend_depth)
        .key("message_count")
        .uint64(topic_stats.message_count)
        .key("message_bytes")
        .uint64(topic_stats.message_bytes)
        .key("paused")
        .boolean(topic->paused());
    writeLatency(json);
    json.endObject();
  }
  if (any_topic) {
    json.endArray();
  } else {
    json.null();
  }
  if (query.include_mem) writeMemory(json);
  json.key("producers");
  std::vector<const ClientV2*> producers = producersOf(context.protocol);
  if (producers.empty()) {
    json.null();
  } else {
    json.beginArray();
    for (const ClientV2* client : producers)
      writeClient(json, *client);
    json.endArray();
  }
  json.endObject();
  return json.take();
}

std::string renderStatsText(const StatsContext& context, const StatsQuery& query) {
  std::string out = format("nsqd v%s (queued)\n", kVersion);
  char when[32];
  std::time_t start = static_cast<std::time_t>(context.start_time_s);
  std::tm tm_utc{};
  gmtime_r(&start, &tm_utc);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  out += format("start_time %s\n", when);
  out += format("uptime %s\n", goDurationSeconds(context.uptime_ms / 1000).c_str());
  out += "\nHealth: OK\n";
  if (query.include_mem) {
    struct mallinfo2 info = mallinfo2();
    out += "\nMemory:\n";
    const std::pair<const char*, uint64_t> rows[] = {
        {"heap_objects", 0},
        {"heap_idle_bytes", info.fordblks},
        {"heap_in_use_bytes", info.uordblks + info.hblkhd},
        {"heap_released_bytes", 0},
        {"gc_pause_usec_100", 0},
        {"gc_pause_usec_99", 0},
        {"gc_pause_usec_95", 0},
        {"next_gc_bytes", 0},
        {"gc_total_runs", 0}};
    for (const auto& [key, value] : rows) {
      out += format("   %-25s\t%llu\n", key, static_cast<unsigned long long>(value));
    }
  }
  bool any_topic = false;
  for (const auto& [name, topic] : context.engine.topics()) {
    if (!wanted(query.topic, name)) continue;
    if (!any_topic) out += "\nTopics:";
    any_topic = true;
    queue::Topic::Stats stats = topic->stats();
    out += format("\n%s[%-15s] depth: %-5llu be-depth: %-5llu msgs: %-8llu e2e%%: %s\n",
                  topic->paused() ? "*P " : "   ", name.c_str(),
                  static_cast<unsigned long long>(stats.depth),
                  static_cast<unsigned long long>(stats.backend_depth),
                  static_cast<unsigned long long>(stats.message_count), "");
    for (const auto& [channel_name, channel] : topic->channels()) {
      if (!wanted(query.channel, channel_name)) continue;
      queue::Channel::Stats cs = channel->stats();
      out += format(
          "%s[%-25s] depth: %-5llu be-depth: %-5llu inflt: %-4llu def: %-4llu re-q: %-5llu "
          "timeout: %-5llu msgs: %-8llu e2e%%: %s\n",
          channel->paused() ? "   *P " : "      ", channel_name.c_str(),
          static_cast<unsigned long long>(cs.depth),
          static_cast<unsigned long long>(cs.backend_depth),
          static_cast<unsigned long long>(cs.in_flight),
          static_cast<unsigned long long>(cs.deferred),
          static_cast<unsigned long long>(cs.requeue_count),
          static_cast<unsigned long long>(cs.timeout_count),
          static_cast<unsigned long long>(cs.message_count), "");
      if (!query.include_clients) continue;
      for (const ClientV2* client : clientsOf(context.protocol, channel.get())) {
        out += "        " +
               format(
                   "[%s %-21s] state: %d inflt: %-4lld rdy: %-4lld fin: %-8llu re-q: %-8llu "
                   "msgs: %-8llu connected: %s",
                   "V2", clientName(*client).c_str(), static_cast<int>(client->state),
                   static_cast<long long>(client->inFlightCount()),
                   static_cast<long long>(client->readyCount()),
                   static_cast<unsigned long long>(client->finish_count),
                   static_cast<unsigned long long>(client->requeue_count),
                   static_cast<unsigned long long>(client->message_count),
                   goDurationSeconds(connectedSeconds(*client)).c_str()) +
               "\n";
      }
    }
  }
  if (!any_topic) out += "\nTopics: None\n";
  std::vector<const ClientV2*> producers = producersOf(context.protocol);
  if (producers.empty()) {
    out += "\nProducers: None\n";
  } else {
    out += "\nProducers:\n";
    for (const ClientV2* client : producers) {
      std::string topics;
      uint64_t total = 0;
      for (const auto& [topic, count] : client->pub_counts) {
        if (!topics.empty()) topics += ",";
        topics += topic + "=" + std::to_string(count);
        total += count;
      }
      out += "   " +
             format("[%s %-21s] msgs: %-8llu topics: %s connected: %s", "V2",
                    clientName(*client).c_str(), static_cast<unsigned long long>(total),
                    topics.c_str(), goDurationSeconds(connectedSeconds(*client)).c_str()) +
             "\n";
    }
  }
  return out;
}

}  // namespace push::queued
