// push-room: client connections (TCP + WebSocket), sessions, and the Room RPC service.
//
//   push-room [--config FILE] [--workers N] [--tcp HOST:PORT] [--ws HOST:PORT]
//             [--rpc HOST:PORT] [--admin HOST:PORT] [--name NAME] [--input-gather-us N]
//
// With --workers N the process forks N room instances that share the client ports with
// SO_REUSEPORT (port 0 is resolved once, by the parent); each has its own RPC and admin port
// (port 0: each its own free port; port P: P + worker index). The parent restarts a worker
// that exits, and forwards SIGTERM/SIGINT.
//
// Every instance prints once serving:
//   ROOM worker=<i> pid=<pid> id=<room id> tcp=<addr> ws=<addr|-> rpc=<addr> admin=<addr|->
// SIGTERM drains (clients are told to reconnect, spread over drain_window_ms) and exits when
// empty; SIGINT or a second SIGTERM stops at once.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/base/log.h"
#include "common/net/event_loop.h"
#include "common/net/inet_address.h"
#include "common/net/signal_watcher.h"
#include "proto/config.pb.h"
#include "services/common/service_main.h"
#include "services/common/worker_supervisor.h"
#include "services/room/room_server.h"

namespace {

using namespace push;

// How each worker's loop waits for I/O (net::EventLoop::setBusyPoll / setInputGather).
struct LoopTuning {
  std::chrono::microseconds busy_poll{0};
  std::chrono::microseconds input_gather{0};
};

int runRoom(room::RoomOptions options, int worker, LoopTuning tuning) {
  net::EventLoop loop;
  loop.setBusyPoll(tuning.busy_poll);
  loop.setInputGather(tuning.input_gather);
  auto created = room::RoomServer::create(loop, std::move(options));
  if (!created.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", created.status().toString().c_str());
    return 2;
  }
  std::unique_ptr<room::RoomServer> room = std::move(created).value();
  Status st = room->start();
  if (!st.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", st.toString().c_str());
    room->stop([] {});
    (void)loop.shutdown();
    return 1;
  }
  auto addr = [](const net::InetAddress& a) {
    return a.family() == 0 ? std::string("-") : a.toString();
  };
  service::announce("ROOM",
                    "worker=" + std::to_string(worker) + " pid=" + std::to_string(::getpid()) +
                        " id=" + room->roomId() + " tcp=" + addr(room->tcpAddress()) +
                        " ws=" + addr(room->wsAddress()) + " rpc=" + addr(room->rpcAddress()) +
                        " admin=" + addr(room->adminAddress()));
  bool stopping = false;
  auto stopNow = [&] {
    if (stopping) return;
    stopping = true;
    room->stop([&loop] { loop.stop(); });
  };
  room->setOnDrained(stopNow);
  net::SignalWatcherPtr signals = net::SignalWatcher::create(loop, [&](int signum) {
    if (signum == SIGTERM && !room->draining()) {
      LOG_INFO(Room, "SIGTERM: draining");
      room->drainWithDefaults();  // configured window and deadline
      return;
    }
    LOG_INFO(Room, "signal {}: stopping now", signum);
    stopNow();
  });
  loop.run();
  signals.reset();
  room.reset();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Room, "shutdown: {}", st.toString());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A broadcast pass gives a few hundred connections an output buffer each (tens of KiB),
  // written and freed in the same loop turn; glibc then trims the heap top and the next slice
  // faults the same pages in again (7-14% of the room's samples in run_broadcast_bench). Keep
  // up to 64 MiB of freed heap instead of returning it at once.
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  ::mallopt(M_TOP_PAD, 4 << 20);
  CommandLine cl("push-room", "client connections, sessions and the Room RPC service");
  service::addCommonFlags(cl);
  cl.option("workers", "N", "room instances sharing the client ports (SO_REUSEPORT), default 1");
  cl.option("tcp", "HOST:PORT", "client TCP address (overrides tcp.address)");
  cl.option("ws", "HOST:PORT", "client WebSocket address (overrides websocket.address)");
  cl.option("rpc", "HOST:PORT", "Room RPC address (overrides rpc.listen.address)");
  cl.option("admin", "HOST:PORT", "admin HTTP address (overrides admin.listen.address)");
  cl.option("name", "NAME", "room name (overrides name)");
  cl.option("input-gather-us", "N",
            "after a loop turn that read, sleep N us (max 100000) before polling again: one "
            "wake-up per N us for many idle clients' heartbeats, at up to N us of latency "
            "(default 0: off; not with --busy-poll-us)");
  config::RoomConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    std::fprintf(stderr, "push-room: %s\n", file.status().toString().c_str());
    return 2;
  }
  if (cl.has("tcp")) cfg.mutable_tcp()->set_address(cl.get("tcp"));
  if (cl.has("ws")) cfg.mutable_websocket()->set_address(cl.get("ws"));
  if (cl.has("rpc")) cfg.mutable_rpc()->mutable_listen()->set_address(cl.get("rpc"));
  if (cl.has("admin")) cfg.mutable_admin()->mutable_listen()->set_address(cl.get("admin"));
  if (cl.has("name")) cfg.set_name(cl.get("name"));
  auto workers = cl.getInt("workers", 1, 1, 64);
  if (!workers.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", workers.status().toString().c_str());
    return 2;
  }
  auto busy_poll = service::busyPollFlag(cl);
  if (!busy_poll.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", busy_poll.status().toString().c_str());
    return 2;
  }
  auto gather = cl.getInt("input-gather-us", 0, 0, 100'000);
  if (!gather.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", gather.status().toString().c_str());
    return 2;
  }
  if (*gather > 0 && busy_poll->count() > 0) {
    std::fprintf(stderr,
                 "push-room: --busy-poll-us and --input-gather-us trade opposite ways (latency "
                 "for CPU, CPU for latency): give one\n");
    return 2;
  }
  const LoopTuning tuning{*busy_poll, std::chrono::microseconds(*gather)};
  auto options = room::RoomOptions::fromConfig(cfg, file->get());
  if (!options.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", options.status().toString().c_str());
    return 2;
  }
  if (*workers == 1) return runRoom(std::move(options).value(), 0, tuning);
  std::vector<int> reserved;
  auto tcp = service::reservePort(options->tcp_address, &reserved);
  if (!tcp.isOk()) {
    std::fprintf(stderr, "push-room: %s\n", tcp.status().toString().c_str());
    return 1;
  }
  options->tcp_address = *tcp;
  if (!options->ws_address.empty()) {
    auto ws = service::reservePort(options->ws_address, &reserved);
    if (!ws.isOk()) {
      std::fprintf(stderr, "push-room: %s\n", ws.status().toString().c_str());
      return 1;
    }
    options->ws_address = *ws;
  }
  const room::RoomOptions base = *options;
  return service::superviseWorkers("push-room", static_cast<int>(*workers), [&base, tuning](int i) {
    room::RoomOptions o = base;
    o.name = base.name + "-w" + std::to_string(i);
    o.reuse_port = true;
    o.rpc.address = service::shiftPort(base.rpc.address, i);
    if (!o.admin_address.empty()) o.admin_address = service::shiftPort(base.admin_address, i);
    return runRoom(std::move(o), i, tuning);
  });
}
