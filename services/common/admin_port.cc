#include "services/common/admin_port.h"

#include <string>
#include <utility>

#include "common/http/router.h"

namespace push::service {

Result<http::HttpServerPtr> startAdmin(net::EventLoop& loop,
                                       const http::HttpServer::Options& options,
                                       http::AdminInfo info) {
  if (options.address.empty()) return http::HttpServerPtr();
  http::Router router;
  http::mountAdmin(router, std::move(info));
  return http::HttpServer::listen(loop, options, std::move(router));
}

Result<http::HttpServerPtr> startAdmin(net::EventLoop& loop, std::string_view address,
                                       http::AdminInfo info) {
  http::HttpServer::Options options;
  options.address = std::string(address);
  return startAdmin(loop, options, std::move(info));
}

}  // namespace push::service
