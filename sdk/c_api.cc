// The C API (sdk/include/push/push_client.h) over push::sdk::Client. No C++ exception may
// leave these functions: callers are C (JNI, Swift).

#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "proto/client.pb.h"
#include "push/push_client.h"
#include "sdk/client.h"

// The C header repeats numbers defined elsewhere; keep them in step.
static_assert(PUSH_STATE_DISCONNECTED == static_cast<int>(push::sdk::State::Disconnected));
static_assert(PUSH_STATE_CONNECTING == static_cast<int>(push::sdk::State::Connecting));
static_assert(PUSH_STATE_AUTHENTICATING == static_cast<int>(push::sdk::State::Authenticating));
static_assert(PUSH_STATE_ONLINE == static_cast<int>(push::sdk::State::Online));
static_assert(PUSH_STATE_BACKOFF == static_cast<int>(push::sdk::State::Backoff));
static_assert(PUSH_STATE_NEEDS_TOKEN == static_cast<int>(push::sdk::State::NeedsToken));
static_assert(PUSH_STATE_KICKED == static_cast<int>(push::sdk::State::Kicked));
static_assert(PUSH_STATE_CLOSED == static_cast<int>(push::sdk::State::Closed));
#define PUSH_SAME(c_value, cc_value) \
  static_assert(static_cast<int>(c_value) == static_cast<int>(cc_value), #c_value)
PUSH_SAME(PUSH_NETWORK_UNKNOWN, push::client::NETWORK_UNKNOWN);
PUSH_SAME(PUSH_NETWORK_WIFI, push::client::NETWORK_WIFI);
PUSH_SAME(PUSH_NETWORK_CELLULAR, push::client::NETWORK_CELLULAR);
PUSH_SAME(PUSH_NETWORK_ETHERNET, push::client::NETWORK_ETHERNET);
PUSH_SAME(PUSH_NETWORK_ETHERNET, push::client::NetworkType_MAX);
PUSH_SAME(PUSH_ERROR_NONE, push::client::ERROR_NONE);
PUSH_SAME(PUSH_ERROR_BAD_FRAME, push::client::ERROR_BAD_FRAME);
PUSH_SAME(PUSH_ERROR_FRAME_TOO_LARGE, push::client::ERROR_FRAME_TOO_LARGE);
PUSH_SAME(PUSH_ERROR_AUTH_REQUIRED, push::client::ERROR_AUTH_REQUIRED);
PUSH_SAME(PUSH_ERROR_BAD_TOKEN, push::client::ERROR_BAD_TOKEN);
PUSH_SAME(PUSH_ERROR_TOKEN_EXPIRED, push::client::ERROR_TOKEN_EXPIRED);
PUSH_SAME(PUSH_ERROR_UNKNOWN_APP, push::client::ERROR_UNKNOWN_APP);
PUSH_SAME(PUSH_ERROR_AUTH_TIMEOUT, push::client::ERROR_AUTH_TIMEOUT);
PUSH_SAME(PUSH_ERROR_RATE_LIMITED, push::client::ERROR_RATE_LIMITED);
PUSH_SAME(PUSH_ERROR_TOO_MANY_CONNECTIONS, push::client::ERROR_TOO_MANY_CONNECTIONS);
PUSH_SAME(PUSH_ERROR_NOT_BOUND, push::client::ERROR_NOT_BOUND);
PUSH_SAME(PUSH_ERROR_DRAINING, push::client::ERROR_DRAINING);
PUSH_SAME(PUSH_ERROR_FORBIDDEN, push::client::ERROR_FORBIDDEN);
PUSH_SAME(PUSH_ERROR_DEVICE_MISMATCH, push::client::ERROR_DEVICE_MISMATCH);
PUSH_SAME(PUSH_ERROR_INTERNAL, push::client::ERROR_INTERNAL);
PUSH_SAME(PUSH_ERROR_ALREADY_AUTHENTICATED, push::client::ERROR_ALREADY_AUTHENTICATED);
PUSH_SAME(PUSH_ERROR_TOO_MANY_APPS, push::client::ERROR_TOO_MANY_APPS);
PUSH_SAME(PUSH_ERROR_UNAVAILABLE, push::client::ERROR_UNAVAILABLE);
PUSH_SAME(PUSH_ERROR_BAD_TAG, push::client::ERROR_BAD_TAG);
PUSH_SAME(PUSH_ERROR_TOO_MANY_TAGS, push::client::ERROR_TOO_MANY_TAGS);
// A new ErrorCode in client.proto: add it to push_error in push_client.h.
PUSH_SAME(PUSH_ERROR_TOO_MANY_TAGS, push::client::ErrorCode_MAX);
PUSH_SAME(PUSH_ERROR_SDK_CONNECT_FAILED, push::sdk::kErrorConnectFailed);
PUSH_SAME(PUSH_ERROR_SDK_CONNECTION_LOST, push::sdk::kErrorConnectionLost);
PUSH_SAME(PUSH_ERROR_SDK_HEARTBEAT_TIMEOUT, push::sdk::kErrorHeartbeatTimeout);
PUSH_SAME(PUSH_ERROR_SDK_AUTH_TIMEOUT, push::sdk::kErrorAuthTimeout);
PUSH_SAME(PUSH_ERROR_SDK_PROTOCOL, push::sdk::kErrorProtocol);
#undef PUSH_SAME

// The C handle: the client plus the C callbacks it forwards to.
struct push_client {
  std::unique_ptr<push::sdk::Client> client;
  std::mutex mu;           // guards `connected` and the callback fields below until connected
  bool connected = false;  // after that the fields are read-only (read on the SDK thread)
  push_on_message_fn on_message = nullptr;
  push_on_state_fn on_state = nullptr;
  push_on_error_fn on_error = nullptr;
  void* user_data = nullptr;
  push_on_upstream_ack_fn on_upstream_ack = nullptr;
  push_on_upstream_reply_fn on_upstream_reply = nullptr;  // preferred when set
  void* upstream_user_data = nullptr;
  push_on_subscribe_fn on_subscribe = nullptr;
  void* subscribe_user_data = nullptr;
};

namespace {

using push::Code;
using push::sdk::ClientOptions;

push_status toStatus(const push::Status& st) {
  switch (st.code()) {
    case Code::OK:
      return PUSH_OK;
    case Code::INVALID_ARGUMENT:
      return PUSH_ERR_INVALID_ARGUMENT;
    case Code::CANCELLED:
      return PUSH_ERR_CLOSED;
    case Code::FAILED_PRECONDITION:
      return PUSH_ERR_WRONG_STATE;
    case Code::OVERLOADED:
      return PUSH_ERR_QUEUE_FULL;
    default:
      return PUSH_ERR_INTERNAL;
  }
}

// Runs `fn`, turning any exception (std::bad_alloc, mostly) into PUSH_ERR_INTERNAL.
template <typename Fn>
push_status guarded(Fn&& fn) {
  try {
    return fn();
  } catch (...) {
    return PUSH_ERR_INTERNAL;
  }
}

std::vector<std::string> splitServers(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

ClientOptions toOptions(const push_client_config& config) {
  ClientOptions o;
  if (config.servers) o.servers = splitServers(config.servers);
  if (config.token) o.token = config.token;
  o.network = static_cast<push::sdk::Network>(config.network);
  if (config.client_version) o.client_version = config.client_version;
  o.auto_ack = config.manual_ack == 0;
  o.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
  o.backoff_initial = std::chrono::milliseconds(config.backoff_initial_ms);
  o.backoff_max = std::chrono::milliseconds(config.backoff_max_ms);
  o.max_frame_bytes = config.max_frame_bytes;
  o.dedup_window = config.dedup_window;
  if (config.dispatcher) o.dispatcher = config.dispatcher;
  if (config.region) o.region = config.region;
  o.route_failures = config.route_failures;
  return o;
}

push::Status checkConfig(const push_client_config* config) {
  if (!config) return push::invalidArgument("config is NULL");
  const bool has_servers = config->servers && *config->servers;
  const bool has_dispatcher = config->dispatcher && *config->dispatcher;
  if (!has_servers && !has_dispatcher) {
    return push::invalidArgument("servers: required (or a dispatcher)");
  }
  if (config->network < PUSH_NETWORK_UNKNOWN || config->network > PUSH_NETWORK_ETHERNET) {
    return push::invalidArgument("network: not a push_network value");
  }
  return push::Status::ok();
}

// Installs forwarding callbacks once, at creation: they read the C fields, which may still
// change until push_client_connect() (the SDK thread starts after that).
push::sdk::Client::Callbacks forwarders(push_client* c) {
  push::sdk::Client::Callbacks cb;
  cb.on_message = [c](const push::sdk::Message& m) {
    if (!c->on_message) return;
    push_message msg;
    msg.id = m.id;
    msg.app = m.app.c_str();
    msg.payload = reinterpret_cast<const uint8_t*>(m.payload.data());
    msg.payload_len = m.payload.size();
    msg.qos = m.qos;
    msg.created_ms = m.created_ms;
    msg.broadcast_seq = m.broadcast_seq;
    msg.tag = m.tag.c_str();
    c->on_message(c->user_data, &msg);  // `c` may be freed inside: touch nothing after
  };
  cb.on_state = [c](push::sdk::State s, const std::string& detail) {
    if (c->on_state) c->on_state(c->user_data, static_cast<push_state>(s), detail.c_str());
  };
  cb.on_error = [c](int code, const std::string& message) {
    if (c->on_error) c->on_error(c->user_data, code, message.c_str());
  };
  cb.on_upstream_ack = [c](uint64_t seq, int code, const std::string& message,
                           const std::string& reply) {
    if (c->on_upstream_reply) {
      c->on_upstream_reply(c->upstream_user_data, seq, code, message.c_str(),
                           reinterpret_cast<const uint8_t*>(reply.data()), reply.size());
    } else if (c->on_upstream_ack) {
      c->on_upstream_ack(c->upstream_user_data, seq, code, message.c_str());
    }
  };
  cb.on_subscribe = [c](uint64_t seq, const std::string& app, int code, const std::string& message,
                        const std::vector<std::string>& tags) {
    if (!c->on_subscribe) return;
    std::vector<const char*> names;
    names.reserve(tags.size());
    for (const std::string& t : tags)
      names.push_back(t.c_str());
    c->on_subscribe(c->subscribe_user_data, seq, app.c_str(), code, message.c_str(), names.data(),
                    names.size());
  };
  cb.on_bind = [c](const std::string& app, int code, const std::string& message) {
    if (code == 0 || !c->on_error) return;
    const std::string text = "bind " + app + ": " + message;
    c->on_error(c->user_data, code, text.c_str());
  };
  return cb;
}

}  // namespace

extern "C" {

void push_client_config_init(push_client_config* config) {
  if (!config) return;
  std::memset(config, 0, sizeof *config);
  const ClientOptions defaults;
  config->network = PUSH_NETWORK_UNKNOWN;
  config->connect_timeout_ms = static_cast<uint32_t>(defaults.connect_timeout.count());
  config->backoff_initial_ms = static_cast<uint32_t>(defaults.backoff_initial.count());
  config->backoff_max_ms = static_cast<uint32_t>(defaults.backoff_max.count());
  config->max_frame_bytes = defaults.max_frame_bytes;
  config->dedup_window = static_cast<uint32_t>(defaults.dedup_window);
  config->route_failures = defaults.route_failures;
}

push_status push_client_config_check(const push_client_config* config, char* why, size_t why_len) {
  return guarded([&] {
    push::Status st = checkConfig(config);
    if (st.isOk()) {
      auto client = push::sdk::Client::create(toOptions(*config));
      if (!client.isOk()) st = client.status();
    }
    if (why && why_len > 0) {
      const std::string& text = st.message();
      const size_t n = std::min(text.size(), why_len - 1);
      std::memcpy(why, text.data(), n);
      why[n] = '\0';
    }
    return st.isOk() ? PUSH_OK : PUSH_ERR_INVALID_ARGUMENT;
  });
}

push_client* push_client_new(const push_client_config* config) {
  try {
    if (!checkConfig(config).isOk()) return nullptr;
    auto client = push::sdk::Client::create(toOptions(*config));
    if (!client.isOk()) return nullptr;
    auto c = std::make_unique<push_client>();
    c->client = std::move(client).value();
    if (!c->client->setCallbacks(forwarders(c.get())).isOk()) return nullptr;
    return c.release();
  } catch (...) {
    return nullptr;
  }
}

push_status push_client_set_callbacks(push_client* client, push_on_message_fn on_message,
                                      push_on_state_fn on_state, push_on_error_fn on_error,
                                      void* user_data) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  std::lock_guard lock(client->mu);
  if (client->connected) return PUSH_ERR_WRONG_STATE;
  client->on_message = on_message;
  client->on_state = on_state;
  client->on_error = on_error;
  client->user_data = user_data;
  return PUSH_OK;
}

push_status push_client_set_upstream_callback(push_client* client,
                                              push_on_upstream_ack_fn on_upstream_ack,
                                              void* user_data) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  std::lock_guard lock(client->mu);
  if (client->connected) return PUSH_ERR_WRONG_STATE;
  client->on_upstream_ack = on_upstream_ack;
  client->upstream_user_data = user_data;
  return PUSH_OK;
}

push_status push_client_set_upstream_reply_callback(push_client* client,
                                                    push_on_upstream_reply_fn on_upstream_reply,
                                                    void* user_data) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  std::lock_guard lock(client->mu);
  if (client->connected) return PUSH_ERR_WRONG_STATE;
  client->on_upstream_reply = on_upstream_reply;
  client->upstream_user_data = user_data;
  return PUSH_OK;
}

push_status push_client_set_subscribe_callback(push_client* client,
                                               push_on_subscribe_fn on_subscribe, void* user_data) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  std::lock_guard lock(client->mu);
  if (client->connected) return PUSH_ERR_WRONG_STATE;
  client->on_subscribe = on_subscribe;
  client->subscribe_user_data = user_data;
  return PUSH_OK;
}

push_status push_client_connect(push_client* client) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] {
    std::lock_guard lock(client->mu);  // the fields above are final from here on
    client->connected = true;
    return toStatus(client->client->connect());
  });
}

push_status push_client_ack(push_client* client, uint64_t message_id) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] { return toStatus(client->client->ack(message_id)); });
}

push_status push_client_send_upstream(push_client* client, const char* app, const void* data,
                                      size_t len, uint64_t* seq) {
  if (!client || (!data && len > 0)) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] {
    auto r = client->client->sendUpstream(
        app ? std::string_view(app) : std::string_view(),
        std::string_view(static_cast<const char*>(data), data ? len : 0));
    if (!r.isOk()) return toStatus(r.status());
    if (seq) *seq = *r;
    return PUSH_OK;
  });
}

push_status push_client_send_upstream_typed(push_client* client, const char* app, const char* type,
                                            const void* data, size_t len, uint64_t* seq) {
  if (!client || (!data && len > 0)) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] {
    auto r = client->client->sendUpstream(
        app ? std::string_view(app) : std::string_view(),
        std::string_view(static_cast<const char*>(data), data ? len : 0),
        type ? std::string_view(type) : std::string_view());
    if (!r.isOk()) return toStatus(r.status());
    if (seq) *seq = *r;
    return PUSH_OK;
  });
}

push_status push_client_set_network(push_client* client, push_network network) {
  // A C caller may pass any int: read it as one (a C++ load of an enum outside its values is
  // undefined).
  static_assert(sizeof(push_network) == sizeof(int));
  int value = 0;
  std::memcpy(&value, &network, sizeof value);
  if (!client || value < PUSH_NETWORK_UNKNOWN || value > PUSH_NETWORK_ETHERNET) {
    return PUSH_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    return toStatus(client->client->setNetworkType(static_cast<push::sdk::Network>(network)));
  });
}

push_status push_client_set_token(push_client* client, const char* token) {
  if (!client || !token || !*token) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] { return toStatus(client->client->setToken(token)); });
}

push_status push_client_bind(push_client* client, const char* token) {
  if (!client || !token || !*token) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] { return toStatus(client->client->bind(token)); });
}

push_status push_client_unbind(push_client* client, const char* app) {
  if (!client || !app || !*app) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] { return toStatus(client->client->unbind(app)); });
}

namespace {
push_status tagRequest(push_client* client, const char* app, const char* const* tags,
                       size_t tag_count, uint64_t* seq, bool subscribe) {
  if (!client || !app || !*app || (!tags && tag_count > 0)) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] {
    std::vector<std::string> names;
    names.reserve(tag_count);
    for (size_t i = 0; i < tag_count; ++i) {
      if (!tags[i]) return PUSH_ERR_INVALID_ARGUMENT;
      names.emplace_back(tags[i]);
    }
    auto r = subscribe ? client->client->subscribe(app, std::move(names))
                       : client->client->unsubscribe(app, std::move(names));
    if (!r.isOk()) return toStatus(r.status());
    if (seq) *seq = *r;
    return PUSH_OK;
  });
}
}  // namespace

push_status push_client_subscribe(push_client* client, const char* app, const char* const* tags,
                                  size_t tag_count, uint64_t* seq) {
  return tagRequest(client, app, tags, tag_count, seq, true);
}

push_status push_client_unsubscribe(push_client* client, const char* app, const char* const* tags,
                                    size_t tag_count, uint64_t* seq) {
  return tagRequest(client, app, tags, tag_count, seq, false);
}

uint64_t push_client_last_broadcast_seq(const push_client* client, const char* app) {
  if (!client || !app) return 0;
  try {
    return client->client->lastBroadcastSeq(app);
  } catch (...) {
    return 0;  // out of memory copying the name: nothing may unwind through C
  }
}

push_status push_client_set_last_broadcast_seq(push_client* client, const char* app, uint64_t seq) {
  if (!client || !app || !*app) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] { return toStatus(client->client->setLastBroadcastSeq(app, seq)); });
}

push_state push_client_state(const push_client* client) {
  if (!client) return PUSH_STATE_CLOSED;
  return static_cast<push_state>(client->client->state());
}

push_status push_client_close(push_client* client) {
  if (!client) return PUSH_ERR_INVALID_ARGUMENT;
  return guarded([&] {
    client->client->close();
    return PUSH_OK;
  });
}

void push_client_free(push_client* client) {
  try {
    delete client;  // ~Client closes (and, on the SDK thread, finishes on its own)
  } catch (...) {
  }
}

const char* push_state_name(push_state state) {
  if (state < PUSH_STATE_DISCONNECTED || state > PUSH_STATE_CLOSED) return "unknown";
  return push::sdk::stateName(static_cast<push::sdk::State>(state));
}

const char* push_error_name(int32_t code) {
  return push::sdk::errorName(code);
}

const char* push_status_name(push_status status) {
  switch (status) {
    case PUSH_OK:
      return "OK";
    case PUSH_ERR_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case PUSH_ERR_CLOSED:
      return "CLOSED";
    case PUSH_ERR_WRONG_STATE:
      return "WRONG_STATE";
    case PUSH_ERR_QUEUE_FULL:
      return "QUEUE_FULL";
    case PUSH_ERR_INTERNAL:
      return "INTERNAL";
  }
  return "UNKNOWN";
}

}  // extern "C"
