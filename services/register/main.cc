// push-register: the session table service (DESIGN.md 2).
//
//   push-register [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--slots 0-1023]
//
// Prints "RPC_ADDRESS <host:port>" (and "ADMIN_ADDRESS <host:port>" when the admin port is
// on) once serving; SIGINT/SIGTERM stop it gracefully.
#include <cstdio>

#include "common/base/log.h"
#include "common/http/http_server.h"
#include "common/net/event_loop.h"
#include "common/net/signal_watcher.h"
#include "common/rpc/server.h"
#include "proto/config.pb.h"
#include "services/common/service_main.h"
#include "services/register/register_service.h"

int main(int argc, char** argv) {
  using namespace push;
  CommandLine cl("push-register", "the session table: (app, user) -> sessions, by slot");
  service::addCommonFlags(cl);
  cl.option("listen", "HOST:PORT", "RPC address (overrides rpc.listen.address)");
  cl.option("admin", "HOST:PORT", "admin HTTP address (overrides admin.listen.address)");
  cl.option("slots", "RANGES", "slots this instance owns, e.g. 0-511 (overrides slots)");
  config::RegisterConfig cfg;
  auto file = service::loadConfig(cl, argc, argv, &cfg);
  if (!file.isOk()) {
    if (file.status().code() == Code::CANCELLED) return 0;
    std::fprintf(stderr, "push-register: %s\n%s", file.status().toString().c_str(),
                 file.status().code() == Code::INVALID_ARGUMENT ? "" : "");
    return 2;
  }
  if (cl.has("listen")) cfg.mutable_rpc()->mutable_listen()->set_address(cl.get("listen"));
  if (cl.has("admin")) cfg.mutable_admin()->mutable_listen()->set_address(cl.get("admin"));
  if (cl.has("slots")) cfg.set_slots(cl.get("slots"));
  Status st = (*file)->requireRange("room_timeout_ms", 100, 3'600'000);
  if (st.isOk()) st = (*file)->requireRange("max_sessions_per_user", 1, 10'000);
  auto options = reg::RegisterService::Options::fromConfig(cfg);
  auto rpc_options = rpc::Server::Options::fromConfig(cfg.rpc());
  if (st.isOk() && !options.isOk()) st = options.status();
  if (st.isOk() && !rpc_options.isOk()) st = rpc_options.status();
  if (!st.isOk()) {
    std::fprintf(stderr, "push-register: %s\n", st.toString().c_str());
    return 2;
  }
  if (cfg.rpc().listen().address().empty()) rpc_options->address = "127.0.0.1:7200";
  auto busy_poll = service::busyPollFlag(cl);
  if (!busy_poll.isOk()) {
    std::fprintf(stderr, "push-register: %s\n", busy_poll.status().toString().c_str());
    return 2;
  }

  net::EventLoop loop;
  loop.setBusyPoll(*busy_poll);
  reg::RegisterService service(loop, *options);
  rpc::Server* server = rpc::Server::create(loop, *rpc_options);
  st = server->addService(&service);
  if (st.isOk()) st = server->start();
  if (!st.isOk()) {
    std::fprintf(stderr, "push-register: %s\n", st.toString().c_str());
    server->close();
    service.close();
    (void)loop.shutdown();
    return 1;
  }
  auto admin = service::startAdmin(loop, cfg.admin(),
                                   {.health = [] { return Status::ok(); },
                                    .status_json = [&service] { return service.statusJson(); }});
  if (!admin.isOk()) {
    std::fprintf(stderr, "push-register: admin: %s\n", admin.status().toString().c_str());
    server->close();
    service.close();
    (void)loop.shutdown();
    return 1;
  }
  service::announce("RPC_ADDRESS", server->address());
  if (*admin) service::announce("ADMIN_ADDRESS", (*admin)->address());
  LOG_INFO(Register, "register serving slots {} on {}", options->slots.toString(),
           server->address().toString());

  net::SignalWatcher* signals = net::SignalWatcher::create(loop, [&](int signum) {
    LOG_INFO(Register, "signal {}: stopping", signum);
    signals->close();
    if (*admin) (*admin)->close();
    service.close();
    server->shutdown(std::chrono::seconds(5), [&loop] { loop.stop(); });
  });
  loop.run();
  st = loop.shutdown();
  if (!st.isOk()) LOG_WARN(Register, "shutdown: {}", st.toString());
  return 0;
}
