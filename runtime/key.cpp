#include "runtime/key.hpp"

namespace shoal {

namespace {

// Shared by keys and pattern stems: every rule except emptiness.
result<void> check_chars(std::string_view key, std::string_view what) {
  for (size_t i = 0; i < key.size(); ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return fail(errc::invalid_key,
                  std::string{what} + " contains a space or a non-printable "
                                      "character at byte "
                    + std::to_string(i));
    }
    if (c == '*' || c == '>') {
      return fail(errc::invalid_key,
                  std::string{what} + " contains a wildcard at byte "
                    + std::to_string(i));
    }
  }
  if (key.front() == '.' || key.back() == '.') {
    return fail(errc::invalid_key,
                std::string{what} + " starts or ends with a dot");
  }
  if (key.find("..") != std::string_view::npos) {
    return fail(errc::invalid_key, std::string{what} + " contains '..'");
  }
  return {};
}

} // namespace

result<void> validate_key(std::string_view key) {
  if (key.empty()) {
    return fail(errc::invalid_key, "key is empty");
  }
  if (key.size() > max_key_size) {
    return fail(errc::invalid_key, "key is longer than "
                                     + std::to_string(max_key_size)
                                     + " bytes");
  }
  return check_chars(key, "key");
}

result<key_pattern> key_pattern::parse(std::string_view text) {
  if (text.empty()) {
    return fail(errc::invalid_key, "pattern is empty");
  }
  if (text.size() > max_key_size + 2) {
    return fail(errc::invalid_key, "pattern is too long");
  }
  if (text == "*") {
    return key_pattern{kind::prefix, ""};
  }
  if (text == ">") {
    return key_pattern{kind::subtree, ""};
  }
  if (text.back() == '*') {
    auto stem = text.substr(0, text.size() - 1);
    // A prefix may end with a dot ("config.*"), so only the characters and
    // the leading/doubled dot rules apply.
    for (size_t i = 0; i < stem.size(); ++i) {
      auto c = static_cast<unsigned char>(stem[i]);
      if (c <= 0x20 || c >= 0x7f || c == '*' || c == '>') {
        return fail(errc::invalid_key,
                    "pattern may hold one '*', at its end, and printable "
                    "characters without spaces");
      }
    }
    if (stem.front() == '.' || stem.find("..") != std::string_view::npos) {
      return fail(errc::invalid_key,
                  "pattern starts with a dot or contains '..'");
    }
    return key_pattern{kind::prefix, std::string{stem}};
  }
  if (text.size() >= 2 && text.substr(text.size() - 2) == ".>") {
    auto stem = text.substr(0, text.size() - 2);
    if (auto ok = check_chars(stem, "pattern"); !ok) {
      return std::move(ok).err();
    }
    return key_pattern{kind::subtree, std::string{stem}};
  }
  if (auto ok = validate_key(text); !ok) {
    auto err = std::move(ok).err();
    err.message = "pattern: " + err.message
                  + " (wildcards are a trailing '*' or a trailing '.>')";
    return err;
  }
  return key_pattern{kind::exact, std::string{text}};
}

bool key_pattern::matches(std::string_view key) const {
  switch (kind_) {
    case kind::exact:
      return key == stem_;
    case kind::prefix:
      return key.starts_with(stem_);
    case kind::subtree:
      if (stem_.empty()) {
        return true;
      }
      return key.starts_with(stem_)
             && (key.size() == stem_.size() || key[stem_.size()] == '.');
  }
  return false;
}

std::string key_pattern::scan_prefix() const {
  return stem_;
}

std::string key_pattern::text() const {
  switch (kind_) {
    case kind::exact:
      return stem_;
    case kind::prefix:
      return stem_ + "*";
    case kind::subtree:
      return stem_.empty() ? std::string{">"} : stem_ + ".>";
  }
  return stem_;
}

} // namespace shoal
