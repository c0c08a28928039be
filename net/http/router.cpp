#include "net/http/router.hpp"

#include <stdexcept>

#include "net/http/target.hpp"

namespace shoal::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_capture(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

bool is_tail_capture(std::string_view seg) {
  return is_capture(seg) && seg.size() > 5
         && seg.substr(seg.size() - 4) == "...}";
}

std::string capture_name(std::string_view seg) {
  auto inner = seg.substr(1, seg.size() - 2);
  if (inner.size() > 3 && inner.substr(inner.size() - 3) == "...") {
    inner.remove_suffix(3);
  }
  return std::string{inner};
}

// Matches `path` against `r`; fills params on success.
bool matches(const router::route& r, const std::vector<std::string_view>& segs,
             std::map<std::string, std::string>& params) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < r.segments.size(); ++i) {
    const auto& pat = r.segments[i];
    if (is_tail_capture(pat)) {
      if (i >= segs.size()) {
        return false;
      }
      std::string rest;
      for (size_t j = i; j < segs.size(); ++j) {
        if (j > i) {
          rest += '/';
        }
        rest += segs[j];
      }
      if (rest.empty()) {
        return false;
      }
      auto decoded = percent_decode(rest, false);
      if (!decoded) {
        return false;
      }
      out[capture_name(pat)] = std::move(*decoded);
      params = std::move(out);
      return true;
    }
    if (i >= segs.size()) {
      return false;
    }
    if (is_capture(pat)) {
      if (segs[i].empty()) {
        return false;
      }
      auto decoded = percent_decode(segs[i], false);
      if (!decoded) {
        return false;
      }
      out[capture_name(pat)] = std::move(*decoded);
    } else if (pat != segs[i]) {
      return false;
    }
  }
  if (segs.size() != r.segments.size()) {
    return false;
  }
  params = std::move(out);
  return true;
}

} // namespace

router::route& router::add_route(method verb, std::string pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': "
                                + pattern);
  }
  route r{verb, pattern, {}, {}, {}};
  for (auto seg : split_path(pattern)) {
    r.segments.emplace_back(seg);
  }
  for (size_t i = 0; i + 1 < r.segments.size(); ++i) {
    if (is_tail_capture(r.segments[i])) {
      throw std::invalid_argument("{name...} must be last: " + pattern);
    }
  }
  for (const auto& existing : routes_) {
    if (existing.verb == verb && existing.pattern == pattern) {
      throw std::invalid_argument("duplicate route: " + pattern);
    }
  }
  routes_.push_back(std::move(r));
  return routes_.back();
}

void router::add(method verb, std::string pattern, handler h) {
  add_route(verb, std::move(pattern)).on_request = std::move(h);
}

void router::add_ws(std::string pattern, ws_factory f) {
  add_route(method::get, std::move(pattern)).on_upgrade = std::move(f);
}

router::match_result router::match(method verb, std::string_view path) const {
  match_result out;
  auto segs = split_path(path);
  // Exact literal routes win over captures: try routes without captures
  // first, then the rest, each in registration order.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& r : routes_) {
      auto literal = r.pattern.find('{') == std::string::npos;
      if (literal != (pass == 0)) {
        continue;
      }
      std::map<std::string, std::string> params;
      if (!matches(r, segs, params)) {
        continue;
      }
      auto head_as_get = verb == method::head && r.verb == method::get;
      if (r.verb == verb || head_as_get) {
        if (out.result != outcome::found) {
          out.result = outcome::found;
          out.matched = &r;
          out.params = std::move(params);
        }
      } else {
        out.allowed.push_back(r.verb);
      }
    }
  }
  if (out.result != outcome::found && !out.allowed.empty()) {
    out.result = outcome::method_not_allowed;
  }
  return out;
}

} // namespace shoal::http
