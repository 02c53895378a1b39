#pragma once

#include <string>
#include <string_view>

#include "common/base/status.h"

namespace push::net {

// One connection's byte stream transformed in both directions: TLS, or a compression, or a
// stack of them. Each direction is one continuous stream for the life of the connection.
// Implementations: common/queue/codec (TlsCodec, DeflateCodec, SnappyCodec, CodecChain, which
// name this interface queue::StreamCodec). Installed on a whole connection with
// TcpConnection::setFilter (HTTPS: http::HttpServer::Options::connection_filter); NSQ's
// protocol V2 drives one itself because it switches TLS on mid-stream.
//
// Threading: the connection's loop thread only. Errors are sticky: once a call returned an
// error, every later call returns the same error and the connection should be closed.
class StreamFilter {
 public:
  virtual ~StreamFilter() = default;

  // Bytes that arrived from the peer: appends what they decode to (*plain) and, for TLS, any
  // bytes that must be sent back to the peer now (handshake, alerts) to (*to_peer). Input may
  // be split anywhere (one byte at a time works); partial units are kept inside. On error,
  // (*plain) holds what decoded before the bad unit and (*to_peer) may hold a TLS alert worth
  // sending before closing.
  virtual Status decode(std::string_view in, std::string* plain, std::string* to_peer) = 0;

  // Bytes to send: appends their encoding to (*to_peer). Each call ends with a flush (deflate
  // Z_SYNC_FLUSH, a snappy chunk, TLS records), so the peer can decode everything sent so far.
  // Empty input appends nothing.
  virtual Status encode(std::string_view plain, std::string* to_peer) = 0;
};

}  // namespace push::net
