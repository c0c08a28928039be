#include "net/http/types.hpp"

namespace shoal::http {

std::string_view to_string(method m) {
  switch (m) {
    case method::get:
      return "GET";
    case method::head:
      return "HEAD";
    case method::post:
      return "POST";
    case method::put:
      return "PUT";
    case method::del:
      return "DELETE";
    case method::patch:
      return "PATCH";
    case method::options:
      return "OPTIONS";
    case method::other:
      return "OTHER";
  }
  return "OTHER";
}

method method_from_string(std::string_view text) {
  for (auto m : {method::get, method::head, method::post, method::put,
                 method::del, method::patch, method::options}) {
    if (to_string(m) == text) {
      return m;
    }
  }
  return method::other;
}

std::string to_lower(std::string_view text) {
  std::string out{text};
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

const std::string* request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) {
      return &v;
    }
  }
  return nullptr;
}

const std::string* request::query_param(std::string_view name) const {
  const std::string* found = nullptr;
  for (const auto& [k, v] : query) {
    if (k == name) {
      found = &v;
    }
  }
  return found;
}

const std::string& request::param(const std::string& name) const {
  static const std::string empty;
  auto i = params.find(name);
  return i == params.end() ? empty : i->second;
}

} // namespace shoal::http
