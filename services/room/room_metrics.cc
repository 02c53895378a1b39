#include "services/room/room_metrics.h"

#include <string>

namespace push::room {

RoomMetrics& roomMetrics() {
  static RoomMetrics* m = [] {
    metrics::Registry& r = metrics::Registry::global();
    auto* m = new RoomMetrics{
        .accepted = r.counter("push_room_connections_total", "Client connections accepted."),
        .refused = r.counter("push_room_connections_refused_total",
                             "Client connections refused by address, rate or drain."),
        .auth_ok = r.counter("push_room_auth_total", "Authentications.", R"(result="ok")"),
        .auth_failed = r.counter("push_room_auth_total", "Authentications.", R"(result="failed")"),
        .auth_timeout = r.counter("push_room_auth_timeouts_total",
                                  "Connections closed for not authenticating in time."),
        .heartbeat_timeout = r.counter("push_room_heartbeat_timeouts_total",
                                       "Connections closed after 2.5 silent heartbeat intervals."),
        .bad_frames = r.counter("push_room_bad_frames_total",
                                "Connections closed for malformed or oversized frames."),
        .pushes = r.counter("push_room_pushes_written_total", "Push frames written to clients."),
        .acks = r.counter("push_room_acks_total",
                          "Message acks from clients, for a message written to that connection."),
        .unknown_acks = r.counter(
            "push_room_acks_unknown_total",
            "Acks for messages not written to (or no longer tracked on) the acking connection."),
        .kicks = r.counter("push_room_kicks_total", "Sessions kicked by an operator."),
        .displaced = r.counter("push_room_connections_displaced_total",
                               "Connections kicked for a newer one over the per-user or "
                               "per-device cap."),
        .session_limit_refused =
            r.counter("push_room_session_limit_refused_total",
                      "Auth or Bind refused: the user or device has the most connections allowed."),
        .pings = r.counter("push_room_pings_total", "Heartbeat pings."),
        .broadcasts_delivered =
            r.counter("push_room_broadcasts_total", "Broadcasts read from queued, by outcome.",
                      R"(result="delivered")"),
        .broadcasts_expired =
            r.counter("push_room_broadcasts_total", "Broadcasts read from queued, by outcome.",
                      R"(result="expired")"),
        .broadcasts_invalid =
            r.counter("push_room_broadcasts_total", "Broadcasts read from queued, by outcome.",
                      R"(result="invalid")"),
        .broadcast_writes = r.counter("push_room_broadcast_writes_total",
                                      "Broadcast Push frames written to clients."),
        .saver_acks_forwarded =
            r.counter("push_room_saver_acks_total", "Accepted client acks, by what became of them.",
                      R"(result="forwarded")"),
        .saver_acks_dropped =
            r.counter("push_room_saver_acks_total", "Accepted client acks, by what became of them.",
                      R"(result="dropped")"),
        .saver_ack_calls_failed = r.counter("push_room_saver_ack_calls_failed_total",
                                            "Saver.Ack calls that failed (their acks retried)."),
        .replayed_messages = r.counter("push_room_replayed_total",
                                       "Messages replayed from saver at auth.", R"(kind="stored")"),
        .replayed_broadcasts =
            r.counter("push_room_replayed_total", "Messages replayed from saver at auth.",
                      R"(kind="broadcast")"),
        .replay_load_failures = r.counter("push_room_replay_load_failures_total",
                                          "Saver Load or LoadBroadcasts calls that failed."),
        .replay_timeouts = r.counter("push_room_replay_timeouts_total",
                                     "Replays still loading at replay_timeout: held pushes sent."),
        .replay_hold_overflows =
            r.counter("push_room_replay_hold_overflows_total",
                      "Replays whose held live pushes reached replay_hold_max: held pushes sent."),
        .replay_seconds = r.histogram(
            "push_room_replay_seconds", "Time from auth to the end of its replay from saver.",
            {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}),
        .apps_served = r.gauge("push_room_apps", "Apps this room serves now."),
        .app_updates = r.counter("push_room_app_updates_total",
                                 "App lists taken from ZooKeeper apps/<app> (each change)."),
        .closed = {},
    };
    for (size_t i = 0; i < RoomMetrics::kCloseReasons; ++i) {
      std::string how =
          net::TcpConnection::reasonName(static_cast<net::TcpConnection::CloseReason>(i));
      for (char& ch : how)
        if (ch == ' ') ch = '_';  // "peer closed" -> peer_closed
      m->closed[i] = &r.counter("push_room_connections_closed_total",
                                "Client connections closed, by how (local: by the room).",
                                "how=\"" + how + "\"");
    }
    return m;
  }();
  return *m;
}

}  // namespace push::room
