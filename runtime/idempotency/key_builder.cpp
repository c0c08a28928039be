#include "runtime/idempotency/key_builder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/sha256.hpp"

namespace shoal::idem {

namespace {

constexpr std::string_view key_version = "v1";

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

result<void> check_name(std::string_view text, size_t max, const char* what) {
  if (text.empty() || text.size() > max) {
    return fail(errc::invalid_argument, std::string{what} + " must be 1.."
                                          + std::to_string(max)
                                          + " characters");
  }
  if (!std::all_of(text.begin(), text.end(), name_char)) {
    return fail(errc::invalid_argument,
                std::string{what} + " may only hold [A-Za-z0-9._-]");
  }
  return {};
}

class encoder {
public:
  result<void> put(const key_value& value) {
    if (out_.size() > max_encoded_bytes) {
      return fail(errc::too_large, "key inputs are larger than "
                                     + std::to_string(max_encoded_bytes)
                                     + " bytes");
    }
    return std::visit([this](const auto& x) { return put_one(x); }, value.v);
  }

  std::string take() {
    return std::move(out_);
  }

private:
  result<void> put_one(std::monostate) {
    out_ += 'n';
    return {};
  }

  result<void> put_one(bool b) {
    out_ += b ? 't' : 'f';
    return {};
  }

  result<void> put_one(int64_t i) {
    out_ += 'i';
    out_ += std::to_string(i);
    out_ += ';';
    return {};
  }

  result<void> put_one(double d) {
    if (!std::isfinite(d)) {
      return fail(errc::invalid_argument, "key inputs must be finite numbers");
    }
    if (d == 0) {
      d = 0; // -0.0 and 0.0 are one value
    }
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof(bits));
    static constexpr char digits[] = "0123456789abcdef";
    out_ += 'd';
    for (int shift = 60; shift >= 0; shift -= 4) {
      out_ += digits[(bits >> shift) & 0xf];
    }
    out_ += ';';
    return {};
  }

  result<void> put_one(const std::string& s) {
    out_ += 's';
    out_ += std::to_string(s.size());
    out_ += ':';
    out_ += s;
    return {};
  }

  result<void> put_one(const key_value::list& l) {
    out_ += 'l';
    out_ += std::to_string(l.size());
    out_ += ':';
    for (const auto& item : l) {
      if (auto ok = put(item); !ok) {
        return ok;
      }
    }
    return {};
  }

  result<void> put_one(const key_value::map& m) {
    std::vector<const std::pair<std::string, key_value>*> sorted;
    for (const auto& kv : m) {
      sorted.push_back(&kv);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](auto* a, auto* b) { return a->first < b->first; });
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i]->first == sorted[i - 1]->first) {
        return fail(errc::invalid_argument,
                    "duplicate map key '" + sorted[i]->first + "'");
      }
    }
    out_ += 'm';
    out_ += std::to_string(m.size());
    out_ += ':';
    for (auto* kv : sorted) {
      (void) put_one(kv->first);
      if (auto ok = put(kv->second); !ok) {
        return ok;
      }
    }
    return {};
  }

  std::string out_;
};

result<std::string> finish(std::string_view tenant, std::string_view scope,
                           const key_value& value) {
  if (auto ok = check_name(tenant, max_tenant_len, "tenant"); !ok) {
    return std::move(ok).err();
  }
  if (auto ok = check_name(scope, max_scope_len, "scope"); !ok) {
    return std::move(ok).err();
  }
  auto encoded = canonical_encoding(value);
  if (!encoded) {
    return std::move(encoded).err();
  }
  std::string key{key_version};
  key += ':';
  key += tenant;
  key += ':';
  key += scope;
  key += ':';
  key += sha256::hex(*encoded);
  return key;
}

} // namespace

result<std::string> canonical_encoding(const key_value& value) {
  encoder e;
  if (auto ok = e.put(value); !ok) {
    return std::move(ok).err();
  }
  auto out = e.take();
  if (out.size() > max_encoded_bytes) {
    return fail(errc::too_large, "key inputs are larger than "
                                   + std::to_string(max_encoded_bytes)
                                   + " bytes");
  }
  return out;
}

result<std::string> build_key(std::string_view tenant, std::string_view scope,
                              const key_value::list& parts) {
  if (parts.size() > max_parts) {
    return fail(errc::invalid_argument,
                "at most " + std::to_string(max_parts) + " key parts");
  }
  return finish(tenant, scope, key_value{parts});
}

result<std::string> build_key_from_map(std::string_view tenant,
                                       std::string_view scope,
                                       const key_value::map& inputs) {
  if (inputs.size() > max_parts) {
    return fail(errc::invalid_argument,
                "at most " + std::to_string(max_parts) + " key inputs");
  }
  return finish(tenant, scope, key_value{inputs});
}

result<key_parts> parse_key(std::string_view key) {
  if (key.size() > max_built_key_len) {
    return fail(errc::invalid_key, "built key is too long");
  }
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t i = 0; i <= key.size(); ++i) {
    if (i == key.size() || key[i] == ':') {
      fields.push_back(key.substr(start, i - start));
      start = i + 1;
    }
  }
  if (fields.size() != 4 || fields[0] != key_version) {
    return fail(errc::invalid_key, "a built key is v1:<tenant>:<scope>:<hash>");
  }
  if (!check_name(fields[1], max_tenant_len, "tenant")
      || !check_name(fields[2], max_scope_len, "scope")) {
    return fail(errc::invalid_key, "invalid tenant or scope in key");
  }
  auto hash = fields[3];
  if (hash.size() != 64 || !std::all_of(hash.begin(), hash.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return fail(errc::invalid_key, "hash must be 64 lowercase hex digits");
  }
  return key_parts{std::string{fields[0]}, std::string{fields[1]},
                   std::string{fields[2]}, std::string{hash}};
}

} // namespace shoal::idem
