#include "common/http/json.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "common/base/json_writer.h"
#include "common/base/log.h"

namespace push::http {

Status parseJsonBody(const HttpRequest& req, google::protobuf::Message* out) {
  out->Clear();
  const std::string& type = out->GetDescriptor()->full_name();
  const std::string& body = req.body();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalidArgument("request body: expected JSON for " + type + ", got an empty body");
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(body, out, options);
  if (!st.ok()) {
    return invalidArgument("request body: invalid JSON for " + type + ": " +
                           std::string(st.message()));
  }
  return Status::ok();
}

void respondJson(HttpResponder& responder, int status, const google::protobuf::Message& message) {
  std::string json;
  auto st = google::protobuf::util::MessageToJsonString(message, &json,
                                                        google::protobuf::util::JsonPrintOptions());
  if (!st.ok()) {
    LOG_EVERY_SEC(Error, Http, 1, "cannot print {} as JSON: {}",
                  message.GetDescriptor()->full_name(), std::string(st.message()));
    responder.respondError(500, "response could not be encoded as JSON");
    return;
  }
  responder.respond(HttpResponse::json(status, std::move(json)));
}

int httpStatusFor(Code code) {
  switch (code) {
    case Code::OK:
      return 200;
    case Code::INVALID_ARGUMENT:
    case Code::PROTOCOL_ERROR:
      return 400;
    case Code::UNAUTHENTICATED:
      return 401;
    case Code::PERMISSION_DENIED:
      return 403;
    case Code::NOT_FOUND:
      return 404;
    case Code::ALREADY_EXISTS:
    case Code::FAILED_PRECONDITION:
      return 409;
    case Code::RATE_LIMITED:
      return 429;
    case Code::UNAVAILABLE:
    case Code::OVERLOADED:
    case Code::CANCELLED:
      return 503;
    case Code::TIMEOUT:
      return 504;
    case Code::INTERNAL:
    default:
      return 500;
  }
}

void respondStatus(HttpResponder& responder, const Status& status) {
  JsonWriter w(status.message().size() + 48);
  w.beginObject();
  w.key("error").string(status.message());
  w.key("code").string(codeName(status.code()));
  w.endObject();
  responder.respond(HttpResponse::json(httpStatusFor(status.code()), w.take()));
}

}  // namespace push::http
