#include "common/http/http_request.h"

namespace push::http {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string_view> findParam(const std::vector<HttpRequest::Param>& params,
                                          std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

bool isTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

bool isHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view HttpRequest::rawQuery() const {
  const size_t end = size_t{path_begin_} + path_len_;
  if (end >= target_.size() || target_[end] != '?') return {};
  return std::string_view(target_).substr(end + 1);
}

Status HttpRequest::setTarget(std::string target) {
  std::string_view t = target;
  size_t path_begin = 0;
  if (t == "*") {
    // "OPTIONS * HTTP/1.1": the server itself.
  } else if (!t.empty() && t.front() == '/') {
    // origin-form
  } else {
    // absolute-form "http://host:port/path?q": skip scheme and authority.
    size_t scheme_end = t.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) {
      return invalidArgument("request target must start with '/'");
    }
    size_t slash = t.find_first_of("/?", scheme_end + 3);
    if (slash == std::string_view::npos) {
      path_begin = t.size();  // "http://host": empty path means "/"
    } else {
      path_begin = slash;
    }
  }
  const size_t query_pos = t.find('?', path_begin);
  const size_t path_end = query_pos == std::string_view::npos ? t.size() : query_pos;
  std::string_view raw_path = t.substr(path_begin, path_end - path_begin);

  std::optional<std::string> path = percentDecode(raw_path, /*plus_is_space=*/false);
  if (!path) return invalidArgument("bad %-escape in request path");
  if (path->empty()) path->push_back('/');

  std::vector<Param> query;
  if (query_pos != std::string_view::npos) {
    std::string_view rest = t.substr(query_pos + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::optional<std::string> key = percentDecode(pair.substr(0, eq), true);
      std::optional<std::string> value = percentDecode(
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!key || !value) return invalidArgument("bad %-escape in query string");
      query.emplace_back(std::move(*key), std::move(*value));
    }
  }

  path_ = std::move(*path);
  query_ = std::move(query);
  path_begin_ = static_cast<uint32_t>(path_begin);
  path_len_ = static_cast<uint32_t>(raw_path.size());
  target_ = std::move(target);
  return Status::ok();
}

void HttpRequest::addHeader(std::string name, std::string value) {
  std::string_view trimmed = trimBlanks(value);
  if (trimmed.size() != value.size()) value = std::string(trimmed);
  headers_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers_) {
    if (equalsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> HttpRequest::query(std::string_view name) const {
  return findParam(query_, name);
}

std::optional<std::string_view> HttpRequest::pathParam(std::string_view name) const {
  return findParam(path_params_, name);
}

}  // namespace push::http
