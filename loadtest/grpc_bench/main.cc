// grpc-bench: the gRPC C++ baseline of our RPC benchmark (small unary calls over loopback).
//
//   grpc-bench server --port 0 [tuning flags] [--slots N]
//       Prints "PORT <n>" once listening on 127.0.0.1; runs until SIGINT/SIGTERM or EOF on
//       stdin.
//   grpc-bench client --target 127.0.0.1:<port> --depth N --seconds S --payload B
//                     [tuning flags] [--channels C]
//       Keeps N calls in flight; after 1 s of warmup measures S seconds and prints
//       "impl=grpc depth=N calls=C seconds=S qps=Q p50_us=X p99_us=Y".
//
// Tuning flags (both modes):
//   --spin-us N        spin on the CQ for N us after the last event, then block (-1: forever)
//   --poll busy|block  same as --spin-us -1 / --spin-us 0
//   --yield/--no-yield sched_yield() between empty polls while spinning, or not
//   --cqs N            completion queues, one polling thread each
//   --arg name=value   extra channel argument, int or string (repeatable; later ones win)
//   --no-default-args  drop the channel arguments of tuning.h
// The defaults are the best configuration measured here; see README.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <absl/synchronization/mutex.h>

#include "loadtest/grpc_bench/client.h"
#include "loadtest/grpc_bench/server.h"

namespace push::grpcbench {
namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: grpc-bench server --port P [--slots N]\n"
      "       grpc-bench client --target 127.0.0.1:P --depth N --seconds S "
      "--payload B [--channels C]\n"
      "  both: [--poll busy|block] [--spin-us N] [--[no-]yield] [--cqs N] [--arg name=value]... "
      "[--no-default-args]\n");
  return 2;
}

bool parseInt(const char* text, int min, int max, int* out) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) return false;
  *out = static_cast<int>(value);
  return true;
}

int run(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string_view mode = argv[1];
  if (mode != "server" && mode != "client") return usage();

  ServerOptions server;
  ClientOptions client;
  Tuning tuning;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--no-default-args") {
      tuning.args.clear();
      continue;
    }
    if (flag == "--yield" || flag == "--no-yield") {
      tuning.yield = flag == "--yield";
      continue;
    }
    if (i + 1 >= argc) return usage();
    const char* value = argv[++i];
    bool ok = true;
    if (flag == "--port") {
      ok = parseInt(value, 0, 65535, &server.port);
    } else if (flag == "--slots") {
      ok = parseInt(value, 1, 100000, &server.slots);
    } else if (flag == "--target") {
      client.target = value;
    } else if (flag == "--depth") {
      ok = parseInt(value, 1, 100000, &client.depth);
    } else if (flag == "--seconds") {
      char* end = nullptr;
      client.seconds = std::strtod(value, &end);
      ok = end != value && *end == '\0' && client.seconds > 0 && client.seconds <= 3600;
    } else if (flag == "--payload") {
      ok = parseInt(value, 0, 1 << 20, &client.payload);
    } else if (flag == "--channels") {
      ok = parseInt(value, 1, 64, &client.channels);
    } else if (flag == "--cqs") {
      ok = parseInt(value, 1, 64, &tuning.cqs);
    } else if (flag == "--poll") {
      if (std::strcmp(value, "busy") == 0) {
        tuning.spin_us = kSpinForever;
      } else if (std::strcmp(value, "block") == 0) {
        tuning.spin_us = kNoSpin;
      } else {
        ok = false;
      }
    } else if (flag == "--spin-us") {
      ok = parseInt(value, -1, 10000000, &tuning.spin_us);
    } else if (flag == "--arg") {
      const char* eq = std::strchr(value, '=');
      int number = 0;
      ok = eq != nullptr && eq != value;
      if (ok && parseInt(eq + 1, -2147483647, 2147483647, &number)) {
        tuning.args.emplace_back(std::string(value, eq), number);
      } else if (ok) {
        tuning.string_args.emplace_back(std::string(value, eq), std::string(eq + 1));
      }
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "grpc-bench: bad flag %s %s\n", argv[i - 1], value);
      return usage();
    }
  }

  if (mode == "server") {
    server.tuning = tuning;
    return runServer(server);
  }
  if (client.target.empty()) return usage();
  client.tuning = tuning;
  return runClient(client);
}

}  // namespace
}  // namespace push::grpcbench

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detector on:
  // every lock and unlock inside gRPC then updates a global lock graph under a global mutex
  // (GraphCycles showed up in perf). Production builds run without it, so the baseline does
  // too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return push::grpcbench::run(argc, argv);
}
