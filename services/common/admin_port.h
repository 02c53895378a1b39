#pragma once

// The admin port every service serves (docs/ARCHITECTURE.md §2): /healthz, /metrics and /status on
// an HTTP server of their own, mounted the same way by every service through startAdmin().
//
//   ASSIGN_OR_RETURN(admin_, service::startAdmin(loop_, options_.admin_address,
//                                                {.health = [this] { return health(); },
//                                                 .status_json = [this] { return statusJson();
//                                                 }}));
//   if (admin_) admin_address_ = admin_->address();
//   ...
//   admin_.reset();   // in stop(): closes the server (also on destruction)

#include <string_view>

#include "common/base/result.h"
#include "common/http/admin.h"
#include "common/http/http_server.h"

namespace push::net {
class EventLoop;
}

namespace push::service {

// Listens on `options.address` and serves http::mountAdmin's routes (the AdminInfo callbacks
// run on the loop thread, for each request) with `options`' limits. Returns the owning handle:
// resetting or destroying it closes the server (open connections are dropped). An empty
// `options.address` means "no admin port": OK with a null handle. Errors as
// http::HttpServer::listen: INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it
// cannot be bound. Loop-thread only.
Result<http::HttpServerPtr> startAdmin(net::EventLoop& loop,
                                       const http::HttpServer::Options& options,
                                       http::AdminInfo info);

// The same with default http::HttpServer::Options at `address` ("host:port"; port 0 picks a
// free one, read it back from the server's address(); "" = no admin port).
Result<http::HttpServerPtr> startAdmin(net::EventLoop& loop, std::string_view address,
                                       http::AdminInfo info);

}  // namespace push::service
