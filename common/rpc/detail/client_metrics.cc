#include "common/rpc/detail/client_metrics.h"

#include <string>

namespace push::rpc::detail {

ClientMetrics::ClientMetrics() {
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i] = &metrics::Registry::global().counter(
        "push_rpc_client_calls_total", "Client calls completed, by status code.",
        "code=\"" + std::string(codeName(static_cast<Code>(i))) + "\"");
  }
}

void ClientMetrics::count(Code code, uint64_t n) {
  size_t i = static_cast<size_t>(code);
  calls[i < calls.size() ? i : static_cast<size_t>(Code::INTERNAL)]->inc(n);
}

ClientMetrics& clientMetrics() {
  static ClientMetrics* m = new ClientMetrics();
  return *m;
}

}  // namespace push::rpc::detail
