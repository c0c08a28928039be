#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "net/http/types.hpp"

namespace shoal::http {

/// Maps method + path to a handler. Patterns are `/`-separated segments;
/// `{name}` captures one segment, `{name...}` (last only) captures the rest
/// of the path including slashes. Captures are percent-decoded. Built once
/// at start-up, read concurrently afterwards.
class router {
public:
  struct route {
    method verb;
    std::string pattern;
    std::vector<std::string> segments;
    handler on_request;
    ws_factory on_upgrade; // set for WebSocket routes
  };

  enum class outcome { found, method_not_allowed, not_found };

  struct match_result {
    outcome result = outcome::not_found;
    const route* matched = nullptr;
    std::map<std::string, std::string> params;
    /// For 405: the methods the path does accept.
    std::vector<method> allowed;
  };

  /// Registers a handler. Throws `std::invalid_argument` on a malformed
  /// pattern or a duplicate method + pattern (a start-up bug).
  void add(method verb, std::string pattern, handler h);

  /// Registers a WebSocket route (GET with Upgrade).
  void add_ws(std::string pattern, ws_factory f);

  /// Finds the route for a raw (still percent-encoded) path.
  match_result match(method verb, std::string_view path) const;

  const std::vector<route>& routes() const {
    return routes_;
  }

private:
  route& add_route(method verb, std::string pattern);
  std::vector<route> routes_;
};

} // namespace shoal::http
