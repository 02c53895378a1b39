#pragma once

// Internal to common/http: one HTTP connection's parser state and in-order response queue.
// Included only by common/http/*.cc (it pulls in <llhttp.h>).

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_request.h"
#include "common/http/http_response.h"
#include "common/net/inet_address.h"

namespace push::net {
class TcpConnection;
}

namespace push::http {
class HttpServer;
}

namespace push::http::detail {

// Parses requests off one net::TcpConnection with llhttp and keeps the answers in order.
//
// Parsing: the llhttp callbacks build `request_`; on_message_complete returns HPE_PAUSED, so
// llhttp_execute() stops right after each request. onData() then hands the request to the
// server (middleware, router, handler) and resumes parsing the rest of the bytes, unless the
// connection must stop (Connection: close, an error) or too many answers are outstanding: it
// then stops reading and returns the bytes not parsed, which TcpConnection keeps and offers
// again after startReading().
//
// Ordering: every request gets a Slot (sequence number = position). Responses fill their
// slot whenever they come; flushSlots() sends the ready slots at the front, so pipelined
// answers leave in request order.
//
// Closing: every graceful close goes through beginClose(), which asks the server to arm the
// connection's close_linger_timeout; lingerExpired() then closes it hard if it is still open.
//
// Owned by HttpServer (created on accept, deleted in its onClosed). Loop-thread only.
class HttpConnection {
 public:
  // `peer` is conn.peerAddress(), read once by the server.
  HttpConnection(HttpServer& server, net::TcpConnection& conn, uint64_t id,
                 const net::InetAddress& peer);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  uint64_t id() const { return id_; }
  const net::InetAddress& peer() const { return peer_; }
  // Whether the server counted this connection against max_connections_per_ip.
  bool countedClient() const { return counted_client_; }
  void setCountedClient(bool counted) { counted_client_ = counted; }

  // TcpConnection::Handler::onData: returns the bytes consumed.
  size_t onData(const char* data, size_t len);
  // The peer sent FIN: answer what was received, then close.
  void onPeerShutdown();
  // The answer for request `seq`; ignored when that slot is gone or already answered.
  void deliver(uint64_t seq, HttpResponse&& response);
  // Idle check at `now_ms` (loop time). Closes the connection and returns 0 when it has been
  // idle too long; otherwise returns when to check again. 0 too once the connection is
  // closing (the linger deadline takes over).
  int64_t checkIdle(int64_t now_ms);
  // True when nothing is owed or arriving (no request waiting for its answer, none partly
  // received, no input kept) and nothing was received or answered for `quiet_ms` until
  // `now_ms`: closing it now loses nothing (a graceful stop closes such connections).
  bool quietFor(int64_t now_ms, int64_t quiet_ms) const;
  // Closes gracefully (FIN, then close_linger_timeout at most).
  void closeGracefully() { beginClose(); }
  // The close_linger_timeout armed by beginClose() passed: closes hard (and counts it) if the
  // graceful close has not finished.
  void lingerExpired();
  // Closes at once (server shutdown).
  void close();

 private:
  struct Slot {
    uint64_t seq;
    std::string bytes;  // the serialized response, once ready
    bool ready = false;
    bool keep_alive = true;          // the request allows more requests after it
    bool head = false;               // HEAD: no body on the wire
    bool keep_alive_header = false;  // HTTP/1.0 keep-alive: say so in the response
    bool close_after = false;        // close once this response is written
  };

  static const llhttp_settings_t& settings();
  static HttpConnection& self(llhttp_t* parser);
  static int onMessageBegin(llhttp_t* parser);
  static int onUrl(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderField(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* parser);
  static int onHeadersComplete(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* parser);

  // Counts bytes against max_header_bytes; false (and error 431 set) when over.
  bool addHeaderBytes(size_t len);
  int limitError(int status, const char* reason);
  // A complete request was parsed: give it a slot and dispatch it.
  void completeRequest();
  // Answers `status` after the outstanding requests, then closes; reads nothing more.
  void fail(int status, std::string_view message);
  void flushSlots();
  // Graceful close: write what is queued, FIN, wait for the client's FIN (TcpConnection's
  // closeAfterFlush), bounded by the server's close_linger_timeout. Idempotent.
  void beginClose();
  bool closing() const;

  HttpServer& server_;
  net::TcpConnection& conn_;  // valid until the server's onClosed for it
  const uint64_t id_;
  const net::InetAddress peer_;
  llhttp_t parser_;

  // The request being parsed.
  HttpRequest request_;
  std::string target_;
  std::string field_;
  std::string value_;
  size_t header_bytes_ = 0;
  bool headers_done_ = false;   // later header callbacks are trailers
  bool message_ready_ = false;  // on_message_complete paused the parser
  bool in_message_ = false;     // a request has begun and is not complete yet
  int error_status_ = 0;        // 413/431 found by a callback (else a parse error is 400)
  const char* error_message_ = "";

  std::vector<Slot> slots_;  // outstanding requests, oldest first; seq are consecutive
  uint64_t next_seq_ = 0;
  int64_t last_activity_ms_ = 0;
  bool stopped_ = false;        // parse nothing more; close after the last slot
  bool read_paused_ = false;    // stopReading() because max_pipelined slots are outstanding
  bool peer_shutdown_ = false;  // FIN received
  bool close_begun_ = false;    // beginClose() ran: the linger deadline is armed
  bool closed_hard_ = false;    // we called conn_.close() (timeout or server shutdown)
  bool counted_client_ = false;
};

}  // namespace push::http::detail
