#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/http_request.h"
#include "common/http/http_response.h"

namespace push::http {

// The one-shot reply channel of one request (docs/CONVENTIONS.md §9: completion runs exactly once).
//
// A handler gets it by value and either answers at once or moves it into an async
// continuation and answers later. It also owns the HttpRequest: the `req` a handler received
// stays valid exactly as long as this object (wherever it was moved) exists.
//
//   router.add("GET", "/v1/slow", [&loop](HttpRequest& req, HttpResponder responder) {
//     startLookup(req.query("user"), [r = std::move(responder)](Result<User> user) mutable {
//       if (!user.isOk()) return respondStatus(r, user.status());
//       r.respond(200, user->name());
//     });
//   });
//
// Guarantees:
// - The first respond*() call sends; later calls are ignored (and logged, rate-limited).
// - Destroyed without an answer (dropped by the handler, or by an exception unwinding through
//   it), it answers 500 {"error":"handler did not respond"}.
// - If the connection closed meanwhile (or the server was closed), answering is a harmless
//   no-op: the responder holds the connection's id and looks it up, never a pointer.
//
// Threading: use it on the loop thread of the server that created it; other threads post to
// that loop first. Move-only.
class HttpResponder {
 public:
  // Runs when the response is produced, before it is sent, with the request and the response
  // (which it may still change, e.g. add a header). Hooks run in reverse order of
  // registration, like unwinding; they run also when the connection is already gone.
  using CompletionHook = std::function<void(const HttpRequest&, HttpResponse&)>;
  // Takes the final response. The server's delivers it to the connection in pipeline order.
  using DeliverFn = std::function<void(HttpResponse&&)>;

  // An empty responder: responded() is true and every call is a no-op.
  HttpResponder();
  // Owns `request`; `deliver` is called once with the response. Servers use this; so can
  // tests that call a handler directly and inspect what it answers.
  HttpResponder(HttpRequest&& request, DeliverFn deliver);
  ~HttpResponder();
  HttpResponder(HttpResponder&& other) noexcept;
  HttpResponder& operator=(HttpResponder&& other) noexcept;
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;

  // The request being answered. Must not be called on an empty (moved-from) responder.
  HttpRequest& request() const;

  void respond(HttpResponse&& response);
  void respond(int status, std::string body,
               std::string content_type = "text/plain; charset=utf-8");
  // The error shape: {"error":"<message>"}.
  void respondError(int status, std::string_view message);

  // True once answered, and for an empty responder.
  bool responded() const;
  // See CompletionHook. No-op on an empty or answered responder.
  void onComplete(CompletionHook hook);

 private:
  struct Exchange;
  std::unique_ptr<Exchange> exchange_;
};

}  // namespace push::http
