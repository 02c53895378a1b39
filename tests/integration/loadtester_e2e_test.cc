// push-loadtest as an operator runs it, against a real room (LocalCluster): connections spread
// over worker processes and source addresses, held with heartbeats, a line a second, and a
// report whose HTML page is opened in headless Chromium to check its charts were drawn.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/local_cluster.h"
#include "tests/support/nsq_daemon.h"
#include "tests/support/subprocess.h"

namespace push::testing {
namespace {

using namespace std::chrono_literals;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// Figure `name` of a RESULT line's "name=value ..." (the text after "RESULT <name> "), or -1
// when it is not there.
double figureOf(const std::string& result, const std::string& name) {
  const std::string key = " " + name + "=";
  const size_t at = (" " + result).find(key);
  return at == std::string::npos ? -1.0 : std::stod(result.substr(at + key.size() - 1));
}

// What headless Chromium made of a page (its DOM after the scripts ran); "" if it did not run.
std::string renderedDom(const std::string& html_path) {
  const std::string cmd =
      "timeout 90 chromium --headless --no-sandbox --disable-gpu "
      "--disable-dev-shm-usage --dump-dom 'file://" +
      html_path + "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  ::pclose(p);
  return out;
}

// A loopback port nothing listens on.
int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

class LoadtesterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { startCluster(""); }
  void startCluster(const std::string& room_config, int room_workers = 1, bool center = false,
                    bool saver = false, const std::string& center_config = "") {
    cluster_.reset();
    LocalCluster::Options o;
    o.room_workers = room_workers;
    o.websocket = false;
    o.start_center = center;
    o.saver = saver;
    o.room_config = room_config;
    o.center_config = center_config;
    auto c = LocalCluster::start(std::move(o));
    ASSERT_TRUE(c.isOk()) << c.status();
    cluster_ = std::move(c).value();
  }
  std::vector<std::string> command(const std::string& scenario, const std::string& server,
                                   const std::string& out) const {
    const LocalCluster::App app;
    return {binPath("push-loadtest"),
            scenario,
            "--server",
            server,
            "--app",
            app.name,
            "--secret",
            app.secret,
            "--out",
            out,
            "--max-seconds",
            "60"};
  }
  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(LoadtesterE2eTest, HoldsConnectionsOverWorkersAndWritesAReportThatRenders) {
  const std::string out = cluster_->dir() + "/hold-report";
  auto argv = command("hold", cluster_->roomTcp(), out);
  argv.insert(argv.end(),
              {"--connections", "300", "--per-worker", "100", "--sources", "127.0.0.2-127.0.0.7",
               "--connect-rate", "3000", "--heartbeat", "1", "--seconds", "3"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_hold", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  for (const char* part :
       {" connections=300 ", " ready=300 ", " failed=0 ", " lost=0 ", " workers=3 ", " passed=1"}) {
    EXPECT_NE((" " + *result + " ").find(part), std::string::npos) << part << " in " << *result;
  }
  // A progress line a second while it ran (3 s held after connecting).
  size_t progress = 0;
  for (const std::string& l : (*run)->lines())
    progress += l.rfind("[", 0) == 0 && l.find(" connected ") != std::string::npos ? 1 : 0;
  EXPECT_GE(progress, 3u);

  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("\"passed\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"connected\":300"), std::string::npos) << json;
  EXPECT_GE(countOf(json, "\"t_s\":"), 3u);
  // Pings flowed every second and their round trips were measured.
  EXPECT_EQ(json.find("\"pings\":0,"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"percentiles\":[]"), std::string::npos) << json;
  for (int w = 0; w < 3; ++w)
    EXPECT_EQ(::access((out + "/worker-" + std::to_string(w) + ".log").c_str(), R_OK), 0) << w;

  const std::string dom = renderedDom(out + "/report.html");
  ASSERT_FALSE(dom.empty()) << "chromium did not run (deploy/install-deps.sh installs it)";
  EXPECT_NE(dom.find("data-rendered=\"3\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_GE(countOf(dom, "<polyline"), 10u);  // 4 + 5 + 1 series
  EXPECT_NE(dom.find("data-name=\"connected\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"pass\">passed<"), std::string::npos);
  // The connected line has a point per second: at least 3 "x,y" pairs.
  const size_t at = dom.find("data-name=\"connected\"");
  ASSERT_NE(at, std::string::npos);
  const size_t points = dom.find("points=\"", at);
  ASSERT_NE(points, std::string::npos);
  const std::string pairs = dom.substr(points, dom.find('"', points + 8) - points);
  EXPECT_GE(countOf(pairs, ","), 3u) << pairs;
}

TEST_F(LoadtesterE2eTest, UnicastCountsEveryPushOnceWithItsLatency) {
  startCluster("", 2, /*center=*/true);
  const LocalCluster::App app;
  const std::string out = cluster_->dir() + "/unicast-report";
  auto argv = command("unicast", cluster_->roomTcp(), out);
  argv.insert(argv.end(), {"--connections", "300", "--per-worker", "100", "--sources",
                           "127.0.0.2-127.0.0.4", "--center", cluster_->centerAddress(),
                           "--api-key", app.api_key, "--rate", "400", "--seconds", "3"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_unicast", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  std::printf("%s\n", result->c_str());
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  const auto figure = [&](const std::string& name) { return figureOf(*result, name); };
  // 400/s for 3 s, open loop: every push answered delivered and received exactly once, by its
  // own user (the receivers check the user of each one).
  EXPECT_GE(figure("sent"), 1100) << *result;
  EXPECT_EQ(figure("delivered_resp"), figure("sent")) << *result;
  EXPECT_EQ(figure("unique"), figure("sent")) << *result;
  EXPECT_EQ(figure("received"), figure("sent")) << *result;
  for (const char* zero : {"duplicates", "misrouted", "undelivered", "send_errors", "skipped",
                           "offline_resp", "lost", "failed"}) {
    EXPECT_EQ(figure(zero), 0) << zero << " in " << *result;
  }
  EXPECT_EQ(figure("passed"), 1) << *result;
  EXPECT_GE(figure("lat_max_ms"), 0) << *result;
  bool sending = false, sent = false;
  size_t progress = 0;
  for (const std::string& l : (*run)->lines()) {
    sending = sending || l == "SENDING";
    sent = sent || l == "SENT";
    progress += l.find(" delivered ") != std::string::npos && l.find(" p99 ") != std::string::npos;
  }
  EXPECT_TRUE(sending && sent);
  EXPECT_GE(progress, 3u);  // a line a second with deliveries/s and p99
  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("\"name\":\"push latency"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"percentiles\":[]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"delivered_per_s\":"), std::string::npos);
  EXPECT_EQ(::access((out + "/sender.log").c_str(), R_OK), 0);
}

TEST_F(LoadtesterE2eTest, BroadcastCountsEveryCopyPerClientWithTheLastClientsLatency) {
  if (NsqDaemon::binaryFor("queued").empty()) GTEST_SKIP() << "push-queued is not built";
  auto queued = NsqDaemon::start("queued");
  ASSERT_TRUE(queued.isOk()) << queued.status();
  const std::string at_queued = "queued: \"" + (*queued)->tcpAddress() + "\"\n";
  startCluster(at_queued, 2, /*center=*/true, /*saver=*/false, at_queued);
  // Both room workers subscribed to the app's broadcast topic before anything is sent.
  for (const auto& room : cluster_->rooms()) {
    ASSERT_TRUE(eventually([&] {
      auto reply = httpRequest(room.admin, "GET", "/status");
      return reply.isOk() && reply->body.find("\"queued_connections\":1") != std::string::npos;
    })) << room.admin;
  }
  const LocalCluster::App app;
  const std::string out = cluster_->dir() + "/broadcast-report";
  auto argv = command("broadcast", cluster_->roomTcp(), out);
  argv.insert(argv.end(), {"--connections", "300", "--per-worker", "100", "--sources",
                           "127.0.0.2-127.0.0.4", "--center", cluster_->centerAddress(),
                           "--api-key", app.api_key, "--count", "6", "--rate", "4"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_broadcast", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  std::printf("%s\n", result->c_str());
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  const auto figure = [&](const std::string& name) { return figureOf(*result, name); };
  // Six broadcasts accepted, each read once by each of the 300 clients over three workers
  // (each counts a bit per broadcast and client).
  EXPECT_EQ(figure("broadcasts"), 6) << *result;
  EXPECT_EQ(figure("broadcasts_ok"), 6) << *result;
  EXPECT_EQ(figure("expected"), 1800) << *result;
  EXPECT_EQ(figure("unique"), 1800) << *result;
  EXPECT_EQ(figure("received"), 1800) << *result;
  for (const char* zero :
       {"duplicates", "missing", "unmatched", "broadcast_errors", "skipped", "lost", "failed"}) {
    EXPECT_EQ(figure(zero), 0) << zero << " in " << *result;
  }
  EXPECT_GT(figure("last_client_ms"), 0) << *result;
  EXPECT_GE(figure("last_client_ms"), figure("lat_p99_ms")) << *result;
  EXPECT_GT(figure("deliveries_per_s"), 0) << *result;
  EXPECT_EQ(figure("passed"), 1) << *result;
  // In order: the publisher starts, ends, and every copy is in.
  std::string marks;
  for (const std::string& l : (*run)->lines()) {
    if (l == "SENDING" || l == "SENT" || l == "RECEIVED") marks += l + " ";
  }
  EXPECT_EQ(marks, "SENDING SENT RECEIVED ");
  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("\"name\":\"broadcast latency"), std::string::npos) << json;
  EXPECT_EQ(::access((out + "/publisher.log").c_str(), R_OK), 0);
}

TEST_F(LoadtesterE2eTest, BroadcastSaysWhenCenterRefusesItsBroadcasts) {
  // No queued configured: center answers 501 to every broadcast.
  startCluster("", 1, /*center=*/true);
  const LocalCluster::App app;
  auto argv = command("broadcast", cluster_->roomTcp(), cluster_->dir() + "/refused");
  argv.insert(argv.end(), {"--connections", "20", "--center", cluster_->centerAddress(),
                           "--api-key", app.api_key, "--count", "2", "--rate", "10"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_broadcast", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  EXPECT_EQ(figureOf(*result, "broadcasts_ok"), 0) << *result;
  EXPECT_EQ(figureOf(*result, "broadcast_errors"), 2) << *result;
  EXPECT_EQ(figureOf(*result, "passed"), 0) << *result;
  bool said = false;
  for (const std::string& l : (*run)->lines())
    said = said || l.find("problem: 2 broadcasts center refused") != std::string::npos;
  EXPECT_TRUE(said);
}

// push-dispatcher with a static room list (`rooms_config`: RoomConfig-like `rooms { ... }`
// blocks) in `dir`; its HTTP address, or "" when it did not start.
std::unique_ptr<Subprocess> startDispatcher(const std::string& dir, const std::string& rooms_config,
                                            std::string* address) {
  const std::string path = dir + "/dispatcher.conf";
  std::ofstream(path) << "http { listen { address: \"127.0.0.1:0\" } }\n" << rooms_config;
  auto d = Subprocess::start({binPath("push-dispatcher"), "--config", path});
  if (!d.isOk()) return nullptr;
  auto line = (*d)->waitForLine("HTTP_ADDRESS", 10s);
  if (!line.isOk()) return nullptr;
  *address = *line;
  return std::move(d).value();
}

TEST_F(LoadtesterE2eTest, RoutesEveryUserThroughTheDispatcherBeforeConnecting) {
  // Only the dispatcher knows where the room is: no --server.
  std::string dispatcher;
  auto d = startDispatcher(
      cluster_->dir(),
      "rooms { id: \"r1\" endpoints { key: \"tcp\" value: \"" + cluster_->roomTcp() + "\" } }\n",
      &dispatcher);
  ASSERT_NE(d, nullptr);
  const LocalCluster::App app;
  auto argv = command("connect", "-", cluster_->dir() + "/routed");
  argv.erase(argv.begin() + 2, argv.begin() + 4);  // no --server
  argv.insert(argv.end(), {"--dispatcher", dispatcher, "--connections", "150", "--per-worker", "50",
                           "--sources", "127.0.0.2-127.0.0.4"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_connect", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  EXPECT_EQ(figureOf(*result, "ready"), 150) << *result;
  EXPECT_EQ(figureOf(*result, "failed"), 0) << *result;
  // One route request per user, each answered.
  auto metrics = httpRequest(dispatcher, "GET", "/metrics");
  ASSERT_TRUE(metrics.isOk());
  EXPECT_NE(metrics->body.find("push_dispatcher_answers_total{status=\"200\"} 150"),
            std::string::npos)
      << metrics->body;
}

TEST_F(LoadtesterE2eTest, SaysWhenTheDispatcherHasNoRoomForTheUsers) {
  std::string dispatcher;
  // Its one room has no client endpoint, so it is not routable: 503 "no room available".
  auto d = startDispatcher(
      cluster_->dir(), "rooms { id: \"r1\" endpoints { key: \"rpc\" value: \"127.0.0.1:1\" } }\n",
      &dispatcher);
  ASSERT_NE(d, nullptr);
  auto argv = command("connect", "-", cluster_->dir() + "/unrouted");
  argv.erase(argv.begin() + 2, argv.begin() + 4);
  argv.insert(argv.end(), {"--dispatcher", dispatcher, "--connections", "20"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_connect", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  EXPECT_EQ(figureOf(*result, "ready"), 0) << *result;
  std::string problems;
  for (const std::string& l : (*run)->lines()) {
    if (l.find("problem: ") == 0) problems += l + "\n";
  }
  EXPECT_NE(problems.find("dispatcher answered 503"), std::string::npos) << problems;
}

TEST_F(LoadtesterE2eTest, UpstreamCountsEveryAckAndEveryItemAtTheWebhook) {
  // push-coordinator posting the app's upstream to push-loadtest's webhook receiver, and a
  // room forwarding to it.
  const std::string webhook = "127.0.0.1:" + std::to_string(closedPort());
  const std::string coordinator_conf = cluster_->dir() + "/coordinator.conf";
  std::ofstream(coordinator_conf) << "rpc { listen { address: \"127.0.0.1:0\" } }\n"
                                  << "cluster_key: \"" << LocalCluster::Options().cluster_key
                                  << "\"\n"
                                  << "apps { name: \"demo\" upstream_url: \"http://" << webhook
                                  << "/upstream\" }\n";
  auto coordinator = Subprocess::start({binPath("push-coordinator"), "--config", coordinator_conf});
  ASSERT_TRUE(coordinator.isOk()) << coordinator.status();
  auto rpc = (*coordinator)->waitForLine("RPC_ADDRESS", 10s);
  ASSERT_TRUE(rpc.isOk()) << rpc.status();
  startCluster("coordinator { addresses: \"" + *rpc + "\" }\n", 2);
  const std::string out = cluster_->dir() + "/upstream-report";
  auto argv = command("upstream", cluster_->roomTcp(), out);
  argv.insert(argv.end(),
              {"--connections", "200", "--per-worker", "100", "--sources", "127.0.0.2-127.0.0.3",
               "--webhook", webhook, "--rate", "200", "--seconds", "2"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_upstream", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  std::printf("%s\n", result->c_str());
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  const auto figure = [&](const std::string& name) { return figureOf(*result, name); };
  // 200 a second for 2 s over two workers: every frame acked ok, and each one the webhook's
  // exactly once (by user and seq).
  EXPECT_GE(figure("sent"), 380) << *result;
  EXPECT_EQ(figure("acked_ok"), figure("sent")) << *result;
  EXPECT_EQ(figure("webhook_unique"), figure("sent")) << *result;
  EXPECT_EQ(figure("webhook_received"), figure("sent")) << *result;
  for (const char* zero :
       {"ack_errors", "unanswered", "duplicates", "lost_items", "lost", "skipped", "failed"}) {
    EXPECT_EQ(figure(zero), 0) << zero << " in " << *result;
  }
  EXPECT_GT(figure("lat_max_ms"), 0) << *result;
  EXPECT_EQ(figure("passed"), 1) << *result;
  std::string marks;
  for (const std::string& l : (*run)->lines()) {
    if (l == "SENDING" || l == "SENT" || l == "RECEIVED") marks += l + " ";
  }
  EXPECT_EQ(marks, "SENDING SENT RECEIVED ");
  EXPECT_NE(readFile(out + "/report.json").find("\"name\":\"upstream latency"), std::string::npos);
}

TEST_F(LoadtesterE2eTest, UpstreamSaysHowTheRoomRefusedTheFrames) {
  // This room has no coordinator: every Upstream is answered ERROR_UNAVAILABLE.
  const std::string webhook = "127.0.0.1:" + std::to_string(closedPort());
  auto argv = command("upstream", cluster_->roomTcp(), cluster_->dir() + "/refused-upstream");
  argv.insert(argv.end(),
              {"--connections", "20", "--webhook", webhook, "--rate", "50", "--seconds", "1"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_upstream", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  EXPECT_GT(figureOf(*result, "sent"), 0) << *result;
  EXPECT_EQ(figureOf(*result, "ack_errors"), figureOf(*result, "sent")) << *result;
  EXPECT_EQ(figureOf(*result, "ack_error_unavailable"), figureOf(*result, "sent")) << *result;
  EXPECT_EQ(figureOf(*result, "acked_ok"), 0) << *result;
  std::string problems;
  for (const std::string& l : (*run)->lines()) {
    if (l.find("problem: ") == 0) problems += l + "\n";
  }
  EXPECT_NE(problems.find("answered with an error (unavailable "), std::string::npos) << problems;
}

TEST_F(LoadtesterE2eTest, UnicastThroughBatchRequestsCountsTheSame) {
  startCluster("", 1, /*center=*/true);
  const LocalCluster::App app;
  const std::string out = cluster_->dir() + "/unicast-batch";
  auto argv = command("unicast", cluster_->roomTcp(), out);
  argv.insert(argv.end(),
              {"--connections", "200", "--center", cluster_->centerAddress(), "--api-key",
               app.api_key, "--rate", "500", "--seconds", "2", "--batch", "10"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_unicast", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  std::printf("%s\n", result->c_str());
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  // 50 requests of 10 pushes a second for 2 s (open loop: the last request may fall just past
  // the window): the pushes, not the requests, are counted.
  const auto figure = [&](const std::string& name) { return figureOf(*result, name); };
  EXPECT_GE(figure("sent"), 900) << *result;
  EXPECT_EQ(static_cast<long long>(figure("sent")) % 10, 0) << *result;
  EXPECT_EQ(figure("delivered_resp"), figure("sent")) << *result;
  EXPECT_EQ(figure("unique"), figure("sent")) << *result;
  for (const char* zero : {"duplicates", "misrouted", "undelivered"})
    EXPECT_EQ(figure(zero), 0) << zero << " in " << *result;
  EXPECT_EQ(figure("passed"), 1) << *result;
  EXPECT_NE(readFile(out + "/report.json").find("\"batch\":\"10\""), std::string::npos);
}

TEST_F(LoadtesterE2eTest, UnicastAcrossAKilledRoomWorkerLosesNothingWithSaver) {
  // Two room workers, saver on: pushes go on while one worker is killed; its clients come
  // back (on the other worker or its restart) and saver replays what they missed, so every
  // push center accepted (each "stored" first) is received.
  startCluster("", 2, /*center=*/true, /*saver=*/true);
  const LocalCluster::App app;
  const std::string out = cluster_->dir() + "/unicast-storm";
  auto argv = command("unicast", cluster_->roomTcp(), out);
  argv.insert(argv.end(),
              {"--connections", "200", "--per-worker", "100", "--sources", "127.0.0.2-127.0.0.3",
               "--center", cluster_->centerAddress(), "--api-key", app.api_key, "--rate", "200",
               "--seconds", "6", "--storm-after", "2", "--storm-command",
               "kill -9 " + std::to_string(cluster_->rooms().at(0).pid)});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_unicast", 90s);
  ASSERT_TRUE(result.isOk()) << result.status();
  std::printf("%s\n", result->c_str());
  const auto figure = [&](const std::string& name) { return figureOf(*result, name); };
  EXPECT_GT(figure("dropped"), 0) << *result;
  EXPECT_EQ(figure("not_back"), 0) << *result;
  EXPECT_GE(figure("sent"), 1100) << *result;
  EXPECT_EQ(figure("kept"), figure("sent")) << *result;
  EXPECT_EQ(figure("unique"), figure("sent")) << "a push was lost: " << *result;
  EXPECT_EQ(figure("undelivered"), 0) << *result;
  EXPECT_EQ(figure("misrouted"), 0) << *result;
  EXPECT_EQ(figure("passed"), 1) << *result;
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  bool storm = false;
  for (const std::string& l : (*run)->lines())
    storm = storm || l == "STORM";
  EXPECT_TRUE(storm);
}

TEST_F(LoadtesterE2eTest, UnicastSaysWhenCenterRefusesItsRequests) {
  startCluster("", 1, /*center=*/true);
  const std::string out = cluster_->dir() + "/unicast-refused";
  auto argv = command("unicast", cluster_->roomTcp(), out);
  argv.insert(argv.end(), {"--connections", "50", "--center", cluster_->centerAddress(),
                           "--api-key", "not-the-key", "--rate", "100", "--seconds", "1"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_unicast", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  EXPECT_NE(result->find(" unique=0 "), std::string::npos) << *result;
  EXPECT_NE(result->find(" passed=0"), std::string::npos) << *result;
  bool said = false;
  for (const std::string& l : (*run)->lines())
    said = said || (l.rfind("problem: ", 0) == 0 &&
                    l.find("requests to center failed") != std::string::npos);
  EXPECT_TRUE(said);
  EXPECT_NE(readFile(out + "/sender.log").find("401"), std::string::npos);
}

TEST_F(LoadtesterE2eTest, SaysWhatFailedWhenNoRoomAnswers) {
  const std::string out = cluster_->dir() + "/no-room-report";
  auto argv = command("connect", "127.0.0.1:" + std::to_string(closedPort()), out);
  argv.insert(argv.end(), {"--connections", "40", "--per-worker", "20"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_connect", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  EXPECT_NE(result->find(" failed=40 "), std::string::npos) << *result;
  EXPECT_NE(result->find(" failed_connect=40 "), std::string::npos) << *result;
  EXPECT_NE(result->find(" passed=0"), std::string::npos) << *result;
  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("40 of 40 connections never authenticated (connect 40)"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"passed\":false"), std::string::npos);
}

// The room wants a Ping every second and the clients send one a minute: the room closes each
// one after 2.5 silent intervals. Every loss is counted by how it ended (the room closed the
// socket without a frame: "closed"), and the room counts the same closes as its own.
TEST_F(LoadtesterE2eTest, CountsHowLostConnectionsEnded) {
  startCluster("heartbeat { wifi_s: 1 min_s: 1 }\n");
  const std::string out = cluster_->dir() + "/lost-report";
  auto argv = command("hold", cluster_->roomTcp(), out);
  argv.insert(argv.end(), {"--connections", "60", "--per-worker", "30", "--sources",
                           "127.0.0.2-127.0.0.3", "--heartbeat", "60", "--seconds", "6"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_hold", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  for (const char* part : {" ready=60 ", " lost=60 ", " lost_closed=60 ", " passed=0"})
    EXPECT_NE((" " + *result + " ").find(part), std::string::npos) << part << " in " << *result;
  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("60 connections lost after they authenticated (closed 60)"),
            std::string::npos)
      << json;
  auto metrics = httpRequest(cluster_->rooms().at(0).admin, "GET", "/metrics");
  ASSERT_TRUE(metrics.isOk()) << metrics.status();
  EXPECT_GE(counterIn(metrics->body, R"(push_room_connections_closed_total{how="local"})"), 60u)
      << metrics->body;
  EXPECT_GE(counterIn(metrics->body, "push_room_heartbeat_timeouts_total"), 60u);
}

// One of two room workers is killed under 200 clients (SO_REUSEPORT gave it about half): every
// client it dropped reconnects, lands on a live worker (or the restarted one) and counts as
// back; the run ends by itself once the last one is, and says how long that took.
TEST_F(LoadtesterE2eTest, ReconnectStormTimesTheReturnOfEveryDroppedClient) {
  startCluster("", 2);
  const std::string out = cluster_->dir() + "/storm-report";
  auto argv = command("reconnect-storm", cluster_->roomTcp(), out);
  argv.insert(argv.end(),
              {"--connections", "200", "--per-worker", "100", "--sources", "127.0.0.2-127.0.0.3",
               "--seconds", "30", "--storm-command",
               "echo storming; kill -9 " + std::to_string(cluster_->rooms().at(0).pid)});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_reconnect_storm", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 0) << *result;
  for (const char* part : {" ready=200 ", " failed=0 ", " not_back=0 ", " passed=1"})
    EXPECT_NE((" " + *result + " ").find(part), std::string::npos) << part << " in " << *result;
  const auto figure = [&](const std::string& name) { return figureOf(*result, name); };
  EXPECT_GT(figure("dropped"), 0) << *result;
  EXPECT_EQ(figure("reconnected"), figure("dropped")) << *result;
  EXPECT_EQ(figure("lost"), figure("dropped")) << *result;
  // The first attempt comes 400-600 ms after the drop; within 30 s for certain.
  EXPECT_GT(figure("back_s"), 0.3) << *result;
  EXPECT_LT(figure("back_s"), 30) << *result;
  bool storm_line = false, back_line = false;
  for (const std::string& l : (*run)->lines()) {
    storm_line = storm_line || l == "STORM";
    back_line = back_line || l == "BACK";
  }
  EXPECT_TRUE(storm_line && back_line);
  EXPECT_NE(readFile(out + "/storm.log").find("storming"), std::string::npos);
  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("\"connected\":200"), std::string::npos) << json;
  EXPECT_NE(json.find("\"storm-command\""), std::string::npos) << json;
}

// A storm command that drops nothing (or fails) is a run that did not pass, and says why.
TEST_F(LoadtesterE2eTest, ReconnectStormSaysWhenTheCommandDroppedNothing) {
  const std::string out = cluster_->dir() + "/calm-report";
  auto argv = command("reconnect-storm", cluster_->roomTcp(), out);
  argv.insert(argv.end(), {"--connections", "20", "--seconds", "2", "--storm-command", "exit 3"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  auto result = (*run)->waitForLine("RESULT loadtest_reconnect_storm", 60s);
  ASSERT_TRUE(result.isOk()) << result.status();
  EXPECT_EQ((*run)->wait(30s), 1) << *result;
  EXPECT_NE(result->find(" dropped=0 "), std::string::npos) << *result;
  EXPECT_NE(result->find(" passed=0"), std::string::npos) << *result;
  const std::string json = readFile(out + "/report.json");
  EXPECT_NE(json.find("the storm command exited with status 3"), std::string::npos) << json;
  EXPECT_NE(json.find("the storm command dropped no connection within 2 s"), std::string::npos)
      << json;
}

TEST_F(LoadtesterE2eTest, RefusesMoreConnectionsThanItsSourcesHavePorts) {
  auto argv = command("connect", cluster_->roomTcp(), cluster_->dir() + "/never");
  argv.insert(argv.end(), {"--connections", "200000", "--sources", "127.0.0.2"});
  auto run = Subprocess::start(argv);
  ASSERT_TRUE(run.isOk()) << run.status();
  EXPECT_EQ((*run)->wait(10s), 2);
  EXPECT_NE(::access((cluster_->dir() + "/never").c_str(), F_OK), 0);  // nothing started
}

}  // namespace
}  // namespace push::testing
