#pragma once

#include <string>
#include <vector>

#include "common/base/command_line.h"
#include "common/base/result.h"
#include "common/net/inet_address.h"

namespace push::loadtester {

// push-loadtest's command line (main.cc): the scenario, then its flags, parsed and checked
// against each other (a flag of another scenario, a missing one, a value out of range: an
// error saying which).
struct RunFlags {
  std::string scenario;
  bool hold = false, storm = false, unicast = false, broadcast = false, upstream = false;
  // A sending process after the ramp: unicast's sender or broadcast's publisher.
  bool traffic = false;
  // A storm in the run: the reconnect-storm scenario, or one during unicast's sending.
  bool storming = false;
  std::string target_flag;  // "server" or "dispatcher": where the workers' clients go
  long long connections = 0, seconds = 0, per_worker = 0, first_user = 0, max_seconds = 0;
  long long heartbeat = 0, connect_rate = 0;
  long long input_gather_us = 0;  // the workers' --input-gather-us
  std::vector<net::InetAddress> sources;
  // unicast / broadcast / upstream: messages a second, HTTP connections to center, requests in
  // flight per connection, payload bytes, pushes per request, broadcasts, their qos; and when
  // a unicast storm runs.
  long long rate = 0, http = 0, depth = 0, payload = 0, batch = 0, count = 0, qos = 0;
  long long storm_after = 0;
};

// "connect: ..." for the usage text.
extern const char kScenarioSummary[];
bool knownScenario(const std::string& scenario);
// Declares every flag of every scenario on `cl`.
void defineFlags(CommandLine& cl);
// The flags of `scenario` from a parsed `cl`.
Result<RunFlags> readFlags(const CommandLine& cl, const std::string& scenario);

}  // namespace push::loadtester
