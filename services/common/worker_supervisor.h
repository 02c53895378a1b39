#pragma once

// Runs one service as N forked worker processes that share listening ports (SO_REUSEPORT):
// a stateless tier (center) or independent instances (room) use every core without threads.

#include <functional>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace push::service {

// Resolves port 0 of `address` once, so every worker binds the same port: binds a socket
// with SO_REUSEPORT (not listening) and keeps its fd in `keep` for the life of the
// supervisor, so the port stays ours. Returns the address with the real port; an address
// with a port is returned as is.
Result<std::string> reservePort(const std::string& address, std::vector<int>* keep);

// "host:P" -> "host:P+by" (port 0 stays 0: each worker then picks its own free port).
std::string shiftPort(const std::string& address, int by);

// Forks `workers` children that each run `run_worker(index)` and exit with its result. The
// parent forwards SIGTERM/SIGINT to every worker, restarts a worker that exits on its own
// (after 1 s when it lived under 5 s; it gives up on a worker after 5 quick exits in a row),
// and returns 0 once every worker is gone after a signal, or 1 when every worker gave up.
// Workers get SIGTERM if the supervisor dies (PR_SET_PDEATHSIG). `name` prefixes its log
// lines. Call it from main before any thread or event loop exists.
int superviseWorkers(const std::string& name, int workers,
                     const std::function<int(int index)>& run_worker);

}  // namespace push::service
