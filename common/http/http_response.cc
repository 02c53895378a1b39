#include "common/http/http_response.h"

#include <algorithm>
#include <charconv>

#include "common/base/json_writer.h"
#include "common/base/log.h"
#include "common/http/http_request.h"

namespace push::http {
namespace {

bool validHeader(std::string_view name, std::string_view value) {
  if (!isHttpToken(name)) return false;
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Headers the server writes itself.
bool isFramingHeader(std::string_view name) {
  return equalsIgnoreCase(name, "Content-Length") || equalsIgnoreCase(name, "Transfer-Encoding") ||
         equalsIgnoreCase(name, "Connection");
}

}  // namespace

std::string jsonEscape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 8);
  appendJsonEscaped(&out, in);
  return out;
}

HttpResponse HttpResponse::text(int status, std::string body) {
  HttpResponse r(status);
  r.setBody(std::move(body), "text/plain; charset=utf-8");
  return r;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r(status);
  r.setBody(std::move(body), "application/json");
  return r;
}

HttpResponse HttpResponse::error(int status, std::string_view message) {
  JsonWriter w(message.size() + 16);
  w.beginObject().key("error").string(message).endObject();
  return json(status, w.take());
}

void HttpResponse::setHeader(std::string_view name, std::string value) {
  removeHeader(name);
  headers_.emplace_back(std::string(name), std::move(value));
}

void HttpResponse::addHeader(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
}

void HttpResponse::removeHeader(std::string_view name) {
  headers_.erase(
      std::remove_if(headers_.begin(), headers_.end(),
                     [name](const Header& h) { return equalsIgnoreCase(h.first, name); }),
      headers_.end());
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers_) {
    if (equalsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void HttpResponse::setBody(std::string body, std::string content_type) {
  body_ = std::move(body);
  setHeader("Content-Type", std::move(content_type));
}

bool HttpResponse::wantsClose() const {
  for (const auto& [key, value] : headers_) {
    if (!equalsIgnoreCase(key, "Connection")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view token = rest.substr(0, comma);
      while (!token.empty() && token.front() == ' ')
        token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ')
        token.remove_suffix(1);
      if (equalsIgnoreCase(token, "close")) return true;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return false;
}

void HttpResponse::serializeTo(std::string* out, bool head, bool close,
                               bool keep_alive_header) const {
  int status = status_;
  if (status < 200 || status > 599) {
    LOG_EVERY_SEC(Warn, Http, 1, "handler answered with invalid status {}; sending 500", status);
    status = 500;
  }
  const bool no_body = status == 204 || status == 304;
  const std::string_view reason = reasonPhrase(status);
  char number[24];
  out->reserve(out->size() + 128 + body_.size());
  out->append("HTTP/1.1 ");
  out->append(number, std::to_chars(number, number + sizeof number, status).ptr);
  out->push_back(' ');
  out->append(reason);
  out->append("\r\n");
  for (const auto& [name, value] : headers_) {
    if (isFramingHeader(name)) continue;
    if (!validHeader(name, value)) {
      LOG_EVERY_SEC(Warn, Http, 1, "dropping response header with invalid characters");
      continue;
    }
    out->append(name);
    out->append(": ");
    out->append(value);
    out->append("\r\n");
  }
  if (!no_body) {
    out->append("Content-Length: ");
    out->append(number, std::to_chars(number, number + sizeof number, body_.size()).ptr);
    out->append("\r\n");
  }
  if (close) {
    out->append("Connection: close\r\n");
  } else if (keep_alive_header) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
  if (!head && !no_body) out->append(body_);
}

std::string_view HttpResponse::reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace push::http
