#include "tests/support/mariadb_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/nsq_daemon.h"

namespace push::testing {

namespace {

std::string findBinary(const char* env, std::initializer_list<const char*> paths) {
  std::vector<std::string> candidates;
  if (const char* value = std::getenv(env)) candidates.emplace_back(value);
  for (const char* path : paths)
    candidates.emplace_back(path);
  for (const std::string& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

std::string mariadbdPath() {
  return findBinary("MARIADBD_BIN",
                    {"/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/bin/mariadbd"});
}
std::string installDbPath() {
  return findBinary("MARIADB_INSTALL_DB_BIN",
                    {"/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"});
}
std::string clientPath() {
  return findBinary("MARIADB_CLIENT_BIN", {"/usr/bin/mariadb", "/usr/bin/mysql"});
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs `command` with /bin/sh (for redirections) and waits; the exit code, or -1.
int runShell(const std::string& command, std::chrono::milliseconds timeout) {
  auto child = Subprocess::start({"/bin/sh", "-c", command});
  if (!child.isOk()) return -1;
  return (*child)->wait(timeout);
}

// Options both mariadb-install-db's bootstrap and the server take: small InnoDB files and
// buffers, so the data directory is ~20 MB and the server starts in about a second.
const std::vector<std::string> kSmallServer = {
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=4M",
    "--skip-log-bin",
    "--skip-name-resolve",
};

}  // namespace

bool MariaDbServer::available() {
  return !mariadbdPath().empty() && !installDbPath().empty() && !clientPath().empty();
}

Result<std::unique_ptr<MariaDbServer>> MariaDbServer::start() {
  std::unique_ptr<MariaDbServer> server(new MariaDbServer());
  server->mariadbd_ = mariadbdPath();
  server->install_db_ = installDbPath();
  server->client_ = clientPath();
  if (server->mariadbd_.empty()) return notFound("mariadbd not found");
  if (server->install_db_.empty()) return notFound("mariadb-install-db not found");
  if (server->client_.empty()) return notFound("mariadb client not found");
  char pattern[] = "/tmp/mariadb-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return internalError("mkdtemp failed");
  server->dir_ = pattern;
  server->data_dir_ = server->dir_ + "/data";
  server->socket_ = server->dir_ + "/mysqld.sock";
  server->port_ = freeLoopbackPort();

  RETURN_IF_ERROR(server->makeDataDir());
  RETURN_IF_ERROR(server->launch());

  // One account for the code under test, reachable over TCP (127.0.0.1) and the socket
  // (localhost), with a password, as in production.
  const std::string& u = server->user_;
  const std::string& p = server->password_;
  const std::string& d = server->database_;
  auto setup = server->rootQuery(
      "CREATE DATABASE IF NOT EXISTS `" + d + "`;\n" + "CREATE USER IF NOT EXISTS '" + u +
      "'@'127.0.0.1' IDENTIFIED BY '" + p + "';\n" + "CREATE USER IF NOT EXISTS '" + u +
      "'@'localhost' IDENTIFIED BY '" + p + "';\n" + "GRANT ALL PRIVILEGES ON `" + d + "`.* TO '" +
      u + "'@'127.0.0.1';\n" + "GRANT ALL PRIVILEGES ON `" + d + "`.* TO '" + u +
      "'@'localhost';\n");
  if (!setup.isOk()) return setup.status().withContext("creating the test database and user");
  return server;
}

Status MariaDbServer::installInto(const std::string& data_dir, const std::string& log) const {
  std::string install = install_db_ + " --no-defaults --datadir=" + data_dir +
                        " --auth-root-authentication-method=normal --skip-test-db";
  if (::geteuid() == 0) install += " --user=root";
  for (const std::string& flag : kSmallServer)
    install += " " + flag;
  install += " > " + log + " 2>&1";
  int rc = runShell(install, std::chrono::seconds(120));
  if (rc != 0) {
    return unavailable("mariadb-install-db exited " + std::to_string(rc) + ": " + readFile(log));
  }
  return Status::ok();
}

Status MariaDbServer::makeDataDir() {
  // mariadb-install-db takes seconds; copying its result takes milliseconds. Under ctest
  // (PUSH_BIN_DIR set) one pristine data directory is kept in the build tree and copied.
  const char* bin_dir = std::getenv("PUSH_BIN_DIR");
  if (bin_dir == nullptr || std::getenv("MARIADB_NO_TEMPLATE") != nullptr) {
    return installInto(data_dir_, dir_ + "/install.log");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(bin_dir, ec);
  const std::string templ = std::string(bin_dir) + "/../mariadb-test-template";
  int lock_fd = ::open((templ + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd < 0) return installInto(data_dir_, dir_ + "/install.log");
  ::flock(lock_fd, LOCK_EX);  // several test binaries may start at once (ctest -j)
  Status status = Status::ok();
  if (!fs::exists(templ + "/mysql", ec)) {
    const std::string building = templ + ".tmp";
    fs::remove_all(building, ec);
    status = installInto(building, dir_ + "/install.log");
    if (status.isOk()) {
      fs::remove_all(templ, ec);
      fs::rename(building, templ, ec);
      if (ec) status = internalError("renaming " + building + ": " + ec.message());
    }
  }
  if (status.isOk()) {
    fs::copy(templ, data_dir_, fs::copy_options::recursive, ec);
    if (ec) status = internalError("copying " + templ + ": " + ec.message());
  }
  ::flock(lock_fd, LOCK_UN);
  ::close(lock_fd);
  return status;
}

Status MariaDbServer::launch() {
  std::vector<std::string> argv = {
      mariadbd_, "--no-defaults", "--datadir=" + data_dir_, "--port=" + std::to_string(port_),
      "--bind-address=127.0.0.1", "--socket=" + socket_, "--skip-networking=0",
      "--pid-file=" + dir_ + "/mysqld.pid", "--log-error=" + dir_ + "/error.log",
      "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--performance-schema=OFF",
      // Fits the default file limit (no warning at start).
      "--table-open-cache=256", "--max-connections=200"};
  for (const std::string& flag : kSmallServer)
    argv.push_back(flag);
  if (::geteuid() == 0) argv.push_back("--user=root");
  ASSIGN_OR_RETURN(process_, Subprocess::start(argv));
  // The port accepts only once InnoDB is up and the grant tables are loaded: mariadbd
  // creates its listening sockets just before "ready for connections".
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (loopbackPortAccepts(port_)) return Status::ok();
    if (!process_->running()) {
      process_.reset();
      return unavailable("mariadbd exited at start: " + errorLogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  return Status(Code::TIMEOUT, "mariadbd did not listen within 60 s: " + errorLogTail());
}

Result<std::string> MariaDbServer::rootQuery(const std::string& statements) {
  if (!process_) return unavailable("mariadbd is stopped");
  const std::string in = dir_ + "/query.sql";
  const std::string out = dir_ + "/query.out";
  {
    std::ofstream file(in, std::ios::binary | std::ios::trunc);
    file << statements;
  }
  int rc = runShell(client_ + " --no-defaults --user=root --socket=" + socket_ +
                        " --batch --skip-column-names < " + in + " > " + out + " 2>&1",
                    std::chrono::seconds(60));
  std::string output = readFile(out);
  if (rc != 0) {
    return Status(Code::FAILED_PRECONDITION,
                  "mariadb client exited " + std::to_string(rc) + ": " + output);
  }
  return output;
}

void MariaDbServer::stop(bool kill) {
  if (!process_) return;
  process_->sendSignal(kill ? SIGKILL : SIGTERM);
  process_->wait(std::chrono::seconds(30));
  process_.reset();
}

std::string MariaDbServer::errorLogTail() const {
  std::string log = readFile(dir_ + "/error.log");
  if (log.size() > 2000) log = log.substr(log.size() - 2000);
  return log;
}

MariaDbServer::~MariaDbServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

}  // namespace push::testing
