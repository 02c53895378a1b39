#pragma once

// Request and response bodies through protobuf's JSON mapping (field names in lowerCamelCase
// on output; both lowerCamelCase and the .proto names accepted on input).
//
//   router.add("POST", "/v1/push", [](HttpRequest& req, HttpResponder r) {
//     PushRequest in;
//     if (Status st = parseJsonBody(req, &in); !st.isOk()) return r.respondError(400,
//     st.message()); PushReply out = ...; respondJson(r, 200, out);
//   });

#include "common/base/status.h"
#include "common/http/http_request.h"
#include "common/http/http_responder.h"

namespace google::protobuf {
class Message;
}

namespace push::http {

// Parses the request body as the JSON form of `out` (cleared first). Unknown fields are an
// error (typos in an operator request should not be silently ignored). INVALID_ARGUMENT with a
// message meant to be sent back as a 400, naming the message type and the problem:
//   "request body: expected JSON for push.EchoRequest, got an empty body"
//   "request body: invalid JSON for push.EchoRequest: <protobuf's reason>"
Status parseJsonBody(const HttpRequest& req, google::protobuf::Message* out);

// Answers `status` with the JSON form of `message` ("application/json"). If protobuf refuses
// to print it, answers 500 {"error":"response could not be encoded as JSON"} instead.
void respondJson(HttpResponder& responder, int status, const google::protobuf::Message& message);

// The HTTP status that fits a push::Code: INVALID_ARGUMENT/PROTOCOL_ERROR 400,
// UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS and
// FAILED_PRECONDITION 409, RATE_LIMITED 429, INTERNAL 500, UNAVAILABLE/OVERLOADED/CANCELLED
// 503, TIMEOUT 504, OK 200.
int httpStatusFor(Code code);

// Answers a failed Status: httpStatusFor(code) with {"error":"<message>","code":"<CODE>"}.
void respondStatus(HttpResponder& responder, const Status& status);

}  // namespace push::http
