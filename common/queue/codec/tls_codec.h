#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/base/status.h"
#include "common/queue/codec/stream_codec.h"

namespace push::queue {

// Where a TLS context's keys and policy come from (nsqd's --tls-cert, --tls-key,
// --tls-root-ca-file, --tls-client-auth-policy, --tls-min-version).
struct TlsOptions {
  // PEM files. A server needs cert_file (the chain: leaf first) and key_file; a client may
  // give both to present a client certificate. Encrypted keys are refused, never prompted for.
  std::string cert_file;
  std::string key_file;
  // PEM file of trusted CAs for verifying the peer; empty: the system's default store.
  std::string root_ca_file;
  // Client: verify the server's chain, and its name against server_name when that is set.
  // Server: require a client certificate that verifies against root_ca_file (nsqd's
  // "require-verify" policy). Off: no verification (nsq's tls_insecure_skip_verify).
  bool verify_peer = false;
  // Server only: ask for a client certificate and refuse a client that sends none, without
  // verifying it (nsqd's "require" policy; Go's RequireAnyClientCert). Implied by verify_peer.
  bool require_peer_cert = false;
  // "tls1.0", "tls1.1", "tls1.2" or "tls1.3" as nsqd's --tls-min-version; empty means
  // "tls1.2". Below tls1.2 also needs OpenSSL's security level 0, which this does not lower.
  std::string min_version = "tls1.2";
  // Client only: sent as SNI (unless it is an IP address) and, with verify_peer, the name (or
  // IP address) the server's certificate must match.
  std::string server_name;
};

// An OpenSSL SSL_CTX built once from TlsOptions (files read at creation) and shared by many
// connections, also across loop threads: it is not changed after creation.
class TlsContext {
 public:
  // Fails with INVALID_ARGUMENT naming the file or field when a file cannot be loaded, the key
  // does not match the certificate, or min_version is unknown.
  static Result<std::shared_ptr<TlsContext>> createServer(const TlsOptions& options);
  static Result<std::shared_ptr<TlsContext>> createClient(const TlsOptions& options);
  ~TlsContext();

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool isServer() const;

 private:
  friend class TlsCodec;
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One TLS session over memory (OpenSSL memory BIOs): ciphertext in through decode(), out
// through (*to_peer); server or client as its context is. The handshake runs inside decode()
// (and start() on the client). Renegotiation is refused; a close_notify from the peer ends the
// session with an UNAVAILABLE error.
class TlsCodec final : public StreamCodec {
 public:
  // Never null; if OpenSSL cannot allocate the session, every call returns INTERNAL.
  static std::unique_ptr<TlsCodec> create(std::shared_ptr<TlsContext> context);
  ~TlsCodec() override;

  TlsCodec(const TlsCodec&) = delete;
  TlsCodec& operator=(const TlsCodec&) = delete;

  // Client side: appends the ClientHello to send first; call once right after create(). A
  // second call, or a call on a server, appends nothing.
  Status start(std::string* to_peer);
  bool handshakeDone() const;

  // A failed handshake (bad certificate, wrong name, protocol mismatch) returns
  // UNAVAILABLE "tls: ..." with OpenSSL's reason; (*to_peer) then holds the alert to send.
  Status decode(std::string_view in, std::string* plain, std::string* to_peer) override;
  // Before handshakeDone(), queues the plaintext (up to kMaxQueuedBeforeHandshake bytes, more
  // is an error) and sends it once the handshake ends, inside the decode() that ends it.
  Status encode(std::string_view plain, std::string* to_peer) override;

  static constexpr size_t kMaxQueuedBeforeHandshake = 4u << 20;

 private:
  struct Impl;
  explicit TlsCodec(std::shared_ptr<TlsContext> context);
  std::unique_ptr<Impl> impl_;
};

}  // namespace push::queue
