#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"
#include "common/net/owning_ptrs.h"
#include "common/net/tcp_connection.h"
#include "common/queue/wire.h"
#include "services/queued/client_v2.h"
#include "services/queued/queued_options.h"

namespace push::net {
class EventLoop;
class InetAddress;
}  // namespace push::net

namespace push::queue {
class QueueEngine;
class TlsContext;
}  // namespace push::queue

namespace push::queued {

class AuthServer;

// NSQ's TCP protocol V2 as nsqd v1.3.0 speaks it (services/queued/README.md): the magic, the
// commands with nsqd's checks in nsqd's order and its exact error texts, fatal errors answered
// then closed, heartbeats to every client and a client silent for two intervals closed.
//
// Output: message and response frames are queued on the connection and leave together once per
// loop turn (net::TcpConnection coalesces), which is what nsqd's output buffer approximates;
// output_buffer_size/timeout are validated and reported but add no delay.
//
// Ownership: owns the listening socket and a ClientV2 per connection (keyed by ConnId);
// connections own themselves (net::TcpConnection). The engine must outlive it. Loop-thread only.
//
// Files: protocol_v2.cc has the connection side (accept, input, dispatch, output, closing,
// heartbeats), IDENTIFY's upgrades and AUTH; identify.h decides IDENTIFY's settings;
// publish_commands.cc has PUB/DPUB/MPUB; consumer_commands.cc has SUB/RDY/FIN/REQ/TOUCH/CLS;
// body_errors.h words nsqd's errors for bad bodies.
class ProtocolV2 final : public net::TcpConnection::Handler {
 public:
  ProtocolV2(net::EventLoop& loop, queue::QueueEngine& engine, const QueuedOptions& options);
  ~ProtocolV2();

  // Builds the server TLS context from --tls-cert/--tls-key/--tls-root-ca-file/
  // --tls-client-auth-policy/--tls-min-version when --tls-cert is given (an unreadable file or
  // a bad key fails here); nothing without it. Call once, before listen().
  Status loadTls();
  Status listen(const std::string& address);
  net::InetAddress address() const;
  // The context loadTls() built; null without --tls-cert. QueuedServer's HTTPS listener shares
  // it, so both ports present the same certificate and client-certificate policy.
  const std::shared_ptr<queue::TlsContext>& tlsContext() const { return tls_context_; }

  // Every 100 ms: heartbeats, read deadlines, connections stuck closing.
  void tick(int64_t now_ms);
  // Stops accepting and closes every client (clean stop).
  void close();

  const std::unordered_map<net::ConnId, std::unique_ptr<ClientV2>>& clients() const {
    return clients_;
  }

  // net::TcpConnection::Handler
  size_t onData(net::TcpConnection& conn, const char* data, size_t len) override;
  void onClosed(net::TcpConnection& conn, net::TcpConnection::CloseReason reason) override;

  // Used by ClientV2.
  void writeMessage(ClientV2& client, const queue::Message& message);
  void closeClient(ClientV2& client);

 private:
  // What a command did: nothing to say, or an error to answer (fatal ones close).
  struct Outcome {
    std::string error;  // "E_CODE text"; empty when fine
    bool fatal = true;
    static Outcome ok() { return {}; }
    static Outcome fail(std::string text) { return {std::move(text), true}; }
    static Outcome soft(std::string text) { return {std::move(text), false}; }
  };
  // The sized body of `command` at the start of `rest`: true when all of it is there (*body
  // set; *consumed untouched). Otherwise *refusal is the answer: an ok Outcome with *consumed
  // = kWaitForBody while bytes are missing, or nsqd's error for a bad size. A message body
  // (PUB, DPUB) is bounded by --max-msg-size, any other (IDENTIFY, AUTH, MPUB) by
  // --max-body-size, with nsqd's codes and wording for each.
  bool readBody(const char* command, std::string_view rest, bool message_body,
                queue::wire::SizedBody* body, size_t* consumed, Outcome* refusal);
  // "E_BAD_TOPIC <command> topic name "<name>" is not valid" (Go's %q of the name).
  static Outcome badTopic(const char* command, std::string_view name);

  void onAccept(net::TcpConnection& conn);
  // Executes the command at the start of `in`; sets *consumed (0 when more bytes are needed).
  Outcome execute(ClientV2& client, std::string_view in, size_t* consumed);
  // A body command reports "wait for more bytes" as *consumed = kWaitForBody, so that the line
  // is parsed again, with the whole body, on a later read (checks before the body are
  // repeated, which is harmless: they have no effects).
  static constexpr size_t kWaitForBody = SIZE_MAX;

  // IDENTIFY (negotiation in identify.h; settings applied and TLS/compression switched on here)
  // and AUTH: protocol_v2.cc.
  Outcome identify(ClientV2& client, const queue::wire::CommandLine& line, std::string_view rest,
                   size_t* consumed);
  Outcome auth(ClientV2& client, const queue::wire::CommandLine& line, std::string_view rest,
               size_t* consumed);
  // Consumer commands: consumer_commands.cc.
  Outcome sub(ClientV2& client, const queue::wire::CommandLine& line, size_t* consumed);
  Outcome rdy(ClientV2& client, const queue::wire::CommandLine& line);
  Outcome fin(ClientV2& client, const queue::wire::CommandLine& line);
  Outcome req(ClientV2& client, const queue::wire::CommandLine& line);
  Outcome touch(ClientV2& client, const queue::wire::CommandLine& line);
  Outcome cls(ClientV2& client);
  // Common checks of FIN/REQ/TOUCH: state, parameter count, id. Returns the id or an error.
  Outcome messageCommand(ClientV2& client, const queue::wire::CommandLine& line, const char* name,
                         size_t min_params, uint64_t* id);
  // Publish commands: publish_commands.cc.
  Outcome pub(ClientV2& client, const queue::wire::CommandLine& line, std::string_view rest,
              size_t* consumed);
  Outcome dpub(ClientV2& client, const queue::wire::CommandLine& line, std::string_view rest,
               size_t* consumed);
  // PUB and DPUB after their parameters: the body, authorization, the publish (deferred when
  // defer_ms > 0) and the answer.
  Outcome publishOne(ClientV2& client, const char* command, std::string_view topic_name,
                     int64_t defer_ms, std::string_view rest, size_t* consumed);
  Outcome mpub(ClientV2& client, const queue::wire::CommandLine& line, std::string_view rest,
               size_t* consumed);

  // Input: commands from raw bytes (no codec) or from the decoded plain_in. Returns bytes used.
  size_t runCommands(ClientV2& client, std::string_view in);
  void decodeInput(ClientV2& client, std::string_view raw);
  // Output: room for `size` bytes on the connection, or in plain_out when a codec is on (then
  // encoded once per loop turn by flushEncoded). nullptr when the connection cannot take more.
  char* reserveOutput(ClientV2& client, size_t size);
  void commitOutput(ClientV2& client, size_t size);
  void flushEncoded(ClientV2& client);
  // AUTH (--auth-http-address): true when `command` may go on. Otherwise *refusal is the
  // answer (an error), or, while the auth server is asked again because the grant expired, an
  // ok Outcome with *consumed = kWaitForBody: the command runs again once it answers.
  bool authorized(ClientV2& client, const char* command, std::string_view topic,
                  std::string_view channel, size_t* consumed, Outcome* refusal);
  // Asks the auth server about client.auth_secret; input is held meanwhile. `first`: the AUTH
  // command itself (answered with the grant's JSON).
  void askAuthServer(ClientV2& client, bool first);
  void resumeInput(ClientV2& client);
  void respond(ClientV2& client, std::string_view data);
  void sendFrame(ClientV2& client, queue::wire::FrameType type, std::string_view data);
  void fail(ClientV2& client, const std::string& error);
  void forget(ClientV2& client);

  net::EventLoop& loop_;
  queue::QueueEngine& engine_;
  const QueuedOptions& options_;
  net::TcpServerPtr server_;
  std::shared_ptr<queue::TlsContext> tls_context_;  // set when --tls-cert is given
  net::TcpConnection::Limits limits_;
  std::unordered_map<net::ConnId, std::unique_ptr<ClientV2>> clients_;
  net::ConnId next_conn_id_ = 1;
  std::vector<std::string_view> mpub_scratch_;
  // Last: destroyed first, so its CANCELLED completions still find the clients table.
  std::unique_ptr<AuthServer> auth_server_;
};

}  // namespace push::queued
