#include "common/queue/codec/tls_codec.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstddef>

namespace push::queue {
namespace {

// Every queued OpenSSL error as "reason; reason", then cleared, so the next call on this
// thread starts clean.
std::string drainErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Status contextError(std::string what) {
  std::string reason = drainErrors();
  if (!reason.empty()) what += ": " + reason;
  return invalidArgument("tls: " + std::move(what));
}

Result<int> parseMinVersion(const std::string& v) {
  if (v.empty() || v == "tls1.2") return TLS1_2_VERSION;
  if (v == "tls1.0") return TLS1_VERSION;
  if (v == "tls1.1") return TLS1_1_VERSION;
  if (v == "tls1.3") return TLS1_3_VERSION;
  return invalidArgument("tls: min_version: \"" + v +
                         "\" is not one of tls1.0, tls1.1, tls1.2, tls1.3");
}

// Encrypted keys fail to load instead of OpenSSL prompting on the terminal.
int refusePassword(char*, int, int, void*) {
  return 0;
}

bool isIpAddress(const std::string& name) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

struct CtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

}  // namespace

struct TlsContext::Impl {
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx;
  bool server = false;
  bool verify_peer = false;
  std::string server_name;
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

bool TlsContext::isServer() const {
  return impl_->server;
}

Result<std::shared_ptr<TlsContext>> TlsContext::createServer(const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return invalidArgument("tls: a server needs cert_file and key_file");
  }
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();
  impl->server = true;
  impl->verify_peer = options.verify_peer;
  impl->ctx.reset(SSL_CTX_new(TLS_server_method()));
  if (!impl->ctx) return contextError("cannot create a context");
  SSL_CTX* ctx = impl->ctx.get();
  ASSIGN_OR_RETURN(int min_version, parseMinVersion(options.min_version));
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_default_passwd_cb(ctx, refusePassword);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return contextError("cert_file " + options.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return contextError("key_file " + options.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return contextError("key_file " + options.key_file + " does not match cert_file " +
                        options.cert_file);
  }
  // Needed for session resumption once client certificates are involved.
  static const unsigned char kSessionContext[] = "push-queue";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  if (!options.root_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.root_ca_file.c_str(), nullptr) != 1) {
      return contextError("root_ca_file " + options.root_ca_file);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.root_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
  } else if (options.verify_peer) {
    return invalidArgument("tls: a server with verify_peer needs root_ca_file");
  }
  if (options.verify_peer) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else if (options.require_peer_cert) {
    // Any certificate will do: the callback overrides every verification failure, while
    // FAIL_IF_NO_PEER_CERT still refuses a client that sends none.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       [](int, X509_STORE_CTX*) { return 1; });
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<std::shared_ptr<TlsContext>> TlsContext::createClient(const TlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return invalidArgument("tls: a client certificate needs both cert_file and key_file");
  }
  ERR_clear_error();
  auto impl = std::make_unique<Impl>();
  impl->server = false;
  impl->verify_peer = options.verify_peer;
  impl->server_name = options.server_name;
  impl->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!impl->ctx) return contextError("cannot create a context");
  SSL_CTX* ctx = impl->ctx.get();
  ASSIGN_OR_RETURN(int min_version, parseMinVersion(options.min_version));
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_default_passwd_cb(ctx, refusePassword);
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return contextError("cert_file " + options.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return contextError("key_file " + options.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return contextError("key_file " + options.key_file + " does not match cert_file " +
                          options.cert_file);
    }
  }
  if (!options.root_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.root_ca_file.c_str(), nullptr) != 1) {
      return contextError("root_ca_file " + options.root_ca_file);
    }
  } else if (options.verify_peer) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return contextError("cannot load the system's CA store");
    }
  }
  SSL_CTX_set_verify(ctx, options.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  ERR_clear_error();
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

struct TlsCodec::Impl {
  std::shared_ptr<TlsContext> context;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // ciphertext from the peer, read by OpenSSL; owned by ssl
  BIO* wbio = nullptr;  // ciphertext OpenSSL wrote for the peer; owned by ssl
  bool started = false;
  bool handshake_done = false;
  std::string queued;  // plaintext encoded before the handshake ended
  Status failed;       // sticky

  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
  }

  Status fail(Status status) {
    failed = std::move(status);
    return failed;
  }
  // The error of an SSL_* call that returned `rc`, in words.
  Status sslError(std::string_view during, int rc);
  // Appends everything OpenSSL wrote for the peer.
  void drainOutput(std::string* to_peer);
  // Advances the handshake; then writes what was queued and reads all application data.
  Status pump(std::string* plain, std::string* to_peer);
  Status writeAll(std::string_view plain);
};

Status TlsCodec::Impl::sslError(std::string_view during, int rc) {
  int err = SSL_get_error(ssl, rc);
  std::string msg = "tls: ";
  msg += during;
  if (err == SSL_ERROR_ZERO_RETURN) {
    drainErrors();
    return unavailable(msg + ": the peer closed the session (close_notify)");
  }
  std::string reason = drainErrors();
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    if (!reason.empty()) reason += "; ";
    reason += "certificate: ";
    reason += X509_verify_cert_error_string(verify);
  }
  if (reason.empty()) reason = err == SSL_ERROR_SYSCALL ? "unexpected end of input" : "failed";
  return unavailable(msg + ": " + reason);
}

void TlsCodec::Impl::drainOutput(std::string* to_peer) {
  char buf[16384];
  for (;;) {
    int n = BIO_read(wbio, buf, sizeof(buf));
    if (n <= 0) break;
    to_peer->append(buf, static_cast<size_t>(n));
  }
}

Status TlsCodec::Impl::writeAll(std::string_view plain) {
  while (!plain.empty()) {
    int n = static_cast<int>(std::min<size_t>(plain.size(), INT_MAX));
    int rc = SSL_write(ssl, plain.data(), n);
    if (rc <= 0) return sslError("write", rc);
    plain.remove_prefix(static_cast<size_t>(rc));
  }
  return Status::ok();
}

Status TlsCodec::Impl::pump(std::string* plain, std::string* to_peer) {
  if (!handshake_done) {
    int rc = SSL_do_handshake(ssl);
    if (rc != 1) {
      int err = SSL_get_error(ssl, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        drainOutput(to_peer);
        return Status::ok();
      }
      Status status = sslError("handshake failed", rc);
      drainOutput(to_peer);  // the alert
      return fail(std::move(status));
    }
    handshake_done = true;
    if (!queued.empty()) {
      std::string pending = std::move(queued);
      queued.clear();
      queued.shrink_to_fit();
      Status written = writeAll(pending);
      if (!written.isOk()) {
        drainOutput(to_peer);
        return fail(std::move(written));
      }
    }
  }
  for (;;) {
    char buf[16384];
    int rc = SSL_read(ssl, buf, sizeof(buf));
    if (rc > 0) {
      plain->append(buf, static_cast<size_t>(rc));
      continue;
    }
    int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ) break;
    Status status = sslError("read", rc);
    drainOutput(to_peer);
    return fail(std::move(status));
  }
  drainOutput(to_peer);
  return Status::ok();
}

std::unique_ptr<TlsCodec> TlsCodec::create(std::shared_ptr<TlsContext> context) {
  return std::unique_ptr<TlsCodec>(new TlsCodec(std::move(context)));
}

TlsCodec::TlsCodec(std::shared_ptr<TlsContext> context) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.context = std::move(context);
  if (!s.context) {
    s.failed = invalidArgument("tls: no context");
    return;
  }
  ERR_clear_error();
  const TlsContext::Impl& ctx = *s.context->impl_;
  s.ssl = SSL_new(ctx.ctx.get());
  s.rbio = BIO_new(BIO_s_mem());
  s.wbio = BIO_new(BIO_s_mem());
  if (s.ssl == nullptr || s.rbio == nullptr || s.wbio == nullptr) {
    BIO_free(s.rbio);
    BIO_free(s.wbio);
    s.rbio = s.wbio = nullptr;
    s.failed = internalError("tls: cannot create a session: " + drainErrors());
    return;
  }
  SSL_set_bio(s.ssl, s.rbio, s.wbio);  // ssl owns both now
  if (ctx.server) {
    SSL_set_accept_state(s.ssl);
    return;
  }
  SSL_set_connect_state(s.ssl);
  if (!ctx.server_name.empty()) {
    bool ok = true;
    if (!isIpAddress(ctx.server_name)) {
      ok = SSL_set_tlsext_host_name(s.ssl, ctx.server_name.c_str()) == 1;
    }
    if (ok && ctx.verify_peer) {
      // Matches DNS names, or IP addresses when the name is one.
      ok = SSL_set1_host(s.ssl, ctx.server_name.c_str()) == 1;
    }
    if (!ok) {
      s.failed = invalidArgument("tls: server_name \"" + ctx.server_name +
                                 "\" not usable: " + drainErrors());
    }
  }
}

TlsCodec::~TlsCodec() = default;

Status TlsCodec::start(std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  if (s.started || s.context->isServer()) return Status::ok();
  s.started = true;
  ERR_clear_error();
  std::string ignored;
  return s.pump(&ignored, to_peer);
}

bool TlsCodec::handshakeDone() const {
  return impl_->handshake_done;
}

Status TlsCodec::decode(std::string_view in, std::string* plain, std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  s.started = true;
  ERR_clear_error();
  // Fed in slices so OpenSSL's input buffer never holds more than one slice plus a partial
  // record.
  constexpr size_t kSlice = 64 * 1024;
  do {
    std::string_view slice = in.substr(0, kSlice);
    in.remove_prefix(slice.size());
    if (!slice.empty() && BIO_write(s.rbio, slice.data(), static_cast<int>(slice.size())) !=
                              static_cast<int>(slice.size())) {
      return s.fail(internalError("tls: cannot buffer input: " + drainErrors()));
    }
    RETURN_IF_ERROR(s.pump(plain, to_peer));
  } while (!in.empty());
  return Status::ok();
}

Status TlsCodec::encode(std::string_view plain, std::string* to_peer) {
  Impl& s = *impl_;
  if (!s.failed.isOk()) return s.failed;
  if (plain.empty()) return Status::ok();
  if (!s.handshake_done) {
    if (s.queued.size() + plain.size() > kMaxQueuedBeforeHandshake) {
      return s.fail(unavailable("tls: more than " + std::to_string(kMaxQueuedBeforeHandshake) +
                                " bytes queued before the handshake ended"));
    }
    s.queued.append(plain);
    return Status::ok();
  }
  ERR_clear_error();
  Status written = s.writeAll(plain);
  s.drainOutput(to_peer);
  if (!written.isOk()) return s.fail(std::move(written));
  return Status::ok();
}

}  // namespace push::queue
