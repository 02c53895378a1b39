/*
 * push_client.h: the C API of the push client SDK, for mobile apps (JNI, Swift, ...).
 *
 * A push_client keeps one long-lived connection to the push platform: it connects to a
 * room, authenticates with the app's token, sends heartbeats, reconnects with backoff,
 * delivers every pushed message once and acknowledges it, and sends upstream data. The wire
 * protocol is described in sdk/PROTOCOL.md.
 *
 * Threads: every client runs its own event loop on its own thread (the "SDK thread"),
 * started by push_client_connect(). Every function below is thread-safe unless it says
 * otherwise; none blocks except push_client_close() and push_client_free(). Callbacks run
 * on the SDK thread, one at a time, and may call any function of this API (including
 * push_client_close() and push_client_free(), which then do not wait). Callbacks must
 * return quickly: while one runs, no heartbeat is sent and no message is read.
 *
 * Strings and buffers passed in are copied before the function returns; the caller keeps
 * ownership. Strings and buffers passed to callbacks are valid only during the callback.
 * Every string is NUL-terminated UTF-8 unless a length is given.
 *
 *   push_client_config config;
 *   push_client_config_init(&config);
 *   config.servers = "10.0.0.1:7100,10.0.0.2:7100";
 *   config.token = token_from_app_server;
 *   config.network = PUSH_NETWORK_WIFI;
 *   push_client* client = push_client_new(&config);
 *   push_client_set_callbacks(client, on_message, on_state, on_error, app_context);
 *   push_client_connect(client);
 *   ...
 *   push_client_free(client);   // closes first
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque client handle. */
typedef struct push_client push_client;

/* Return codes of the functions below. */
typedef enum push_status {
  PUSH_OK = 0,
  PUSH_ERR_INVALID_ARGUMENT = 1, /* NULL where a value is needed, empty or oversized input */
  PUSH_ERR_CLOSED = 2,           /* push_client_close() was called */
  PUSH_ERR_WRONG_STATE = 3,      /* e.g. callbacks set after push_client_connect() */
  PUSH_ERR_QUEUE_FULL = 4,       /* too many upstream messages pending */
  PUSH_ERR_INTERNAL = 5          /* out of memory or a bug */
} push_status;

/* Connection states, reported to push_on_state_fn. */
typedef enum push_state {
  PUSH_STATE_DISCONNECTED = 0,   /* created, push_client_connect() not called yet */
  PUSH_STATE_CONNECTING = 1,     /* TCP connect to a room in progress */
  PUSH_STATE_AUTHENTICATING = 2, /* Auth sent, waiting for the room's answer */
  PUSH_STATE_ONLINE = 3,         /* authenticated: messages arrive */
  PUSH_STATE_BACKOFF = 4,        /* waiting before the next connection attempt */
  PUSH_STATE_NEEDS_TOKEN = 5,    /* token refused (bad, expired, unknown app, address
                                    forbidden): waits for push_client_set_token() */
  PUSH_STATE_KICKED = 6,         /* the operator removed the session: waits for
                                    push_client_connect() */
  PUSH_STATE_CLOSED = 7          /* push_client_close() was called; final */
} push_state;

/* Network type, sent at authentication; the room picks the heartbeat interval from it. */
typedef enum push_network {
  PUSH_NETWORK_UNKNOWN = 0,
  PUSH_NETWORK_WIFI = 1,
  PUSH_NETWORK_CELLULAR = 2,
  PUSH_NETWORK_ETHERNET = 3
} push_network;

/* Error codes passed to push_on_error_fn and push_on_upstream_ack_fn. 1..999 come from the
 * room (push.client.ErrorCode in proto/client.proto; sdk/PROTOCOL.md has the table); 1000
 * and up are the SDK's own. */
typedef enum push_error {
  PUSH_ERROR_NONE = 0,
  PUSH_ERROR_BAD_FRAME = 1,
  PUSH_ERROR_FRAME_TOO_LARGE = 2,
  PUSH_ERROR_AUTH_REQUIRED = 3,
  PUSH_ERROR_BAD_TOKEN = 4,
  PUSH_ERROR_TOKEN_EXPIRED = 5,
  PUSH_ERROR_UNKNOWN_APP = 6,
  PUSH_ERROR_AUTH_TIMEOUT = 7,
  PUSH_ERROR_RATE_LIMITED = 8,
  PUSH_ERROR_TOO_MANY_CONNECTIONS = 9,
  PUSH_ERROR_NOT_BOUND = 10,
  PUSH_ERROR_DRAINING = 11,
  PUSH_ERROR_FORBIDDEN = 12,
  PUSH_ERROR_DEVICE_MISMATCH = 13,
  PUSH_ERROR_INTERNAL = 14,
  PUSH_ERROR_ALREADY_AUTHENTICATED = 15,
  PUSH_ERROR_TOO_MANY_APPS = 16,
  PUSH_ERROR_UNAVAILABLE = 17,
  PUSH_ERROR_BAD_TAG = 18,                 /* subscribe/unsubscribe: a malformed tag name */
  PUSH_ERROR_TOO_MANY_TAGS = 19,           /* subscribe over the room's per-app tag limit */
  PUSH_ERROR_SDK_CONNECT_FAILED = 1000,    /* name lookup or TCP connect failed or timed out */
  PUSH_ERROR_SDK_CONNECTION_LOST = 1001,   /* the connection closed unexpectedly; for an
                                              upstream: closed before its answer came */
  PUSH_ERROR_SDK_HEARTBEAT_TIMEOUT = 1002, /* nothing from the room for 2.5 intervals */
  PUSH_ERROR_SDK_AUTH_TIMEOUT = 1003,      /* the room did not answer Auth in time */
  PUSH_ERROR_SDK_PROTOCOL = 1004           /* the room sent bytes that are not the protocol */
} push_error;

/* One pushed message, as passed to push_on_message_fn. Every pointer is valid only during
 * the callback. */
typedef struct push_message {
  uint64_t id;            /* platform-unique message id (duplicates are already dropped) */
  const char* app;        /* the app it is for (NUL-terminated) */
  const uint8_t* payload; /* payload bytes (not NUL-terminated; may contain NULs) */
  size_t payload_len;
  uint32_t qos;        /* 0: fire and forget; 1: at least once (acknowledged) */
  uint64_t created_ms; /* when the operator sent it, unix milliseconds */
  /* 0 for a message to this user; for a broadcast, the app's broadcast sequence (1, 2, ...). */
  uint64_t broadcast_seq;
  /* The tag a broadcast targeted (see push_client_subscribe), "" otherwise. Never NULL. */
  const char* tag;
} push_message;

/* Client settings. Always start with push_client_config_init(), then set fields: fields
 * added in later versions then keep their defaults. */
typedef struct push_client_config {
  /* Room addresses, "host:port" separated by commas, e.g.
   * "push.example.com:7100,10.0.0.1:7100,[::1]:7100". Tried in order; each failed attempt
   * moves to the next. A host name is resolved (off the SDK thread) before every attempt and
   * its addresses are tried in turn; a failed lookup is reported as
   * PUSH_ERROR_SDK_CONNECT_FAILED. Required unless `dispatcher` is set (then the fallback
   * list, used when the dispatcher cannot be reached). */
  const char* servers;
  /* Auth token from the app's server. NULL or "": push_client_connect() waits in
   * PUSH_STATE_NEEDS_TOKEN for push_client_set_token(). */
  const char* token;
  /* Default PUSH_NETWORK_UNKNOWN. */
  push_network network;
  /* Free text for the room's logs, e.g. "myapp/2.3 android/14". NULL: "push-sdk-cpp/0.1". */
  const char* client_version;
  /* 0 (default): every QoS-1 message is acknowledged when push_on_message_fn returns.
   * 1: the app acknowledges with push_client_ack() once the message is safely handled;
   * unacknowledged messages are delivered again after a reconnect. */
  int manual_ack;
  /* One connection attempt's deadline (name lookup and TCP connects to every address of the
   * name), milliseconds. Default 10000. */
  uint32_t connect_timeout_ms;
  /* Reconnect backoff: first delay and cap, milliseconds (doubling, +-20% jitter).
   * Defaults 500 and 60000. (Not configurable here: the heartbeat interval is the room's
   * proposal kept within 5..3600 s, 60 s when it proposes none; a draining room's reconnect
   * delay is honoured up to 5 minutes.) */
  uint32_t backoff_initial_ms;
  uint32_t backoff_max_ms;
  /* Largest frame accepted from / sent to the room, bytes. Default 65536; 1024..16 MiB. */
  uint32_t max_frame_bytes;
  /* Message ids remembered to drop duplicates. Default 4096. */
  uint32_t dedup_window;
  /* The dispatcher, "http://host[:port][/prefix]" (GET <prefix>/v1/route). NULL or "": none,
   * `servers` is the list. Set: before connecting the client asks it for a route (app and
   * user from the token, the current network type, `region`, a retry count), caches the
   * answer per network type for its TTL, and tries the answer's addresses in order. It asks
   * again after `route_failures` connection attempts in a row failed on the route and after
   * push_client_set_network() changed the network type. When the dispatcher cannot be
   * reached (or answers no room), `servers` is used; `servers` may then be NULL, and the
   * client keeps asking with backoff. sdk/README.md "Routing". */
  const char* dispatcher;
  /* Sent to the dispatcher as `region` (e.g. "east"); NULL or "": the dispatcher's default. */
  const char* region;
  /* Failed connection attempts in a row on a dispatcher route before asking again (with
   * retry=n). Default 3; 1..100. */
  uint32_t route_failures;
} push_client_config;

/* Called for each new message. With automatic acks, a QoS-1 message is acknowledged after
 * this returns. */
typedef void (*push_on_message_fn)(void* user_data, const push_message* message);
/* Called on every state change. `detail` is "key=value" text for logs, e.g.
 * "room=room-1-42 server=10.0.0.1:7100 heartbeat=60" when online, "delay_ms=520 attempt=1"
 * in backoff, "reason=..." when kicked, "code=ERROR_BAD_TOKEN message=..." when a token is
 * needed. PUSH_STATE_ONLINE is reported again when the client moved to another room. */
typedef void (*push_on_state_fn)(void* user_data, push_state state, const char* detail);
/* Called for an error from the room or a failed connection, and for a refused
 * push_client_bind() (message "bind <app>: ..."). Informational: the client reconnects or
 * changes state by itself. `code` is a push_error value. */
typedef void (*push_on_error_fn)(void* user_data, int32_t code, const char* message);
/* Called once per push_client_send_upstream() with its `seq`: code PUSH_ERROR_NONE when the
 * room accepted it, a room error code when it refused it (PUSH_ERROR_UNAVAILABLE: try
 * later), or PUSH_ERROR_SDK_CONNECTION_LOST when the connection closed before the answer
 * (the room may or may not have received it). Not called after push_client_close(). */
typedef void (*push_on_upstream_ack_fn)(void* user_data, uint64_t seq, int32_t code,
                                        const char* message);
/* As push_on_upstream_ack_fn, with the app webhook's answer body: `reply` (`reply_len`
 * bytes, not NUL-terminated, may contain NULs; never NULL, empty when the app sent none),
 * with code PUSH_ERROR_NONE. PUSH_ERROR_BAD_FRAME: the type was refused; PUSH_ERROR_UNKNOWN_APP:
 * the app has no webhook for the type. */
typedef void (*push_on_upstream_reply_fn)(void* user_data, uint64_t seq, int32_t code,
                                          const char* message, const uint8_t* reply,
                                          size_t reply_len);

/* Called once per push_client_subscribe() / push_client_unsubscribe() with its `seq`: code
 * PUSH_ERROR_NONE, or the room's refusal (PUSH_ERROR_NOT_BOUND, PUSH_ERROR_BAD_TAG,
 * PUSH_ERROR_TOO_MANY_TAGS: nothing changed and those tags are forgotten). `tags` (`tag_count`
 * strings) are every tag of `app` the connection holds now. Requests made offline are
 * answered once online. The automatic re-subscription after a reconnect is reported with
 * seq 0, only when refused. Not called after push_client_close(). */
typedef void (*push_on_subscribe_fn)(void* user_data, uint64_t seq, const char* app, int32_t code,
                                     const char* message, const char* const* tags,
                                     size_t tag_count);

/* Fills `config` with defaults (servers and token NULL). */
void push_client_config_init(push_client_config* config);

/* Checks `config` without creating anything. PUSH_OK, or PUSH_ERR_INVALID_ARGUMENT with the
 * reason written to `why` (NUL-terminated, truncated to `why_len`; `why` may be NULL). */
push_status push_client_config_check(const push_client_config* config, char* why, size_t why_len);

/* Creates a client (no thread or socket yet). The configuration is copied. Returns NULL when
 * `config` is NULL or invalid (see push_client_config_check) or memory is short. Free with
 * push_client_free(). */
push_client* push_client_new(const push_client_config* config);

/* Sets the callbacks (any may be NULL) and the `user_data` passed to them. Only before the
 * first push_client_connect(): PUSH_ERR_WRONG_STATE afterwards. */
push_status push_client_set_callbacks(push_client* client, push_on_message_fn on_message,
                                      push_on_state_fn on_state, push_on_error_fn on_error,
                                      void* user_data);

/* Sets the upstream result callback and its own `user_data`. Only before the first
 * push_client_connect(): PUSH_ERR_WRONG_STATE afterwards. */
push_status push_client_set_upstream_callback(push_client* client,
                                              push_on_upstream_ack_fn on_upstream_ack,
                                              void* user_data);

/* Sets the upstream result callback with the webhook's reply and its own `user_data`. When
 * set, it is called instead of the push_client_set_upstream_callback() one. Only before the
 * first push_client_connect(): PUSH_ERR_WRONG_STATE afterwards. */
push_status push_client_set_upstream_reply_callback(push_client* client,
                                                    push_on_upstream_reply_fn on_upstream_reply,
                                                    void* user_data);

/* Sets the subscribe result callback and its own `user_data`. Only before the first
 * push_client_connect(): PUSH_ERR_WRONG_STATE afterwards. */
push_status push_client_set_subscribe_callback(push_client* client,
                                               push_on_subscribe_fn on_subscribe, void* user_data);

/* Starts the SDK thread (first call) and connecting; returns at once. Called again: in
 * PUSH_STATE_KICKED, PUSH_STATE_NEEDS_TOKEN or PUSH_STATE_DISCONNECTED connects again; in
 * PUSH_STATE_BACKOFF connects now instead of waiting (call it when the network comes back);
 * otherwise does nothing. PUSH_ERR_CLOSED after push_client_close(). */
push_status push_client_connect(push_client* client);

/* Acknowledges a QoS-1 message (for manual_ack = 1; harmless otherwise). Queued while
 * offline. PUSH_ERR_CLOSED after close. */
push_status push_client_ack(push_client* client, uint64_t message_id);

/* Sends `len` bytes of `data` to the app's servers. `app` NULL or "": the authenticated
 * app. On PUSH_OK `*seq` (if `seq` is not NULL) receives the number that
 * push_on_upstream_ack_fn will report. Queued while offline. PUSH_ERR_INVALID_ARGUMENT
 * when data is NULL with len > 0 or the message does not fit in a frame;
 * PUSH_ERR_QUEUE_FULL when 256 are already pending; PUSH_ERR_CLOSED after close. */
push_status push_client_send_upstream(push_client* client, const char* app, const void* data,
                                      size_t len, uint64_t* seq);
/* As push_client_send_upstream(), with an upstream `type` that picks the app's webhook for
 * that kind of data (e.g. "chat"); NULL or "": the app's default webhook. At most 64 bytes of
 * [A-Za-z0-9._-], else PUSH_ERR_INVALID_ARGUMENT. */
push_status push_client_send_upstream_typed(push_client* client, const char* app, const char* type,
                                            const void* data, size_t len, uint64_t* seq);

/* The device's network changed (call it from the OS's connectivity callback). The type is
 * sent in the next Auth; with a dispatcher the client takes that network's cached route or
 * asks again. A change while online opens a new connection first and then closes the old one
 * (make before break; the old one is often dead after a network change); in backoff it
 * connects now. The same type again does nothing. PUSH_ERR_INVALID_ARGUMENT for a value
 * outside push_network; PUSH_ERR_CLOSED after close. */
push_status push_client_set_network(push_client* client, push_network network);

/* Replaces the token for the next authentication (refresh it before it expires; the
 * current connection is not touched). In PUSH_STATE_NEEDS_TOKEN, connects again at once.
 * PUSH_ERR_INVALID_ARGUMENT for NULL or "". */
push_status push_client_set_token(push_client* client, const char* token);

/* Adds another app of the same device and user to this connection, with that app's token.
 * Kept across reconnects until push_client_unbind() or a refusal (reported to on_error). */
push_status push_client_bind(push_client* client, const char* token);

/* Stops receiving messages of `app` on this connection. */
push_status push_client_unbind(push_client* client, const char* app);

/* Subscribes this connection to `tag_count` tags of `app` (the authenticated app or a bound
 * one): broadcasts to those tags reach it. Tag names are 1..64 bytes of [A-Za-z0-9_.:-]. The
 * client remembers the tags and subscribes again after every reconnect (until
 * push_client_unsubscribe() or push_client_unbind() of the app). On PUSH_OK `*seq` (if not
 * NULL) receives the number push_on_subscribe_fn reports. PUSH_ERR_INVALID_ARGUMENT for a
 * NULL or empty app, no tags, more than 4096, or a malformed name; PUSH_ERR_CLOSED after
 * close. */
push_status push_client_subscribe(push_client* client, const char* app, const char* const* tags,
                                  size_t tag_count, uint64_t* seq);
/* Removes tags of `app` (and from what is re-subscribed). As push_client_subscribe(). */
push_status push_client_unsubscribe(push_client* client, const char* app, const char* const* tags,
                                    size_t tag_count, uint64_t* seq);

/* The highest broadcast sequence the client has seen for `app` (0: none). Auth and Bind send
 * it on every connection, so a room with storage replays the broadcasts missed meanwhile.
 * Save it (e.g. when the app goes to the background) and restore it with
 * push_client_set_last_broadcast_seq() after a restart. 0 for a NULL client or app. */
uint64_t push_client_last_broadcast_seq(const push_client* client, const char* app);

/* Sets the last broadcast sequence of `app` (used from the next Auth or Bind on; 0 forgets
 * it). PUSH_ERR_INVALID_ARGUMENT for a NULL client or a NULL or empty app. */
push_status push_client_set_last_broadcast_seq(push_client* client, const char* app, uint64_t seq);

/* The current state. */
push_state push_client_state(const push_client* client);

/* Closes the connection (pending acks are flushed first, waiting at most about 1 s) and ends
 * the SDK thread. No callback runs after it returns (when called from a callback: after
 * that callback returns). Pending upstream messages are dropped without an answer.
 * Idempotent; PUSH_OK. */
push_status push_client_close(push_client* client);

/* Closes (as push_client_close) and frees the client. `client` may be NULL. The handle must
 * not be used afterwards, by any thread. May be called from a callback. */
void push_client_free(push_client* client);

/* "online", "needs_token", ... (static strings). */
const char* push_state_name(push_state state);
/* "ERROR_BAD_TOKEN", "SDK_CONNECTION_LOST", ..., "UNKNOWN" (static strings). */
const char* push_error_name(int32_t code);
/* "OK", "INVALID_ARGUMENT", ... (static strings). */
const char* push_status_name(push_status status);

#ifdef __cplusplus
} /* extern "C" */
#endif
