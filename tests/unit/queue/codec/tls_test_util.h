#pragma once

// Certificates made with the OpenSSL API inside the test, written as PEM files to a temporary
// directory that is removed afterwards; and a helper that carries bytes between two TLS codecs
// through memory.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "common/queue/codec/tls_codec.h"

namespace push::queue::codec_test {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

inline bool addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, signed by issuer/issuer_key (self-signed when null). CA
// certificates may sign; leaf certificates name localhost and 127.0.0.1.
inline CertPtr makeCert(EVP_PKEY* key, const char* cn, bool ca, X509* issuer,
                        EVP_PKEY* issuer_key) {
  static long serial = 1;
  CertPtr cert(X509_new());
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer != nullptr ? issuer : x;
  bool ok = addExtension(x, signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) {
    ok = ok && addExtension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && addExtension(x, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  }
  EXPECT_TRUE(ok);
  EXPECT_GT(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
  return cert;
}

// A temporary directory holding: ca.pem (a CA), server.pem/server.key (a leaf for localhost
// signed by it), client.pem/client.key (another leaf signed by it) and other_ca.pem (an
// unrelated CA).
class TestPki {
 public:
  TestPki() {
    char tmpl[] = "/tmp/queue_codec_tls_XXXXXX";
    char* made = mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    dir_ = made != nullptr ? made : "";
    KeyPtr ca_key(EVP_EC_gen("P-256"));
    CertPtr ca = makeCert(ca_key.get(), "push test CA", true, nullptr, nullptr);
    KeyPtr other_key(EVP_EC_gen("P-256"));
    CertPtr other = makeCert(other_key.get(), "push other CA", true, nullptr, nullptr);
    KeyPtr server_key(EVP_EC_gen("P-256"));
    CertPtr server = makeCert(server_key.get(), "localhost", false, ca.get(), ca_key.get());
    KeyPtr client_key(EVP_EC_gen("P-256"));
    CertPtr client = makeCert(client_key.get(), "push client", false, ca.get(), ca_key.get());
    writeCert(path("ca.pem"), ca.get());
    writeCert(path("other_ca.pem"), other.get());
    writeCert(path("server.pem"), server.get());
    writeKey(path("server.key"), server_key.get());
    writeCert(path("client.pem"), client.get());
    writeKey(path("client.key"), client_key.get());
  }
  ~TestPki() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string path(const char* file) const { return dir_ + "/" + file; }

  TlsOptions serverOptions() const {
    TlsOptions o;
    o.cert_file = path("server.pem");
    o.key_file = path("server.key");
    return o;
  }
  // Verifies the server against ca.pem under the name "localhost".
  TlsOptions clientOptions() const {
    TlsOptions o;
    o.root_ca_file = path("ca.pem");
    o.verify_peer = true;
    o.server_name = "localhost";
    return o;
  }

 private:
  static void writeCert(const std::string& file, X509* cert) {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(PEM_write_X509(f, cert), 1);
    std::fclose(f);
  }
  static void writeKey(const std::string& file, EVP_PKEY* key) {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
    std::fclose(f);
  }

  std::string dir_;
};

// Two ends of a connection in memory. Each end is a StreamCodec (a TlsCodec or a chain with
// TLS outside); bytes one end emits are fed to the other, in pieces of at most max_piece.
struct MemoryLink {
  StreamCodec* client;
  StreamCodec* server;
  std::string to_server;  // bytes in flight
  std::string to_client;
  std::string client_plain;  // what each end decoded
  std::string server_plain;
  Status client_status;
  Status server_status;

  // Carries bytes until none are in flight or an end fails; at most `rounds` exchanges.
  void pump(std::mt19937& rng, size_t max_piece, int rounds = 100) {
    for (int i = 0; i < rounds && (!to_server.empty() || !to_client.empty()); ++i) {
      if (!to_server.empty()) {
        std::string in = std::move(to_server);
        to_server.clear();
        server_status = feed(*server, in, rng, max_piece, &server_plain, &to_client);
        if (!server_status.isOk()) return;
      }
      if (!to_client.empty()) {
        std::string in = std::move(to_client);
        to_client.clear();
        client_status = feed(*client, in, rng, max_piece, &client_plain, &to_server);
        if (!client_status.isOk()) return;
      }
    }
  }

  static Status feed(StreamCodec& codec, std::string_view in, std::mt19937& rng, size_t max_piece,
                     std::string* plain, std::string* to_peer) {
    while (!in.empty()) {
      size_t n = std::min(in.size(), 1 + rng() % std::max<size_t>(max_piece, 1));
      RETURN_IF_ERROR(codec.decode(in.substr(0, n), plain, to_peer));
      in.remove_prefix(n);
    }
    return Status::ok();
  }
};

}  // namespace push::queue::codec_test
