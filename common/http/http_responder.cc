#include "common/http/http_responder.h"

#include <cassert>
#include <utility>
#include <vector>

#include "common/base/log.h"

namespace push::http {

struct HttpResponder::Exchange {
  HttpRequest request;
  DeliverFn deliver;
  std::vector<CompletionHook> hooks;
  bool responded = false;
};

HttpResponder::HttpResponder() = default;

HttpResponder::HttpResponder(HttpRequest&& request, DeliverFn deliver)
    : exchange_(std::make_unique<Exchange>()) {
  exchange_->request = std::move(request);
  exchange_->deliver = std::move(deliver);
}

HttpResponder::~HttpResponder() {
  if (exchange_ && !exchange_->responded) {
    respondError(500, "handler did not respond");
  }
}

HttpResponder::HttpResponder(HttpResponder&& other) noexcept = default;

HttpResponder& HttpResponder::operator=(HttpResponder&& other) noexcept {
  if (this != &other) {
    // The exchange being replaced still gets its answer (exactly once).
    HttpResponder old(std::move(*this));
    exchange_ = std::move(other.exchange_);
  }
  return *this;
}

HttpRequest& HttpResponder::request() const {
  assert(exchange_ && "request() on an empty HttpResponder");
  return exchange_->request;
}

bool HttpResponder::responded() const {
  return !exchange_ || exchange_->responded;
}

void HttpResponder::onComplete(CompletionHook hook) {
  if (responded() || !hook) return;
  exchange_->hooks.push_back(std::move(hook));
}

void HttpResponder::respond(HttpResponse&& response) {
  if (!exchange_) return;
  if (exchange_->responded) {
    LOG_EVERY_SEC(Warn, Http, 1, "[C{}] {} {} answered twice; second answer ignored",
                  exchange_->request.connectionId(), exchange_->request.method(),
                  exchange_->request.path());
    return;
  }
  exchange_->responded = true;
  // Hooks may not add hooks (responded() is already true), so iterating is safe.
  for (auto it = exchange_->hooks.rbegin(); it != exchange_->hooks.rend(); ++it) {
    (*it)(exchange_->request, response);
  }
  exchange_->hooks.clear();
  DeliverFn deliver = std::move(exchange_->deliver);
  if (deliver) deliver(std::move(response));
}

void HttpResponder::respond(int status, std::string body, std::string content_type) {
  HttpResponse response(status);
  response.setBody(std::move(body), std::move(content_type));
  respond(std::move(response));
}

void HttpResponder::respondError(int status, std::string_view message) {
  respond(HttpResponse::error(status, message));
}

}  // namespace push::http
