#pragma once

#include "common/net/stream_filter.h"

namespace push::queue {

// The codecs of nsqd's feature negotiation — TLS (TlsCodec), deflate (DeflateCodec), snappy
// framing (SnappyCodec), or a stack of them (CodecChain) — implement net::StreamFilter, whose
// header has the contract (split input, flushed encodes, sticky errors). The queue code keeps
// this name; a whole connection takes one through net::TcpConnection::setFilter.
using StreamCodec = net::StreamFilter;

}  // namespace push::queue
