// push-cli: a command-line client of the push platform, built on the SDK.
//
//   push-cli connect [--server HOST:PORT[,HOST:PORT]] [--dispatcher URL [--region R]]
//                    --token TOKEN [--network wifi|cellular] [--upstream TEXT
//                    [--upstream-type TYPE]] [--exit-after N] [--tag APP:TAG]...
//   push-cli mint --app A --user U --device D --secret S [--ttl SECONDS]
//
// connect prints one line per event on stdout, flushed at once (sdk/README.md lists them):
//   STATE <state> <detail>        e.g. "STATE online room=room-1-42 server=... heartbeat=60"
//   PUSH id=<id> app=<app> qos=<q> [broadcast_seq=<n> tag=<tag>] payload=<text, or base64:... when
//   not printable UTF-8> UPSTREAM_ACK seq=<n> code=<name> message=<text> reply=<text or
//   base64:...> SUBSCRIBE seq=<n>
//   app=<app> code=<name> tags=<t1,t2,...> message=<text> ERROR code=<name> message=<text>
// and exits 0 after N pushes (--exit-after) or on SIGINT/SIGTERM, 3 when kicked, 4 when the
// token is refused (nobody can give it a new one), 2 on bad flags.
//
// mint prints a token signed with the app secret (what an app's server does).

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth/token.h"
#include "common/base/command_line.h"
#include "common/base/log.h"
#include "sdk/client.h"

namespace {

using push::CommandLine;
using push::Status;
namespace sdk = push::sdk;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitKicked = 3;
constexpr int kExitNeedsToken = 4;

std::mutex out_mu;

void printLine(const std::string& line) {
  std::lock_guard lock(out_mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// One line per event: control characters in texts from the network become spaces.
std::string oneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// True for valid UTF-8 without control characters (so it prints on one line as it is).
bool printableUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;  // C1 controls
    i += len;
  }
  return true;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (i + 1 < in.size()) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string usage() {
  return "push-cli: a command-line client of the push platform\n"
         "usage:\n"
         "  push-cli connect [--server HOST:PORT[,HOST:PORT]] [--dispatcher URL [--region R]]\n"
         "                   --token TOKEN [--network wifi|cellular|ethernet|unknown]\n"
         "                   [--upstream TEXT [--upstream-type TYPE]]\n"
         "                   [--exit-after N] [--log-level LEVEL] [--tag APP:TAG]...\n"
         "  push-cli mint --app A --user U --device D --secret S [--ttl SECONDS]\n"
         "run 'push-cli connect --help' or 'push-cli mint --help' for the flags\n";
}

int fail(const std::string& message, const std::string& help) {
  std::fprintf(stderr, "push-cli: %s\n%s", message.c_str(), help.c_str());
  return kExitUsage;
}

std::vector<std::string> split(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) out.emplace_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// ------------------------------------------------------------------------------ connect

// Takes every "--tag APP:TAG" / "--tag=APP:TAG" out of argv (CommandLine keeps one value per
// flag; --tag repeats) into `tags`, grouped by app. False (and `why`) on a malformed one.
bool takeTags(int* argc, char** argv, std::map<std::string, std::vector<std::string>>* tags,
              std::string* why) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string_view arg = argv[i];
    std::string value;
    if (arg == "--tag") {
      if (i + 1 >= *argc) {
        *why = "--tag needs APP:TAG";
        return false;
      }
      value = argv[++i];
    } else if (arg.starts_with("--tag=")) {
      value = arg.substr(6);
    } else {
      argv[out++] = argv[i];
      continue;
    }
    // The app is before the first ':' (tags may contain ':', app names here may not).
    const size_t colon = value.find(':');
    if (colon == std::string::npos || colon == 0 || !sdk::validTag(value.substr(colon + 1))) {
      *why = "--tag '" + value + "': want APP:TAG, TAG 1..64 bytes of [A-Za-z0-9_.:-]";
      return false;
    }
    (*tags)[value.substr(0, colon)].push_back(value.substr(colon + 1));
  }
  *argc = out;
  return true;
}

int runConnect(int argc, char** argv) {
  std::map<std::string, std::vector<std::string>> tags;
  std::string tag_error;
  const bool tags_ok = takeTags(&argc, argv, &tags, &tag_error);
  CommandLine cl("push-cli connect", "connect to rooms and print every event");
  cl.option("server", "HOST:PORT[,HOST:PORT]",
            "room addresses, tried in order (required without --dispatcher; with it, the "
            "fallback list)");
  cl.option("dispatcher", "URL",
            "ask this dispatcher where to connect, e.g. http://127.0.0.1:8090");
  cl.option("region", "REGION", "the region sent to the dispatcher");
  cl.option("token", "TOKEN", "auth token (required; see push-cli mint)");
  cl.option("network", "TYPE", "wifi, cellular, ethernet or unknown (default unknown)");
  cl.option("upstream", "TEXT", "send TEXT upstream once (printed: UPSTREAM_ACK)");
  cl.option("upstream-type", "TYPE", "the upstream's type (the app's webhook for it)");
  cl.option("exit-after", "N", "exit after N pushes");
  cl.option("log-level", "LEVEL", "SDK log level on stderr (default warn)");
  cl.option("tag", "APP:TAG",
            "subscribe to TAG of APP after auth, and again after every reconnect (repeatable; "
            "printed: SUBSCRIBE)");
  cl.flag("help", "print this help");
  if (!tags_ok) return fail(tag_error, cl.usage());
  if (Status st = cl.parse(argc, argv); !st.isOk()) return fail(st.message(), cl.usage());
  if (cl.has("help")) {
    std::printf("%s", cl.usage().c_str());
    return kExitOk;
  }
  if (!cl.has("server") && !cl.has("dispatcher")) {
    return fail("--server or --dispatcher is required", cl.usage());
  }
  if (!cl.has("token")) return fail("--token is required", cl.usage());
  auto exit_after = cl.getInt("exit-after", 0, 1, 1'000'000'000);
  if (!exit_after.isOk()) return fail(exit_after.status().message(), cl.usage());
  if (Status st = push::log::setLevel(cl.get("log-level", "warn")); !st.isOk()) {
    return fail("--log-level: " + st.message(), cl.usage());
  }

  sdk::ClientOptions options;
  if (cl.has("server")) options.servers = split(cl.get("server"));
  options.dispatcher = cl.get("dispatcher", "");
  options.region = cl.get("region", "");
  options.token = cl.get("token");
  options.client_version = "push-cli/0.1";
  const std::string network = cl.get("network", "unknown");
  if (network == "wifi") {
    options.network = sdk::Network::Wifi;
  } else if (network == "cellular") {
    options.network = sdk::Network::Cellular;
  } else if (network == "ethernet") {
    options.network = sdk::Network::Ethernet;
  } else if (network != "unknown") {
    return fail("--network: '" + network + "' is not wifi, cellular, ethernet or unknown",
                cl.usage());
  }
  auto client = sdk::Client::create(options);
  if (!client.isOk()) return fail(client.status().message(), cl.usage());

  // The main thread waits in sigwait(); callbacks wake it with SIGUSR1. Blocked before the
  // SDK thread starts, so it inherits the mask and never takes these signals itself.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<int> exit_code{-1};
  auto finish = [&exit_code](int code) {
    int expected = -1;
    if (exit_code.compare_exchange_strong(expected, code)) ::kill(::getpid(), SIGUSR1);
  };

  std::atomic<long long> pushes{0};
  const long long limit = *exit_after;
  sdk::Client::Callbacks cb;
  cb.on_state = [&](sdk::State s, const std::string& detail) {
    printLine(std::string("STATE ") + sdk::stateName(s) + (detail.empty() ? "" : " ") +
              oneLine(detail));
    if (s == sdk::State::Kicked) finish(kExitKicked);
    if (s == sdk::State::NeedsToken) finish(kExitNeedsToken);
  };
  cb.on_message = [&](const sdk::Message& m) {
    printLine("PUSH id=" + std::to_string(m.id) + " app=" + oneLine(m.app) +
              " qos=" + std::to_string(m.qos) +
              (m.broadcast_seq
                   ? " broadcast_seq=" + std::to_string(m.broadcast_seq) + " tag=" + oneLine(m.tag)
                   : std::string()) +
              " payload=" + (printableUtf8(m.payload) ? m.payload : "base64:" + base64(m.payload)));
    if (limit > 0 && ++pushes >= limit) finish(kExitOk);
  };
  cb.on_error = [](int code, const std::string& message) {
    printLine(std::string("ERROR code=") + sdk::errorName(code) + " message=" + oneLine(message));
  };
  cb.on_upstream_ack = [](uint64_t seq, int code, const std::string& message,
                          const std::string& reply) {
    printLine("UPSTREAM_ACK seq=" + std::to_string(seq) + " code=" + sdk::errorName(code) +
              " message=" + oneLine(message) +
              " reply=" + (printableUtf8(reply) ? reply : "base64:" + base64(reply)));
  };
  cb.on_subscribe = [](uint64_t seq, const std::string& app, int code, const std::string& message,
                       const std::vector<std::string>& now) {
    std::string list;
    for (const std::string& t : now)
      list += (list.empty() ? "" : ",") + t;
    printLine("SUBSCRIBE seq=" + std::to_string(seq) + " app=" + oneLine(app) +
              " code=" + sdk::errorName(code) + " tags=" + list + " message=" + oneLine(message));
  };
  if (Status st = (*client)->setCallbacks(std::move(cb)); !st.isOk()) {
    return fail(st.toString(), "");
  }
  if (Status st = (*client)->connect(); !st.isOk()) return fail(st.toString(), "");
  // Sent right after auth (and again by the SDK after every reconnect).
  for (auto& [app, names] : tags) {
    auto seq = (*client)->subscribe(app, names);
    if (!seq.isOk()) return fail("--tag: " + seq.status().message(), "");
  }
  if (cl.has("upstream")) {
    auto seq = (*client)->sendUpstream("", cl.get("upstream"), cl.get("upstream-type", ""));
    if (!seq.isOk()) return fail("--upstream: " + seq.status().message(), "");
  }
  while (exit_code.load() < 0) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGINT || sig == SIGTERM) finish(kExitOk);
  }
  (*client)->close();  // flushes the acks of the last pushes
  return exit_code.load();
}

// ------------------------------------------------------------------------------ mint

int runMint(int argc, char** argv) {
  CommandLine cl("push-cli mint", "print a client token signed with an app secret");
  cl.option("app", "APP", "app name (required)");
  cl.option("user", "USER", "user id (required)");
  cl.option("device", "DEVICE", "device id (required)");
  cl.option("secret", "SECRET", "the app's secret (required)");
  cl.option("ttl", "SECONDS", "validity from now (default 3600)");
  cl.flag("help", "print this help");
  if (Status st = cl.parse(argc, argv); !st.isOk()) return fail(st.message(), cl.usage());
  if (cl.has("help")) {
    std::printf("%s", cl.usage().c_str());
    return kExitOk;
  }
  push::auth::TokenClaims claims;
  for (auto [name, field] : {std::pair{"app", &claims.app}, std::pair{"user", &claims.user},
                             std::pair{"device", &claims.device}}) {
    if (!cl.has(name)) return fail(std::string("--") + name + " is required", cl.usage());
    *field = cl.get(name);
  }
  if (Status st = push::auth::checkClaims(claims); !st.isOk()) {
    return fail("--" + st.message(), cl.usage());
  }
  if (!cl.has("secret") || cl.get("secret").empty()) {
    return fail("--secret is required", cl.usage());
  }
  auto ttl = cl.getInt("ttl", 3600, 1, 10LL * 365 * 24 * 3600);
  if (!ttl.isOk()) return fail(ttl.status().message(), cl.usage());
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  claims.exp = now + *ttl;
  const std::string token = push::auth::mintToken(cl.get("secret"), claims);
  if (token.size() > push::auth::kMaxTokenBytes) {
    return fail(
        "the token would be longer than " + std::to_string(push::auth::kMaxTokenBytes) + " bytes",
        "");
  }
  std::printf("%s\n", token.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("missing command", usage());
  const std::string_view command = argv[1];
  // CommandLine skips argv[0]: hand it the arguments after the command.
  if (command == "connect") return runConnect(argc - 1, argv + 1);
  if (command == "mint") return runMint(argc - 1, argv + 1);
  if (command == "--help" || command == "help") {
    std::printf("%s", usage().c_str());
    return kExitOk;
  }
  return fail("unknown command '" + std::string(command) + "'", usage());
}
