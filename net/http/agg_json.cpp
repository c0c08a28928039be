#include "net/http/agg_json.hpp"

#include <cmath>

namespace shoal::http {

json definition_json(const agg::definition& def) {
  json j{{"name", def.name},
         {"kind", agg::to_string(def.k)},
         {"window", format_duration(def.window)},
         {"retention", format_duration(def.retention)},
         {"dedup_retention", format_duration(def.dedup_retention)}};
  switch (def.k) {
  case agg::kind::topk:
    j["k"] = def.params.k;
    break;
  case agg::kind::bloom:
    j["capacity"] = def.params.capacity;
    j["fp_rate"] = def.params.fp_rate;
    break;
  case agg::kind::set:
    j["max_elements"] = def.params.max_elements;
    break;
  default:
    break;
  }
  return j;
}

result<agg::definition> parse_definition(std::string name, const json& body) {
  if (auto ok = check_fields(body, {"kind", "window", "retention", "dedup_retention", "k",
                                    "capacity", "fp_rate", "max_elements"});
      !ok) {
    return std::move(ok).err();
  }
  agg::definition def;
  def.name = std::move(name);
  auto kind_text = string_field(body, "kind", true);
  if (!kind_text) {
    return std::move(kind_text).err();
  }
  auto k = agg::parse_kind(*kind_text);
  if (!k) {
    return fail(errc::invalid_argument,
                "unknown kind '" + *kind_text
                  + "' (sum, count, min, max, first, last, hll, topk, bloom, set)");
  }
  def.k = *k;
  auto window = duration_field(body, "window", duration::zero());
  auto retention = duration_field(body, "retention", duration::zero());
  auto dedup = duration_field(body, "dedup_retention", def.dedup_retention);
  for (auto* r : {&window, &retention, &dedup}) {
    if (!*r) {
      return std::move(*r).err();
    }
  }
  def.window = *window;
  def.retention = *retention;
  def.dedup_retention = *dedup;
  auto topk_k = u64_field(body, "k", def.params.k);
  auto capacity = u64_field(body, "capacity", def.params.capacity);
  auto max_elements = u64_field(body, "max_elements", def.params.max_elements);
  for (auto* r : {&topk_k, &capacity, &max_elements}) {
    if (!*r) {
      return std::move(*r).err();
    }
  }
  if (*topk_k > UINT32_MAX || *max_elements > UINT32_MAX) {
    return fail(errc::invalid_argument, "k and max_elements must fit 32 bits");
  }
  def.params.k = static_cast<uint32_t>(*topk_k);
  def.params.capacity = *capacity;
  def.params.max_elements = static_cast<uint32_t>(*max_elements);
  if (auto it = body.find("fp_rate"); it != body.end() && !it->is_null()) {
    if (!it->is_number()) {
      return fail(errc::invalid_argument, "field 'fp_rate' must be a number");
    }
    def.params.fp_rate = it->get<double>();
  }
  return def;
}

json value_json(const agg::value& v) {
  struct visitor {
    json operator()(int64_t x) const {
      return x;
    }
    json operator()(uint64_t x) const {
      return x;
    }
    json operator()(const std::optional<double>& x) const {
      return x ? json(*x) : json(nullptr);
    }
    json operator()(const std::optional<agg::timed>& x) const {
      if (!x) {
        return nullptr;
      }
      return json{{"value", x->value}, {"at", format_rfc3339(x->at)}};
    }
    json operator()(const agg::hll& x) const {
      return json{{"estimate", x.estimate()}};
    }
    json operator()(const agg::topk& x) const {
      auto items = json::array();
      for (const auto& i : x.top()) {
        items.push_back(json{{"element", i.key}, {"count", i.count}, {"error", x.error()}});
      }
      return json{{"items", std::move(items)}, {"total", x.total()}};
    }
    json operator()(const agg::bloom& x) const {
      return json{{"bits_set", x.popcount()}, {"bits", x.bits()}};
    }
    json operator()(const agg::bounded_set& x) const {
      return json{{"elements", x.elements}, {"truncated", x.truncated}};
    }
  };
  return std::visit(visitor{}, v);
}

result<agg::value> parse_delta(const agg::monoid& m, const json& delta, time_point at) {
  switch (m.kind_of()) {
  case agg::kind::sum:
  case agg::kind::count:
  case agg::kind::min:
  case agg::kind::max:
    if (delta.is_number_integer()) {
      if (delta.is_number_unsigned() && delta.get<uint64_t>() > INT64_MAX) {
        return fail(errc::invalid_argument, "delta is out of range");
      }
      return m.from_integer(delta.get<int64_t>());
    }
    if (delta.is_number_float()) {
      // Sums and counts are exact: a fraction or exponent (even 1e3, or
      // 2.0) would pass through a double and could round.
      if (m.kind_of() == agg::kind::sum || m.kind_of() == agg::kind::count) {
        return fail(errc::invalid_argument,
                    std::string{"a "} + std::string{agg::to_string(m.kind_of())}
                      + " delta is an integer without fraction or exponent");
      }
      return m.from_number(delta.get<double>());
    }
    return fail(errc::invalid_argument,
                std::string{"a "} + std::string{agg::to_string(m.kind_of())}
                  + " delta is a number");
  case agg::kind::first:
  case agg::kind::last:
    if (!delta.is_string()) {
      return fail(errc::invalid_argument, "a first/last delta is a string");
    }
    return m.from_timed(at, delta.get<std::string>());
  default:
    break;
  }
  std::vector<std::string> elements;
  std::vector<uint64_t> weights;
  if (delta.is_string()) {
    elements.push_back(delta.get<std::string>());
  } else if (delta.is_array()) {
    for (const auto& e : delta) {
      if (!e.is_string()) {
        return fail(errc::invalid_argument, "elements are strings");
      }
      elements.push_back(e.get<std::string>());
    }
  } else if (delta.is_object() && m.kind_of() == agg::kind::topk) {
    for (const auto& [e, w] : delta.items()) {
      if (!w.is_number_unsigned() && !(w.is_number_integer() && w.get<int64_t>() >= 0)) {
        return fail(errc::invalid_argument, "topk weights are integers >= 0");
      }
      elements.push_back(e);
      weights.push_back(w.get<uint64_t>());
    }
  } else {
    return fail(errc::invalid_argument,
                std::string{"a "} + std::string{agg::to_string(m.kind_of())}
                  + " delta is a string or an array of strings"
                  + (m.kind_of() == agg::kind::topk ? " (or an object of weights)" : ""));
  }
  if (elements.size() > 10'000) {
    return fail(errc::invalid_argument, "at most 10000 elements per delta");
  }
  return m.from_elements(elements, weights.empty() ? nullptr : &weights);
}

void add_span_times(json& out, const agg::definition& def, int64_t from, int64_t to) {
  if (def.window <= duration::zero()) {
    return;
  }
  auto w = std::chrono::duration_cast<std::chrono::nanoseconds>(def.window).count();
  // Buckets far from now have no representable time: leave them out.
  if (from <= INT64_MIN / w || to >= INT64_MAX / w) {
    return;
  }
  out["from_time"] = format_rfc3339(from_unix_nanos(from * w));
  out["to_time"] = format_rfc3339(from_unix_nanos(to * w));
}

} // namespace shoal::http
