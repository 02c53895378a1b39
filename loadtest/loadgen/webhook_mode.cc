#include "loadtest/loadgen/webhook_mode.h"

#include <csignal>
#include <cstdio>
#include <string>

#include "common/base/log.h"
#include "common/http/http_server.h"
#include "common/http/router.h"
#include "loadtest/loadgen/mode_common.h"
#include "loadtest/loadgen/upstream_hook.h"

namespace push::loadgen {

int webhookMode(int argc, char** argv) {
  CommandLine cl("push-load webhook",
                 "the app webhook of push-loadtest upstream: counts every upstream item POSTed");
  cl.option("listen", "HOST:PORT", "address to serve POST /upstream on (required)");
  cl.flag("stats", "print a HOOK line (cumulative counts) every second");
  cl.option("user-prefix", "P", "the senders' users are P<index> (default u)");
  cl.option("max-seconds", "S", "hard limit on the run time; exit status 3 (default 300)");
  cl.option("log-level", "LEVEL", "common/ log level (default warn)");
  cl.flag("help", "print this help");
  if (Status st = cl.parse(argc, argv); !st.isOk()) return usageError(cl, st);
  if (cl.has("help")) return std::printf("%s", cl.usage().c_str()), kExitOk;
  auto max_s = cl.getInt("max-seconds", 300, 1, 86'400);
  if (!max_s.isOk()) return usageError(cl, max_s.status());
  if (!cl.has("listen")) return usageError(cl, invalidArgument("--listen is required"));
  if (Status st = log::setLevel(cl.get("log-level", "warn")); !st.isOk()) {
    return usageError(cl, st);
  }
  std::signal(SIGUSR1, SIG_IGN);
  Runner runner(static_cast<double>(*max_s));
  UpstreamHookTally tally(cl.get("user-prefix", "u"));
  http::Router router;
  if (Status st = router.add("POST", "/upstream",
                             [&tally](http::HttpRequest& req, http::HttpResponder responder) {
                               if (!tally.onBody(req.body())) {
                                 return responder.respondError(400, "not an upstream item");
                               }
                               responder.respond(200, "{\"ok\":true}", "application/json");
                             });
      !st.isOk()) {
    std::fprintf(stderr, "push-load: %s\n", st.message().c_str());
    return kExitFailed;
  }
  http::HttpServer::Options o;
  o.address = cl.get("listen");
  o.max_pipelined = 1024;
  auto server = http::HttpServer::listen(runner.loop(), o, std::move(router));
  if (!server.isOk()) {
    std::fprintf(stderr, "push-load: webhook on %s: %s\n", o.address.c_str(),
                 server.status().message().c_str());
    return kExitFailed;
  }
  http::HttpServerPtr hook = std::move(server).value();
  printLine("HTTP_ADDRESS " + hook->address().toString());
  const auto stats = [&tally] {
    char line[256];
    std::snprintf(line, sizeof line,
                  "HOOK received=%llu unique=%llu duplicates=%llu unreadable=%llu untracked=%llu "
                  "cpu_ms=%llu",
                  static_cast<unsigned long long>(tally.received()),
                  static_cast<unsigned long long>(tally.unique()),
                  static_cast<unsigned long long>(tally.duplicates()),
                  static_cast<unsigned long long>(tally.unreadable()),
                  static_cast<unsigned long long>(tally.untracked()), cpuMillis());
    printLine(line);
  };
  net::PeriodicTimerPtr timer;
  if (cl.has("stats")) {
    timer = net::PeriodicTimer::create(runner.loop(), stats);
    timer->start(std::chrono::seconds(1));
  }
  return runner.run([&] {
    timer.reset();
    if (cl.has("stats")) stats();
    hook.reset();
  });
}

}  // namespace push::loadgen
