#include "net/http/json.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace shoal::http {

std::string to_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

response json_response(unsigned status, const json& body) {
  response r;
  r.status = status;
  r.body = to_text(body);
  return r;
}

response json_text_response(unsigned status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

void json_writer::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_member_.empty()) {
    if (has_member_.back()) {
      out_ += ',';
    }
    has_member_.back() = true;
  }
}

json_writer& json_writer::begin_object() {
  separate();
  out_ += '{';
  has_member_.push_back(false);
  return *this;
}

json_writer& json_writer::end_object() {
  out_ += '}';
  has_member_.pop_back();
  return *this;
}

json_writer& json_writer::begin_array() {
  separate();
  out_ += '[';
  has_member_.push_back(false);
  return *this;
}

json_writer& json_writer::end_array() {
  out_ += ']';
  has_member_.pop_back();
  return *this;
}

json_writer& json_writer::key(std::string_view name) {
  value(name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

json_writer& json_writer::value(std::string_view s) {
  separate();
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out_ += '"';
    out_ += s;
    out_ += '"';
  } else {
    // Escapes and UTF-8 handling exactly as `to_text`.
    out_ += to_text(json(std::string{s}));
  }
  return *this;
}

json_writer& json_writer::value(uint64_t n) {
  separate();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  out_.append(buf, end);
  return *this;
}

json_writer& json_writer::value(bool b) {
  separate();
  out_ += b ? "true" : "false";
  return *this;
}

json_writer& json_writer::null() {
  separate();
  out_ += "null";
  return *this;
}

json_writer& json_writer::raw(std::string_view text) {
  separate();
  out_ += text;
  return *this;
}

namespace {

// Tracks the keys of every open object while parsing; a repeated key marks
// the document (nlohmann would keep the last one silently).
struct duplicate_finder {
  std::vector<std::set<std::string>> open;
  std::optional<std::string> duplicate;

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) {
          open.pop_back();
        }
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string()
            && !open.back().insert(parsed.get<std::string>()).second
            && !duplicate) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  }
};

} // namespace

result<json> parse_json_object(const request& req, bool allow_empty) {
  if (req.body.empty()) {
    if (allow_empty) {
      return json::object();
    }
    return fail(errc::invalid_argument, "request body must be a JSON object");
  }
  return parse_json_object(req.body);
}

result<void> check_json_limits(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (c == '\0') {
      return fail(errc::invalid_argument,
                  "invalid JSON: NUL byte at byte " + std::to_string(i));
    }
    if (in_string) {
      if (c == '\\') {
        ++i; // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_json_depth) {
          return fail(errc::invalid_argument,
                      "JSON nests deeper than the limit of "
                        + std::to_string(max_json_depth) + " levels");
        }
        break;
      case ']':
      case '}':
        depth -= depth > 0 ? 1 : 0;
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          // A number literal: an integer (no fraction, no exponent) must
          // fit in int64 when negative and in uint64 otherwise.
          auto start = i;
          auto end = i + 1;
          auto integral = true;
          while (end < text.size()
                 && ((text[end] >= '0' && text[end] <= '9') || text[end] == '.'
                     || text[end] == 'e' || text[end] == 'E'
                     || text[end] == '+' || text[end] == '-')) {
            integral = integral && text[end] >= '0' && text[end] <= '9';
            ++end;
          }
          i = end - 1;
          if (!integral) {
            break;
          }
          auto literal = text.substr(start, end - start);
          auto in_range = false;
          if (literal.front() == '-') {
            int64_t v = 0;
            auto [p, ec] = std::from_chars(literal.data(),
                                           literal.data() + literal.size(), v);
            in_range = ec != std::errc::result_out_of_range;
          } else {
            uint64_t v = 0;
            auto [p, ec] = std::from_chars(literal.data(),
                                           literal.data() + literal.size(), v);
            in_range = ec != std::errc::result_out_of_range;
          }
          if (!in_range) {
            return fail(errc::invalid_argument,
                        "JSON integer " + std::string{literal.substr(0, 32)}
                          + (literal.size() > 32 ? "..." : "")
                          + " does not fit in 64 bits");
          }
        }
        break;
    }
  }
  return {};
}

result<json> parse_json(std::string_view text) {
  if (auto ok = check_json_limits(text); !ok) {
    return std::move(ok).err();
  }
  auto finder = std::make_shared<duplicate_finder>();
  auto parsed = json::parse(
    text,
    [finder](int depth, json::parse_event_t event, json& j) {
      return (*finder)(depth, event, j);
    },
    false);
  if (parsed.is_discarded()) {
    // Re-parse with exceptions for the position of the error.
    try {
      auto ignored = json::parse(text);
      (void) ignored;
    } catch (const json::parse_error& e) {
      return fail(errc::invalid_argument,
                  "invalid JSON at byte " + std::to_string(e.byte));
    } catch (const json::exception&) {
      // Numbers out of range, for example.
      return fail(errc::invalid_argument, "invalid JSON: a number is out of range");
    }
    return fail(errc::invalid_argument, "invalid JSON");
  }
  if (finder->duplicate) {
    return fail(errc::invalid_argument,
                "duplicate JSON key '" + *finder->duplicate + "'");
  }
  return parsed;
}

result<json> parse_json_object(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed) {
    return parsed;
  }
  if (!parsed->is_object()) {
    return fail(errc::invalid_argument, "expected a JSON object");
  }
  return parsed;
}

result<void> check_fields(const json& body,
                          std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : body.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return fail(errc::invalid_argument, "unknown field '" + name + "'");
    }
  }
  return {};
}

result<json> parse_json_fields(const request& req,
                               std::initializer_list<std::string_view> known,
                               bool allow_empty) {
  auto body = parse_json_object(req, allow_empty);
  if (!body) {
    return body;
  }
  if (auto ok = check_fields(*body, known); !ok) {
    return std::move(ok).err();
  }
  return body;
}

result<std::string> string_field(const json& body, const char* name,
                                 bool required, std::string fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) {
      return fail(errc::invalid_argument,
                  std::string{"field '"} + name + "' is required");
    }
    return fallback;
  }
  if (!it->is_string()) {
    return fail(errc::invalid_argument,
                std::string{"field '"} + name + "' must be a string");
  }
  return it->get<std::string>();
}

result<duration> duration_field(const json& body, const char* name,
                                duration fallback, errc bad_code) {
  auto text = string_field(body, name, false);
  if (!text) {
    return error{bad_code, text.err().message + " such as \"30s\""};
  }
  if (body.find(name) == body.end() || body[name].is_null()) {
    return fallback;
  }
  auto d = parse_duration(*text);
  if (!d) {
    return error{bad_code, std::string{name} + ": " + d.err().message};
  }
  return *d;
}

result<uint64_t> u64_field(const json& body, const char* name,
                           uint64_t fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_number_unsigned()
      && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return fail(errc::invalid_argument, std::string{"field '"} + name
                                          + "' must be a non-negative integer");
  }
  return it->get<uint64_t>();
}

result<uint64_t> parse_u64(std::string_view text, const char* what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
    return fail(errc::invalid_argument,
                std::string{what} + " must be a non-negative integer");
  }
  return v;
}

result<uint64_t> u64_query(const request& req, const char* name,
                           uint64_t fallback) {
  const auto* v = req.query_param(name);
  if (v == nullptr) {
    return fallback;
  }
  return parse_u64(*v, name);
}

} // namespace shoal::http
