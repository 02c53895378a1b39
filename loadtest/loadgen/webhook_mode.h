#pragma once

// push-load webhook: the app webhook of push-loadtest's upstream scenario (main.cc dispatches).
//   push-load webhook --listen H:P [--user-prefix u] [--stats] [--max-seconds S]
// Serves POST /upstream on H:P (the coordinator's upstream_url for the app), counts each item
// in an UpstreamHookTally and answers 200 {"ok":true}; any other path is 404. Prints
// "HTTP_ADDRESS <host:port>" once listening and, with --stats, a line a second (and one at
// the end): "HOOK received= unique= duplicates= unreadable= untracked= cpu_ms=", cumulative.
// SIGUSR1 is ignored (push-loadtest signals every process it started when the sending
// begins); SIGTERM/SIGINT stop it (exit 0).
namespace push::loadgen {

int webhookMode(int argc, char** argv);

}  // namespace push::loadgen
