// pushctl: the operator's view of a push cluster in ZooKeeper (DESIGN.md §7).
//
//   pushctl [--zk HOSTS] [--root PATH] [--timeout-ms N] COMMAND [ARGS]
//
//   services [SVC]          the registered instances: service, id, region, weight, load,
//                           endpoints (one line each, sorted)
//   apps                    the app records' names
//   app get NAME            an app record (JSON) on stdout
//   app put NAME FILE|-     creates or replaces an app record (validated first)
//   app delete NAME         removes an app record
//   config get SVC          a service's live config (config/<svc>) on stdout
//   config put SVC FILE|-   creates or replaces it (parsed as SVC's config; a room's
//                           heartbeat hints range-checked as the room does)
//
// --zk defaults to $PUSH_ZOOKEEPER, --root to $PUSH_ZK_ROOT or /push/default.
// Exit codes: 0 done; 1 not found; 2 bad usage or bad input (the reason on stderr);
// 3 ZooKeeper not reachable in time; 4 any other ZooKeeper error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/base/command_line.h"
#include "common/base/log.h"
#include "common/discovery/service_instance.h"
#include "common/discovery/zk_client.h"
#include "common/net/event_loop.h"
#include "deploy/pushctl/record_check.h"

namespace {

using namespace push;
using discovery::ZkClient;

constexpr int kNotFound = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;
constexpr int kZkError = 4;

int fail(int code, const std::string& why) {
  std::fprintf(stderr, "pushctl: %s\n", why.c_str());
  return code;
}

int exitCodeOf(const Status& st) {
  switch (st.code()) {
    case Code::NOT_FOUND:
      return kNotFound;
    case Code::INVALID_ARGUMENT:
      return kUsage;
    case Code::TIMEOUT:
    case Code::UNAVAILABLE:
      return kUnreachable;
    default:
      return kZkError;
  }
}

// One ZooKeeper session driven synchronously: each call runs the loop until it completes. A
// call that times out ends the command (its completion, should it come, would write into a
// frame that is gone, so nothing runs the loop after it; close() drops it).
class Session {
 public:
  Session(net::EventLoop& loop, std::chrono::milliseconds timeout)
      : loop_(loop), timeout_(timeout) {}

  Status open(const ZkClient::Options& options) {
    auto c = ZkClient::create(loop_, options);
    if (!c.isOk()) return c.status();
    zk_ = std::move(c).value();
    if (!loop_.runUntil([&] { return zk_->connected(); }, timeout_)) {
      return Status(Code::UNAVAILABLE, "ZooKeeper at " + options.hosts + " not reachable within " +
                                           std::to_string(timeout_.count()) + " ms");
    }
    return Status::ok();
  }

  Result<std::vector<std::string>> children(const std::string& path) {
    std::optional<Result<std::vector<std::string>>> out;
    zk_->getChildren(path, false, [&](auto r) { out = std::move(r); });
    if (!wait([&] { return out.has_value(); })) return timeoutStatus(path);
    return std::move(*out);
  }

  Result<ZkClient::Node> get(const std::string& path) {
    std::optional<Result<ZkClient::Node>> out;
    zk_->get(path, false, [&](auto r) { out = std::move(r); });
    if (!wait([&] { return out.has_value(); })) return timeoutStatus(path);
    return std::move(*out);
  }

  // Creates `path` (and its parents) with `data`, or replaces the data of an existing node.
  Status put(const std::string& path, const std::string& data) {
    std::optional<Status> created;
    zk_->createRecursive(path, data, ZkClient::CreateMode::Persistent,
                         [&](Status st) { created = st; });
    if (!wait([&] { return created.has_value(); })) return timeoutStatus(path);
    if (created->code() != Code::ALREADY_EXISTS) return *created;
    std::optional<Status> set;
    zk_->set(path, data, -1, [&](Status st) { set = st; });
    if (!wait([&] { return set.has_value(); })) return timeoutStatus(path);
    return *set;
  }

  Status remove(const std::string& path) {
    std::optional<Status> out;
    zk_->remove(path, -1, [&](Status st) { out = st; });
    if (!wait([&] { return out.has_value(); })) return timeoutStatus(path);
    return *out;
  }

  void close() { zk_.reset(); }

 private:
  bool wait(const std::function<bool()>& done) { return loop_.runUntil(done, timeout_); }
  Status timeoutStatus(const std::string& path) const {
    return Status(Code::TIMEOUT, "no answer from ZooKeeper for " + path + " within " +
                                     std::to_string(timeout_.count()) + " ms");
  }

  net::EventLoop& loop_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<ZkClient> zk_;
};

Result<std::string> readInput(const std::string& source) {
  std::stringstream text;
  if (source == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(source);
    if (!in) return invalidArgument("cannot read " + source);
    text << in.rdbuf();
  }
  return text.str();
}

// A node name given on the command line: one path segment.
Status checkName(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > 64 ||
      !std::all_of(name.begin(), name.end(),
                   [](char c) {
                     return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                            c == '-';
                   }) ||
      name == "." || name == "..") {
    return invalidArgument(what + " '" + name + "': 1..64 of [A-Za-z0-9._-]");
  }
  return Status::ok();
}

int listServices(Session& zk, const std::vector<std::string>& args) {
  std::vector<std::string> services;
  if (!args.empty()) {
    if (Status st = checkName("service", args[0]); !st.isOk()) return fail(kUsage, st.message());
    services.push_back(args[0]);
  } else {
    auto names = zk.children("/services");
    if (!names.isOk()) {
      if (names.status().code() == Code::NOT_FOUND) return 0;  // nothing registered yet
      return fail(exitCodeOf(names.status()), names.status().toString());
    }
    services = std::move(names).value();
  }
  std::sort(services.begin(), services.end());
  std::printf("%-10s %-36s %-10s %6s %6s %s\n", "SERVICE", "ID", "REGION", "WEIGHT", "LOAD",
              "ENDPOINTS");
  for (const std::string& svc : services) {
    auto ids = zk.children("/services/" + svc);
    if (!ids.isOk()) {
      if (ids.status().code() == Code::NOT_FOUND && args.empty()) continue;
      return fail(exitCodeOf(ids.status()), ids.status().toString());
    }
    std::sort(ids->begin(), ids->end());
    for (const std::string& id : *ids) {
      auto node = zk.get("/services/" + svc + "/" + id);
      if (!node.isOk()) {
        if (node.status().code() == Code::NOT_FOUND) continue;  // gone since the listing
        // Anything else (a timeout above all) ends the command: a call that timed out may
        // still complete, and no other call may run the loop after it.
        return fail(exitCodeOf(node.status()), node.status().toString());
      }
      auto in = discovery::decodeInstance(id, node->data);
      if (!in.isOk()) {
        std::printf("%-10s %-36s (bad data: %s)\n", svc.c_str(), id.c_str(),
                    in.status().message().c_str());
        continue;
      }
      std::string endpoints;
      for (const auto& [name, address] : in->endpoints)
        endpoints += (endpoints.empty() ? "" : " ") + name + "=" + address;
      std::printf("%-10s %-36s %-10s %6u %6.3f %s\n", svc.c_str(), id.c_str(), in->region.c_str(),
                  in->weight, in->load, endpoints.c_str());
    }
  }
  return 0;
}

// get / put / delete of one node below `dir` ("apps" or "config").
int nodeCommand(Session& zk, const std::string& dir, const std::vector<std::string>& args) {
  if (args.size() < 2) return fail(kUsage, dir + ": needs get|put|delete NAME (see --help)");
  const std::string& verb = args[0];
  const std::string& name = args[1];
  if (Status st = checkName(dir == "apps" ? "app" : "service", name); !st.isOk()) {
    return fail(kUsage, st.message());
  }
  const std::string path = "/" + dir + "/" + name;
  if (verb == "get" && args.size() == 2) {
    auto node = zk.get(path);
    if (!node.isOk()) return fail(exitCodeOf(node.status()), node.status().toString());
    std::fwrite(node->data.data(), 1, node->data.size(), stdout);
    if (node->data.empty() || node->data.back() != '\n') std::fputc('\n', stdout);
    return 0;
  }
  if (verb == "put" && args.size() == 3) {
    auto data = readInput(args[2]);
    if (!data.isOk()) return fail(kUsage, data.status().message());
    Status valid =
        dir == "apps" ? tools::checkAppRecord(name, *data) : tools::checkConfigRecord(name, *data);
    if (!valid.isOk()) return fail(kUsage, path + ": " + valid.message());
    Status st = zk.put(path, *data);
    if (!st.isOk()) return fail(exitCodeOf(st), st.toString());
    std::fprintf(stderr, "pushctl: wrote %s (%zu bytes)\n", path.c_str(), data->size());
    return 0;
  }
  if (verb == "delete" && args.size() == 2) {
    Status st = zk.remove(path);
    if (!st.isOk()) return fail(exitCodeOf(st), st.toString());
    std::fprintf(stderr, "pushctl: deleted %s\n", path.c_str());
    return 0;
  }
  return fail(kUsage, dir + " " + verb + ": wrong verb or arguments (see --help)");
}

int listApps(Session& zk) {
  auto names = zk.children("/apps");
  if (!names.isOk()) {
    if (names.status().code() == Code::NOT_FOUND) return 0;
    return fail(exitCodeOf(names.status()), names.status().toString());
  }
  std::sort(names->begin(), names->end());
  for (const std::string& n : *names)
    std::printf("%s\n", n.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Flags come first; the first word that is not a flag (or a flag's value) starts the command.
  CommandLine cl("pushctl",
                 "services and app records of a push cluster in ZooKeeper\n"
                 "commands: services [SVC] | apps | app get|put|delete NAME [FILE|-] |\n"
                 "          config get|put SVC [FILE|-]\n"
                 "exit: 0 done, 1 not found, 2 bad usage/input, 3 ZooKeeper unreachable, "
                 "4 other ZooKeeper error");
  cl.option("zk", "HOSTS", "ZooKeeper ensemble host:port[,...] (default $PUSH_ZOOKEEPER)");
  cl.option("root", "PATH", "the cluster's root (default $PUSH_ZK_ROOT or /push/default)");
  cl.option("timeout-ms", "N", "how long to wait for ZooKeeper (default 5000)");
  cl.flag("help", "print this help");
  int split = 1;
  while (split < argc && std::string_view(argv[split]).starts_with("--")) {
    const std::string_view f(argv[split]);
    split += (f == "--help" || f.find('=') != std::string_view::npos) ? 1 : 2;
  }
  split = std::min(split, argc);
  if (Status st = cl.parse(split, argv); !st.isOk()) return fail(kUsage, st.message());
  if (cl.has("help")) {
    std::printf("%s", cl.usage().c_str());
    return 0;
  }
  std::vector<std::string> words(argv + split, argv + argc);
  if (words.empty()) return fail(kUsage, "no command (see --help)");

  const char* env_zk = std::getenv("PUSH_ZOOKEEPER");
  const char* env_root = std::getenv("PUSH_ZK_ROOT");
  ZkClient::Options options;
  options.hosts = cl.get("zk", env_zk ? env_zk : "");
  options.root = cl.get("root", env_root ? env_root : "/push/default");
  if (options.hosts.empty()) return fail(kUsage, "--zk (or $PUSH_ZOOKEEPER) is required");
  if (Status st = ZkClient::checkPath(options.root); !st.isOk()) {
    return fail(kUsage, "--root: " + st.message());
  }
  auto timeout = cl.getInt("timeout-ms", 5000, 100, 600'000);
  if (!timeout.isOk()) return fail(kUsage, timeout.status().message());

  (void)log::setLevel("error");  // our own chatter is not the operator's business
  net::EventLoop loop;
  int rc = 0;
  {
    Session zk(loop, std::chrono::milliseconds(*timeout));
    if (Status st = zk.open(options); !st.isOk()) {
      rc = fail(exitCodeOf(st), st.message());
    } else {
      const std::string cmd = words[0];
      const std::vector<std::string> args(words.begin() + 1, words.end());
      if (cmd == "services" && args.size() <= 1) {
        rc = listServices(zk, args);
      } else if (cmd == "apps" && args.empty()) {
        rc = listApps(zk);
      } else if (cmd == "app") {
        rc = nodeCommand(zk, "apps", args);
      } else if (cmd == "config") {
        rc = nodeCommand(zk, "config", args);
      } else {
        rc = fail(kUsage, "unknown command '" + cmd + "' (see --help)");
      }
    }
    zk.close();
  }
  (void)loop.shutdown();
  return rc;
}
