// shoalctl agg define|ls|describe|drop|merge|get|many|watch, dedup, and
// cache check|repopulate.

#include <iostream>

#include "cmd/shoalctl/common.hpp"
#include "net/http/target.hpp"

namespace shoal::ctl {

namespace {

std::string agg_path(const std::string& name, const std::string& rest = {}) {
  return "/v1/aggregates/" + http::percent_encode(name, true)
         + (rest.empty() ? "" : "/" + rest);
}

// The read mode options of `get` and `many`.
struct read_options {
  std::string bucket;
  std::string from;
  std::string to;
  std::string last;
  std::string at;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--bucket", bucket, "bucket number");
    cmd->add_option("--from", from, "first bucket of a window");
    cmd->add_option("--to", to, "bucket after the window");
    cmd->add_option("--last", last, "the last N buckets, merged");
    cmd->add_option("--at", at, "the bucket of an RFC 3339 time");
  }

  std::string query() const {
    std::string q;
    for (auto [name, v] : {std::pair{"bucket", &bucket}, std::pair{"from", &from},
                           std::pair{"to", &to}, std::pair{"last", &last},
                           std::pair{"at", &at}}) {
      if (!v->empty()) {
        q += (q.empty() ? "?" : "&") + std::string{name} + "=" + http::percent_encode(*v);
      }
    }
    return q;
  }

  void add_to(json& body) const {
    for (auto [name, v] : {std::pair{"bucket", &bucket}, std::pair{"from", &from},
                           std::pair{"to", &to}, std::pair{"last", &last}}) {
      if (!v->empty()) {
        body[name] = json_or_string(*v);
      }
    }
    if (!at.empty()) {
      body["at"] = at;
    }
  }
};

} // namespace

void add_aggregate_commands(CLI::App& app, context& ctx, int& code) {
  // Option storage lives as long as the app (callbacks run after parsing).
  static std::string name;
  static std::string entity;
  static std::string kind;
  static std::string window;
  static std::string retention;
  static std::string dedup_retention;
  static uint32_t k = 0;
  static uint64_t capacity = 0;
  static double fp_rate = 0;
  static uint32_t max_elements = 0;
  static std::string delta;
  static std::string at;
  static std::string bucket;
  static std::string event_id;
  static std::string ttl;
  static std::string contains;
  static std::vector<std::string> entities;
  static read_options reads;
  static std::string scope;

  auto* agg = app.add_subcommand("agg", "aggregates");
  agg->require_subcommand(1);

  auto* define = agg->add_subcommand("define", "declare aggregate NAME");
  define->add_option("name", name)->required();
  define->add_option("--kind", kind,
                     "sum, count, min, max, first, last, hll, topk, bloom, set")
    ->required();
  define->add_option("--window", window, "bucket width, e.g. 1h (default: none)");
  define->add_option("--retention", retention, "keep buckets this long after they end");
  define->add_option("--dedup-retention", dedup_retention, "remember event ids this long");
  define->add_option("--k", k, "topk: counters kept");
  define->add_option("--capacity", capacity, "bloom: elements expected");
  define->add_option("--fp-rate", fp_rate, "bloom: false-positive rate at capacity");
  define->add_option("--max-elements", max_elements, "set: elements kept");
  define->callback([&] {
    json body{{"kind", kind}};
    for (auto [field, v] : {std::pair{"window", &window}, std::pair{"retention", &retention},
                            std::pair{"dedup_retention", &dedup_retention}}) {
      if (!v->empty()) {
        body[field] = *v;
      }
    }
    if (k != 0) {
      body["k"] = k;
    }
    if (capacity != 0) {
      body["capacity"] = capacity;
    }
    if (fp_rate != 0) {
      body["fp_rate"] = fp_rate;
    }
    if (max_elements != 0) {
      body["max_elements"] = max_elements;
    }
    code = call(ctx, "PUT", agg_path(name), body.dump());
  });

  auto* ls = agg->add_subcommand("ls", "every aggregate");
  ls->callback([&] { code = call(ctx, "GET", "/v1/aggregates"); });
  auto* describe = agg->add_subcommand("describe", "the definition of NAME");
  describe->add_option("name", name)->required();
  describe->callback([&] { code = call(ctx, "GET", agg_path(name)); });
  auto* drop = agg->add_subcommand("drop", "drop NAME and its values");
  drop->add_option("name", name)->required();
  drop->callback([&] { code = call(ctx, "DELETE", agg_path(name)); });

  auto* merge = agg->add_subcommand(
    "merge", "merge DELTA into NAME ENTITY (a number, a string, or JSON like '[\"a\",\"b\"]')");
  merge->add_option("name", name)->required();
  merge->add_option("entity", entity)->required();
  merge->add_option("delta", delta)->required();
  merge->add_option("--at", at, "event time, RFC 3339");
  merge->add_option("--bucket", bucket, "bucket number instead of --at");
  merge->add_option("--event-id", event_id, "count this event once");
  merge->add_option("--ttl", ttl, "keep the cell at least this long");
  merge->callback([&] {
    json body{{"entity", entity}, {"delta", json_or_string(delta)}};
    if (!at.empty()) {
      body["at"] = at;
    }
    if (!bucket.empty()) {
      body["bucket"] = json_or_string(bucket);
    }
    if (!event_id.empty()) {
      body["event_id"] = event_id;
    }
    if (!ttl.empty()) {
      body["ttl"] = ttl;
    }
    code = call(ctx, "POST", agg_path(name, "merge"), body.dump());
  });

  auto* get = agg->add_subcommand("get", "the value of NAME ENTITY");
  get->add_option("name", name)->required();
  get->add_option("entity", entity)->required();
  reads.add_to(get);
  get->add_option("--contains", contains, "bloom, set: is this element in?");
  get->callback([&] {
    auto q = reads.query();
    if (!contains.empty()) {
      q += (q.empty() ? "?" : "&") + std::string{"contains="}
           + http::percent_encode(contains);
    }
    code = call(ctx, "GET", agg_path(name, http::percent_encode(entity)) + q);
  });

  auto* many = agg->add_subcommand("many", "the values of NAME for ENTITIES");
  many->add_option("name", name)->required();
  many->add_option("entities", entities)->required()->expected(-1);
  reads.add_to(many);
  many->callback([&] {
    json body{{"entities", entities}};
    reads.add_to(body);
    code = call(ctx, "POST", agg_path(name, "get_many"), body.dump());
  });

  auto* watch = agg->add_subcommand("watch", "follow the merges into NAME");
  watch->add_option("name", name)->required();
  watch->callback([&] {
    code = follow(ctx, agg_path(name, "watch"), [&](const json& m) {
      auto type = m.value("type", "");
      if (ctx.output == "json") {
        std::cout << m.dump() << std::endl;
      } else if (type == "lagged" || type == "error") {
        std::cerr << m.dump() << std::endl;
      } else if (type == "merge") {
        std::cout << m.value("entity", "") << " bucket " << m.value("bucket", 0) << " "
                  << m["delta"].dump()
                  << (m.contains("event_id") ? " event " + m["event_id"].get<std::string>()
                                             : std::string{})
                  << std::endl;
      }
      return type == "lagged" || type == "error" ? server_error : ok;
    });
  });

  auto* cache = app.add_subcommand("cache", "the Redis mirror of aggregates");
  cache->require_subcommand(1);
  auto* check = cache->add_subcommand("check", "compare every cell with Redis");
  check->callback([&] { code = call(ctx, "POST", "/v1/cache/check"); });
  auto* repopulate = cache->add_subcommand("repopulate", "rebuild the mirror now");
  repopulate->callback([&] { code = call(ctx, "POST", "/v1/cache/repopulate"); });

  auto* dedup = app.add_subcommand("dedup", "claim EVENT_ID in SCOPE (first_seen once)");
  dedup->add_option("scope", scope)->required();
  dedup->add_option("event_id", event_id)->required();
  dedup->add_option("--retention", retention, "remember it this long (default 24h)");
  dedup->callback([&] {
    json body = json::object();
    if (!retention.empty()) {
      body["retention"] = retention;
    }
    code = call(ctx, "POST",
                "/v1/dedup/" + http::percent_encode(scope, true) + "/"
                  + http::percent_encode(event_id),
                body.dump());
  });
}

} // namespace shoal::ctl
