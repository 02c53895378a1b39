#include "common/http/router.h"

#include <algorithm>
#include <map>
#include <optional>

namespace push::http {
namespace {

// "/a/b/" -> {"a", "b", ""}; "/" and "" -> {}.
std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool isParamName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool isMethodToken(std::string_view method) {
  if (method.empty()) return false;
  for (char c : method) {
    if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

struct Router::Node {
  struct Route {
    std::string method;
    std::vector<std::string> param_names;  // in path order
    HttpHandler handler;
  };
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::vector<Route> routes;

  const Route* find(std::string_view method) const {
    for (const auto& r : routes) {
      if (r.method == method) return &r;
    }
    return nullptr;
  }
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Status Router::add(std::string_view method, std::string_view pattern, HttpHandler handler) {
  if (!isMethodToken(method)) {
    return invalidArgument("route method '" + std::string(method) + "' is not an upper-case token");
  }
  if (pattern.empty() || pattern.front() != '/') {
    return invalidArgument("route pattern '" + std::string(pattern) + "' must start with '/'");
  }
  if (!handler) return invalidArgument("route " + std::string(pattern) + " has no handler");
  if (!root_) root_ = std::make_unique<Node>();  // moved-from Router used again
  Node* node = root_.get();
  std::vector<std::string> names;
  for (std::string_view seg : splitPath(pattern)) {
    if (!seg.empty() && seg.front() == '{') {
      if (seg.back() != '}' || !isParamName(seg.substr(1, seg.size() - 2))) {
        return invalidArgument("route pattern '" + std::string(pattern) +
                               "': bad parameter segment '" + std::string(seg) + "'");
      }
      std::string name(seg.substr(1, seg.size() - 2));
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        return invalidArgument("route pattern '" + std::string(pattern) + "': parameter '" + name +
                               "' appears twice");
      }
      names.push_back(std::move(name));
      if (!node->param) node->param = std::make_unique<Node>();
      node = node->param.get();
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        return invalidArgument("route pattern '" + std::string(pattern) +
                               "': braces inside literal segment '" + std::string(seg) + "'");
      }
      auto it = node->literals.find(seg);
      if (it == node->literals.end()) {
        it = node->literals.emplace(std::string(seg), std::make_unique<Node>()).first;
      }
      node = it->second.get();
    }
  }
  if (node->find(method)) {
    return Status(Code::ALREADY_EXISTS,
                  "route " + std::string(method) + " " + std::string(pattern) + " already exists");
  }
  node->routes.push_back(Node::Route{std::string(method), std::move(names), std::move(handler)});
  ++size_;
  return Status::ok();
}

Router::Match Router::match(std::string_view method, std::string_view raw_path) const {
  Match result;
  if (!root_) return result;
  std::vector<std::string> decoded;
  for (std::string_view seg : splitPath(raw_path)) {
    std::optional<std::string> d = percentDecode(seg, /*plus_is_space=*/false);
    if (!d) return result;  // NotFound
    decoded.push_back(std::move(*d));
  }

  // Depth-first over the trie, literal before parameter; stops at the first node that has
  // the method. Depth is bounded by the longest pattern, and each node tries two branches.
  struct Search {
    std::string_view method;
    const std::vector<std::string>& segments;
    std::vector<size_t> param_positions;  // segment index of each parameter on the path
    const Node::Route* found = nullptr;
    std::vector<std::string> allowed;  // methods of every node matching the path

    bool visit(const Node* node, size_t i) {
      if (i == segments.size()) {
        if (node->routes.empty()) return false;
        found = node->find(method);
        if (!found && method == "HEAD") found = node->find("GET");
        if (found) return true;
        for (const auto& r : node->routes) {
          allowed.push_back(r.method);
          if (r.method == "GET") allowed.push_back("HEAD");
        }
        return false;
      }
      auto it = node->literals.find(segments[i]);
      if (it != node->literals.end() && visit(it->second.get(), i + 1)) return true;
      if (node->param && !segments[i].empty()) {
        param_positions.push_back(i);
        if (visit(node->param.get(), i + 1)) return true;
        param_positions.pop_back();
      }
      return false;
    }
  };
  Search search{method, decoded, {}, nullptr, {}};

  if (search.visit(root_.get(), 0)) {
    result.kind = Match::Kind::Found;
    result.handler = &search.found->handler;
    const auto& names = search.found->param_names;
    for (size_t k = 0; k < names.size() && k < search.param_positions.size(); ++k) {
      result.params.emplace_back(names[k], std::move(decoded[search.param_positions[k]]));
    }
    return result;
  }
  if (!search.allowed.empty()) {
    std::sort(search.allowed.begin(), search.allowed.end());
    search.allowed.erase(std::unique(search.allowed.begin(), search.allowed.end()),
                         search.allowed.end());
    result.kind = Match::Kind::MethodNotAllowed;
    for (const auto& m : search.allowed) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += m;
    }
  }
  return result;
}

void Router::handle(HttpRequest& req, HttpResponder responder) const {
  Match m = match(req.method(), req.rawPath());
  switch (m.kind) {
    case Match::Kind::Found:
      req.setPathParams(std::move(m.params));
      (*m.handler)(req, std::move(responder));
      return;
    case Match::Kind::MethodNotAllowed: {
      HttpResponse response =
          miss_ ? miss_(405, m.allow) : HttpResponse::error(405, "method not allowed");
      response.setHeader("Allow", std::move(m.allow));
      responder.respond(std::move(response));
      return;
    }
    case Match::Kind::NotFound:
      if (miss_) {
        responder.respond(miss_(404, {}));
        return;
      }
      responder.respondError(404, "not found");
      return;
  }
}

}  // namespace push::http
