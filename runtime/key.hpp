#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/result.hpp"

namespace shoal {

/// The longest key, in bytes.
inline constexpr size_t max_key_size = 1024;

/// Checks a key against the rules every primitive shares: non-empty, at most
/// `max_key_size` bytes, printable ASCII without spaces (0x21..0x7e), no
/// wildcard characters `*` or `>`, and no leading, trailing or doubled dot.
/// Fails with `invalid_key` and a message naming the broken rule.
result<void> validate_key(std::string_view key);

/// A key pattern, as used by list and watch:
/// - `a.b.c`  exact: only that key;
/// - `a.b*`   trailing star: every key that starts with `a.b` (a plain string
///            prefix, so `config.*` matches `config.x` and `config.x.y`);
/// - `a.b.>`  subtree: `a.b` itself and every key below it (`a.b.x`,
///            `a.b.x.y`) but not `a.bc`;
/// - `*` and `>` match every key.
class key_pattern {
public:
  enum class kind : uint8_t { exact, prefix, subtree };

  /// Parses and validates a pattern; fails with `invalid_key`.
  static result<key_pattern> parse(std::string_view text);

  /// True if `key` matches.
  bool matches(std::string_view key) const;

  /// The kind of pattern.
  kind type() const {
    return kind_;
  }

  /// The literal part: the key for `exact`, the prefix for `prefix`, the
  /// subtree root (without the trailing `.>`) for `subtree`.
  const std::string& stem() const {
    return stem_;
  }

  /// The smallest string every matching key starts with; a storage scan over
  /// this prefix visits every candidate.
  std::string scan_prefix() const;

  /// The pattern as text (round-trips through `parse`).
  std::string text() const;

private:
  key_pattern(kind k, std::string stem) : kind_(k), stem_(std::move(stem)) {}

  kind kind_;
  std::string stem_;
};

} // namespace shoal
