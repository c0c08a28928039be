#include "net/http/target.hpp"

namespace shoal::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

constexpr size_t max_query_params = 64;

} // namespace

result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return fail(errc::invalid_argument, "truncated percent-escape");
      }
      auto hi = hex_value(text[i + 1]);
      auto lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return fail(errc::invalid_argument, "invalid percent-escape");
      }
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

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (auto ch : text) {
    auto c = static_cast<unsigned char>(ch);
    auto unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                      || (c >= '0' && c <= '9') || c == '-' || c == '.'
                      || c == '_' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

result<parsed_target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return fail(errc::invalid_argument, "request target must start with '/'");
  }
  for (auto ch : target) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      return fail(errc::invalid_argument,
                  "request target contains a control or non-ASCII byte");
    }
  }
  parsed_target out;
  auto qmark = target.find('?');
  auto path = target.substr(0, qmark);
  // Fragments are never sent by clients; refuse rather than misroute.
  if (path.find('#') != std::string_view::npos) {
    return fail(errc::invalid_argument, "request target contains '#'");
  }
  // Validate the escapes of the path once here so that routes can decode
  // their parameters without failing.
  if (auto ok = percent_decode(path, false); !ok) {
    return std::move(ok).err();
  }
  out.path = std::string{path};
  if (qmark == std::string_view::npos) {
    return out;
  }
  auto query = target.substr(qmark + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (part.empty()) {
      continue;
    }
    if (out.query.size() == max_query_params) {
      return fail(errc::invalid_argument, "too many query parameters");
    }
    auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    if (!name) {
      return std::move(name).err();
    }
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percent_decode(part.substr(eq + 1), true);
      if (!v) {
        return std::move(v).err();
      }
      value = std::move(*v);
    }
    out.query.emplace_back(std::move(*name), std::move(value));
  }
  return out;
}

} // namespace shoal::http
