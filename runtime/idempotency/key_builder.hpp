#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/result.hpp"

namespace shoal::idem {

/// A value that goes into an idempotency key: null, bool, integer, float,
/// string, list or map (as JSON has them). Integers and floats are
/// different types (1 ≠ 1.0), as are strings and numbers ("1" ≠ 1).
struct key_value {
  using list = std::vector<key_value>;
  using map = std::vector<std::pair<std::string, key_value>>;
  std::variant<std::monostate, bool, int64_t, double, std::string, list, map>
    v;

  key_value() = default;
  key_value(std::nullptr_t) {
  }
  key_value(bool b) : v(b) {
  }
  key_value(int i) : v(int64_t{i}) {
  }
  key_value(int64_t i) : v(i) {
  }
  key_value(double d) : v(d) {
  }
  key_value(const char* s) : v(std::string{s}) {
  }
  key_value(std::string s) : v(std::move(s)) {
  }
  key_value(list l) : v(std::move(l)) {
  }
  key_value(map m) : v(std::move(m)) {
  }
};

/// Limits of key building (as the idempotency seed set them).
inline constexpr size_t max_tenant_len = 64;
inline constexpr size_t max_scope_len = 32;
inline constexpr size_t max_built_key_len = 256;
inline constexpr size_t max_parts = 32;
inline constexpr size_t max_encoded_bytes = 32 * 1024;

/// The canonical encoding hashed into a key (documented in docs/api.md):
/// `n` null; `t`/`f` bools; `i<decimal>;` integers; `d<16 hex digits>;` the
/// IEEE-754 bits of a float; `s<len>:<bytes>` strings; `l<count>:<items>`
/// lists; `m<count>:<key as string><value>...` maps with keys sorted by
/// their bytes (case kept: "A" and "a" are different keys; a duplicate key
/// is an error). Fails with `invalid_argument` (duplicate map key,
/// non-finite float) or `too_large` (more than `max_encoded_bytes`).
result<std::string> canonical_encoding(const key_value& value);

/// `v1:<tenant>:<scope>:<sha256 hex of the encoding of the parts list>`.
/// Tenant: 1..64 and scope: 1..32 characters of [A-Za-z0-9._-]; at most 32
/// parts.
result<std::string> build_key(std::string_view tenant, std::string_view scope,
                              const key_value::list& parts);

/// The same from named inputs: the hash covers the map (keys sorted).
result<std::string> build_key_from_map(std::string_view tenant,
                                       std::string_view scope,
                                       const key_value::map& inputs);

/// The pieces of a built key.
struct key_parts {
  std::string version;
  std::string tenant;
  std::string scope;
  std::string hash;
};

/// Splits and checks a built key; fails with `invalid_key`.
result<key_parts> parse_key(std::string_view key);

} // namespace shoal::idem
