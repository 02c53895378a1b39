// Channel: what comes back on a connection — frames parsed from the read buffer, responses
// matched to their calls (a "not executed" one re-sent once), and goaways.
#include "common/rpc/channel.h"

#include <algorithm>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/rpc/controller.h"
#include "common/rpc/detail/channel_state.h"
#include "common/rpc/detail/client_metrics.h"
#include "common/rpc/detail/frame.h"
#include "common/rpc/detail/meta_codec.h"
#include "proto/rpc.pb.h"

namespace push::rpc {

namespace pb = google::protobuf;

size_t Channel::onData(net::TcpConnection& conn, const char* data, size_t len) {
  const bool outer_read = in_read_;  // a completion may run the loop (nested reads)
  in_read_ = true;
  const size_t used = readFrames(conn, data, len);
  in_read_ = outer_read;
  if (!outer_read) flushReadTallies();  // the channel is still there even when deleted_
  return used;
}

size_t Channel::readFrames(net::TcpConnection& conn, const char* data, size_t len) {
  size_t used = 0;
  while (used < len && !conn.closing()) {
    detail::FrameHeader header;
    auto hs = detail::parseHeader(data + used, len - used, options_.max_frame_bytes, &header);
    if (hs == detail::HeaderStatus::Incomplete) break;
    if (hs != detail::HeaderStatus::Ok || !(header.flags & detail::kFlagResponse)) {
      LOG_EVERY_SEC(Warn, Rpc, 1, "closing RPC connection to {}: {}", conn.peerAddress().toString(),
                    hs == detail::HeaderStatus::Ok ? "request frame sent to a client"
                                                   : detail::headerStatusText(hs));
      conn.close();
      return len;
    }
    if (header.frameBytes() > len - used) break;
    const char* meta = data + used + detail::kHeaderBytes;
    used += header.frameBytes();
    onResponse(conn, meta, header.meta_len, meta + header.meta_len, header.body_len);
    if (deleted_) return used;  // a completion closed the channel (it is gone)
  }
  return used;
}

void Channel::onResponse(net::TcpConnection& conn, const char* meta_bytes, size_t meta_len,
                         const char* body, size_t body_len) {
  detail::MetaView meta;
  if (!detail::decodeMeta(meta_bytes, meta_len, &meta)) {
    LOG_EVERY_SEC(Warn, Rpc, 1, "closing RPC connection to {}: unparsable RpcMeta",
                  conn.peerAddress().toString());
    conn.close();
    return;
  }
  Slot* slot = static_cast<Slot*>(conn.context());
  const auto code = static_cast<Code>(meta.code);
  // The server's text, made valid UTF-8 and bounded whatever the server is.
  const auto errorStatus = [&] { return Status(code, detail::boundedErrorText(meta.error)); };
  if (code != Code::OK && meta.goaway) {
    onGoaway(conn, errorStatus());
    return;
  }
  if (!slot->healthy) {
    slot->healthy = true;
    EndpointState& ep = *slot->endpoint;
    if (ep.refused) {
      LOG_INFO(Rpc, "RPC endpoint {} accepts this client again", ep.endpoint.address);
      ep.refused = false;
      ep.last_error = Status();
    }
  }
  auto it = calls_.find(meta.request_id);
  if (it == calls_.end() || it->second.conn != &conn) {
    detail::clientMetrics().late.inc();
    return;
  }
  PendingCall& call = it->second;
  const uint64_t id = it->first;
  if (code != Code::OK) {
    Status status = errorStatus();
    if (meta.not_executed && call.retries_left > 0 && loop_.nowMs() < call.deadline_ms) {
      // The server did not run it: another endpoint may.
      if (slot->inflight > 0) --slot->inflight;
      call.conn = nullptr;
      --call.retries_left;
      detail::clientMetrics().retries.inc();
      if (resend(id, call, slot->endpoint->index, false)) return;
      complete(id, std::move(status));  // looked up again: resend() may have touched calls_
      return;
    }
    completeFound(it, std::move(status));
    return;
  }
  if (!call.response->ParseFromArray(body, static_cast<int>(body_len))) {
    completeFound(it, internalError("response is not a valid " + call.response->GetTypeName()));
    return;
  }
  completeFound(it, Status());
}

void Channel::onGoaway(net::TcpConnection& conn, const Status& status) {
  Slot* slot = static_cast<Slot*>(conn.context());
  EndpointState& ep = *slot->endpoint;
  // Every call still on the connection did not run (rpc.proto): detach them all first.
  std::vector<uint64_t> ids;
  for (auto& [id, call] : calls_) {
    if (call.conn == &conn) {
      call.conn = nullptr;
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  slot->inflight = 0;
  conn.close();  // nothing more is sent on it; onClosed follows and reconnects the slot
  if (status.code() != Code::UNAVAILABLE) {
    detail::clientMetrics().refused.inc();
    slot->refused = true;
    ep.refused = true;
    ep.ever_failed = true;  // new calls fail fast with this status until a connection works
    ep.last_error = status;
    LOG_EVERY_SEC(Warn, Rpc, 1,
                  "RPC endpoint {} refused the connection: {} ({} calls fail; check that "
                  "cluster_key is the same on both sides)",
                  ep.endpoint.address, status.toString(), ids.size());
    for (uint64_t id : ids)
      complete(id, status);  // may run user code: nothing of `ep` is used after
    return;
  }
  detail::clientMetrics().goaways.inc();
  slot->graceful = true;
  LOG_DEBUG(Rpc, "RPC endpoint {} closed a connection ({}); {} calls re-sent", ep.endpoint.address,
            status.message(), ids.size());
  const int index = ep.index;
  for (uint64_t id : ids) {
    auto it = calls_.find(id);
    if (it == calls_.end() || it->second.conn) continue;
    if (!resend(id, it->second, index, true)) waiting_.push_back(id);
  }
}

}  // namespace push::rpc
