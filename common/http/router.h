#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/http/http_request.h"
#include "common/http/http_responder.h"
#include "common/http/http_response.h"

namespace push::http {

// A request handler: answer through `responder` now, or move it somewhere and answer later.
// `req` lives as long as the responder does (http_responder.h).
using HttpHandler = std::function<void(HttpRequest& req, HttpResponder responder)>;

// Maps (method, path) to handlers. Patterns are '/'-separated segments, each either literal
// or a parameter "{name}" that matches one non-empty segment:
//
//   router.add("GET", "/v1/apps/{app}/users/{user}", getUser);   // req.pathParam("user")
//   router.add("GET", "/v1/apps/{app}/users/me", getMe);         // literal beats {user}
//
// Matching works on the percent-decoded segments of the request path, so "%2F" inside a
// segment is part of a parameter value, not a separator. A literal segment beats a parameter
// at the same position; if the literal branch does not lead to a route, the parameter branch
// is tried. Trailing slashes are significant ("/a/" is not "/a").
//
// Answers when nothing fits: 404 {"error":"not found"} when no pattern matches the path; 405
// with an "Allow" header listing the methods of the matching patterns when the path matches
// but not the method. HEAD is served by the GET handler when no HEAD route exists (the
// server drops the body).
//
// setMissResponse() replaces both answers (a service that must answer like another server, as
// queued answers like nsqd).
//
// Build it before the server starts, then hand it over (HttpServer::listen) or keep using it
// only from the server's loop thread. Move-only.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Registers `handler`. INVALID_ARGUMENT for a method that is not an upper-case token, a
  // pattern not starting with '/', a bad or repeated parameter name, or braces inside a
  // literal segment; ALREADY_EXISTS when the same method and pattern shape (parameter names
  // aside) is already registered.
  Status add(std::string_view method, std::string_view pattern, HttpHandler handler);

  struct Match {
    enum class Kind { Found, NotFound, MethodNotAllowed };
    Kind kind = Kind::NotFound;
    const HttpHandler* handler = nullptr;    // Found: valid while the Router lives
    std::vector<HttpRequest::Param> params;  // Found: decoded values by name
    std::string allow;                       // MethodNotAllowed: "GET, HEAD, POST"
  };
  // Looks up `raw_path` (still percent-encoded, without query). A segment with a bad escape
  // matches nothing.
  Match match(std::string_view method, std::string_view raw_path) const;

  // Routes `req`: sets its path parameters and calls the handler, or answers 404 / 405.
  void handle(HttpRequest& req, HttpResponder responder) const;

  // Number of (method, pattern) routes.
  size_t size() const { return size_; }

  // Builds the answer to a request no route takes: status 404, or 405 with `allow` listing the
  // methods the path has (the router adds the Allow header itself).
  using MissResponse = std::function<HttpResponse(int status, std::string_view allow)>;
  void setMissResponse(MissResponse miss) { miss_ = std::move(miss); }

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  size_t size_ = 0;
  MissResponse miss_;  // empty: the JSON {"error"} answers above
};

}  // namespace push::http
