#include "net/http/idem_keys.hpp"

namespace shoal::http {

namespace {

constexpr int max_depth = 32;

result<idem::key_value> convert(const json& j, int depth) {
  if (depth > max_depth) {
    return fail(errc::invalid_argument, "key inputs nest deeper than "
                                          + std::to_string(max_depth)
                                          + " levels");
  }
  switch (j.type()) {
    case json::value_t::null:
      return idem::key_value{nullptr};
    case json::value_t::boolean:
      return idem::key_value{j.get<bool>()};
    case json::value_t::number_integer:
      return idem::key_value{j.get<int64_t>()};
    case json::value_t::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        return fail(errc::invalid_argument,
                    "integer key inputs must fit in 64 signed bits");
      }
      return idem::key_value{static_cast<int64_t>(u)};
    }
    case json::value_t::number_float:
      return idem::key_value{j.get<double>()};
    case json::value_t::string:
      return idem::key_value{j.get<std::string>()};
    case json::value_t::array: {
      idem::key_value::list items;
      for (const auto& item : j) {
        auto v = convert(item, depth + 1);
        if (!v) {
          return v;
        }
        items.push_back(std::move(*v));
      }
      return idem::key_value{std::move(items)};
    }
    case json::value_t::object: {
      idem::key_value::map members;
      for (const auto& [name, item] : j.items()) {
        auto v = convert(item, depth + 1);
        if (!v) {
          return v;
        }
        members.emplace_back(name, std::move(*v));
      }
      return idem::key_value{std::move(members)};
    }
    default:
      return fail(errc::invalid_argument, "key inputs must be JSON values");
  }
}

} // namespace

result<idem::key_value> key_value_from_json(const json& j) {
  return convert(j, 0);
}

result<std::string> build_key_from_json(const json& body) {
  if (auto ok = check_fields(body, {"tenant", "scope", "parts", "inputs"}); !ok) {
    return std::move(ok).err();
  }
  auto tenant = string_field(body, "tenant", true);
  if (!tenant) {
    return std::move(tenant).err();
  }
  auto scope = string_field(body, "scope", true);
  if (!scope) {
    return std::move(scope).err();
  }
  auto parts = body.find("parts");
  auto inputs = body.find("inputs");
  if ((parts == body.end()) == (inputs == body.end())) {
    return fail(errc::invalid_argument,
                "give exactly one of 'parts' (an array) and 'inputs' (an object)");
  }
  if (parts != body.end()) {
    if (!parts->is_array()) {
      return fail(errc::invalid_argument, "'parts' must be an array");
    }
    auto v = key_value_from_json(*parts);
    if (!v) {
      return std::move(v).err();
    }
    return idem::build_key(*tenant, *scope,
                           std::get<idem::key_value::list>(v->v));
  }
  if (!inputs->is_object()) {
    return fail(errc::invalid_argument, "'inputs' must be an object");
  }
  auto v = key_value_from_json(*inputs);
  if (!v) {
    return std::move(v).err();
  }
  return idem::build_key_from_map(*tenant, *scope,
                                  std::get<idem::key_value::map>(v->v));
}

} // namespace shoal::http
