// aggregate routes: GET /v1/aggregates, PUT/GET/DELETE /v1/aggregates/{name},
// POST /v1/aggregates/{name}/merge, POST /v1/aggregates/{name}/get_many,
// GET /v1/aggregates/{name}/{entity...}, the WebSocket stream of merges
// GET /v1/aggregates/{name}/watch, and POST /v1/dedup/{scope}/{event_id...}.

#include <atomic>
#include <charconv>

#include "actors/node.hpp"
#include "net/http/agg_json.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"

namespace shoal::http {

namespace {

constexpr size_t max_batch = 10'000;

// The definition of the route's aggregate, or nullopt after responding 404.
std::optional<agg::definition> definition_of(node& n, request& req,
                                             const respond_fn& respond) {
  auto def = n.aggregates().find(req.param("name"));
  if (!def) {
    respond(error_response(
      error{errc::not_found, "no aggregate " + req.param("name")}));
  }
  return def;
}

result<int64_t> parse_i64(std::string_view text, const char* what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return fail(errc::invalid_argument, std::string{what} + " must be an integer");
  }
  return v;
}

result<int64_t> i64_member(const json& body, const char* name) {
  const auto& v = body[name];
  if (!v.is_number_integer()
      || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)) {
    return fail(errc::invalid_argument, std::string{"field '"} + name
                                          + "' must be an integer");
  }
  return v.get<int64_t>();
}

// One merge of a body: {entity, delta, at?, bucket?, event_id?, ttl?}.
result<agg::merge_cmd> parse_merge(const agg::definition& def, const agg::monoid& m,
                                   const json& item, time_point now) {
  if (!item.is_object()) {
    return fail(errc::invalid_argument, "a merge is a JSON object");
  }
  if (auto ok = check_fields(item, {"entity", "delta", "at", "bucket", "event_id", "ttl"});
      !ok) {
    return std::move(ok).err();
  }
  agg::merge_cmd cmd;
  cmd.name = def.name;
  auto entity = string_field(item, "entity", true);
  if (!entity) {
    return std::move(entity).err();
  }
  cmd.entity = std::move(*entity);
  auto event_id = string_field(item, "event_id", false);
  if (!event_id) {
    return std::move(event_id).err();
  }
  cmd.event_id = std::move(*event_id);
  auto ttl = duration_field(item, "ttl", duration::zero(), errc::invalid_ttl);
  if (!ttl) {
    return std::move(ttl).err();
  }
  cmd.ttl = *ttl;
  if (item.contains("at") && item.contains("bucket")) {
    return fail(errc::invalid_argument, "give 'at' or 'bucket', not both");
  }
  if (item.contains("at")) {
    auto text = string_field(item, "at", true);
    if (!text) {
      return std::move(text).err();
    }
    auto at = parse_rfc3339(*text);
    if (!at) {
      return fail(errc::invalid_argument, "'at' must be an RFC 3339 time");
    }
    cmd.event_time = *at;
  }
  if (item.contains("bucket")) {
    auto b = i64_member(item, "bucket");
    if (!b) {
      return std::move(b).err();
    }
    cmd.bucket = *b;
  }
  if (!item.contains("delta")) {
    return fail(errc::invalid_argument, "field 'delta' is required");
  }
  auto delta = parse_delta(m, item["delta"], cmd.event_time.value_or(now));
  if (!delta) {
    return std::move(delta).err();
  }
  cmd.delta = std::move(*delta);
  if (auto ok = agg::check_merge(cmd, def); !ok) {
    return std::move(ok).err();
  }
  return cmd;
}

json merge_json(const agg::merge_outcome& o) {
  if (o.code != 0) {
    return error_json(error{static_cast<errc>(o.code), o.message});
  }
  return json{{"bucket", o.r.bucket}, {"duplicate", o.r.duplicate}};
}

void merge_route(node& n, request& req, respond_fn respond) {
  auto def = definition_of(n, req, respond);
  if (!def) {
    return;
  }
  auto body = parse_json_object(req);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto m = agg::monoid::make(def->k, def->params);
  auto now = n.clock().now();
  std::vector<agg::merge_cmd> batch;
  auto many = body->contains("merges");
  if (many) {
    if (auto ok = check_fields(*body, {"merges"}); !ok) {
      respond(error_response(ok.err()));
      return;
    }
    const auto& items = (*body)["merges"];
    if (!items.is_array() || items.empty() || items.size() > max_batch) {
      respond(error_response(error{errc::invalid_argument,
                                   "'merges' is an array of 1.."
                                     + std::to_string(max_batch) + " merges"}));
      return;
    }
    batch.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      auto cmd = parse_merge(*def, *m, items[i], now);
      if (!cmd) {
        // Nothing is applied when any merge is malformed.
        auto e = std::move(cmd).err();
        e.message = "merges[" + std::to_string(i) + "]: " + e.message;
        respond(error_response(e));
        return;
      }
      batch.push_back(std::move(*cmd));
    }
  } else {
    auto cmd = parse_merge(*def, *m, *body, now);
    if (!cmd) {
      respond(error_response(cmd.err()));
      return;
    }
    batch.push_back(std::move(*cmd));
  }
  n.aggregates().merge(
    std::move(batch),
    [respond, many](result<std::vector<agg::merge_outcome>> r) {
      if (!r) {
        respond(error_response(r.err()));
        return;
      }
      if (!many) {
        const auto& o = r->front();
        if (o.code != 0) {
          respond(error_response(error{static_cast<errc>(o.code), o.message}));
          return;
        }
        respond(json_response(200, merge_json(o)));
        return;
      }
      auto results = json::array();
      size_t failed = 0;
      for (const auto& o : *r) {
        results.push_back(merge_json(o));
        failed += o.code != 0 ? 1 : 0;
      }
      respond(json_response(200, json{{"results", std::move(results)}, {"failed", failed}}));
    });
}

// The read mode of query parameters or body members: bucket | from & to |
// last | at (the bucket of a time); none: the current bucket.
template <class Get>
result<void> read_mode(agg::read_query& q, const agg::definition& def, Get get) {
  auto bucket = get("bucket");
  auto from = get("from");
  auto to = get("to");
  auto last = get("last");
  auto at = get("at");
  int given = (bucket ? 1 : 0) + ((from || to) ? 1 : 0) + (last ? 1 : 0) + (at ? 1 : 0);
  if (given > 1) {
    return fail(errc::invalid_argument, "give one of bucket, from and to, last, at");
  }
  if (bucket) {
    q.how = agg::read_query::mode::bucket;
    auto b = parse_i64(*bucket, "bucket");
    if (!b) {
      return std::move(b).err();
    }
    q.bucket = *b;
  } else if (from || to) {
    if (!from || !to) {
      return fail(errc::invalid_argument, "a window needs both from and to");
    }
    q.how = agg::read_query::mode::range;
    auto f = parse_i64(*from, "from");
    auto t = parse_i64(*to, "to");
    if (!f || !t) {
      return fail(errc::invalid_argument, "from and to must be integers (bucket numbers)");
    }
    q.from = *f;
    q.to = *t;
  } else if (last) {
    q.how = agg::read_query::mode::last;
    auto l = parse_i64(*last, "last");
    if (!l) {
      return std::move(l).err();
    }
    q.n = *l;
  } else if (at) {
    auto t = parse_rfc3339(*at);
    if (!t) {
      return fail(errc::invalid_argument, "'at' must be an RFC 3339 time");
    }
    q.how = agg::read_query::mode::bucket;
    q.bucket = agg::aggregate_table::bucket_of(def, *t);
  }
  return {};
}

json reading_json(const agg::definition& def, const agg::reading& r,
                  const std::string* contains) {
  json j{{"entity", r.entity}, {"found", r.found}, {"from", r.from}, {"to", r.to},
         {"value", value_json(r.v)}};
  add_span_times(j, def, r.from, r.to);
  if (r.found && r.expires_at != time_point::max()) {
    j["expires_at"] = format_rfc3339(r.expires_at);
  }
  if (contains != nullptr) {
    if (const auto* b = std::get_if<agg::bloom>(&r.v)) {
      j["contains"] = b->contains(*contains);
    } else if (const auto* s = std::get_if<agg::bounded_set>(&r.v)) {
      j["contains"] = s->elements.contains(*contains);
    }
  }
  return j;
}

void read_route(node& n, request& req, respond_fn respond) {
  auto def = definition_of(n, req, respond);
  if (!def) {
    return;
  }
  agg::read_query q{def->name, req.param("entity")};
  auto mode = read_mode(q, *def, [&](const char* name) -> std::optional<std::string> {
    const auto* v = req.query_param(name);
    return v != nullptr ? std::optional<std::string>{*v} : std::nullopt;
  });
  if (!mode) {
    respond(error_response(mode.err()));
    return;
  }
  std::optional<std::string> contains;
  if (const auto* c = req.query_param("contains")) {
    if (def->k != agg::kind::bloom && def->k != agg::kind::set) {
      respond(error_response(
        error{errc::invalid_argument, "contains is for bloom and set aggregates"}));
      return;
    }
    contains = *c;
  }
  std::vector<agg::read_query> one;
  one.push_back(std::move(q));
  n.aggregates().read(
    std::move(one), false,
    [respond, def = std::move(*def),
     contains = std::move(contains)](result<std::vector<agg::read_outcome>> r) {
      if (!r) {
        respond(error_response(r.err()));
        return;
      }
      const auto& o = r->front();
      if (o.code != 0) {
        respond(error_response(error{static_cast<errc>(o.code), o.message}));
        return;
      }
      auto j = reading_json(def, o.r, contains ? &*contains : nullptr);
      j["aggregate"] = def.name;
      j["kind"] = agg::to_string(def.k);
      respond(json_response(200, j));
    });
}

void get_many_route(node& n, request& req, respond_fn respond) {
  auto def = definition_of(n, req, respond);
  if (!def) {
    return;
  }
  auto body = parse_json_fields(req, {"entities", "bucket", "from", "to", "last", "at"},
                                false);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  const auto& entities = (*body)["entities"];
  if (!entities.is_array() || entities.empty() || entities.size() > max_batch) {
    respond(error_response(error{errc::invalid_argument,
                                 "'entities' is an array of 1.."
                                   + std::to_string(max_batch) + " strings"}));
    return;
  }
  agg::read_query proto{def->name, {}};
  auto mode = read_mode(proto, *def, [&](const char* name) -> std::optional<std::string> {
    auto it = body->find(name);
    if (it == body->end() || it->is_null()) {
      return std::nullopt;
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
  });
  if (!mode) {
    respond(error_response(mode.err()));
    return;
  }
  std::vector<agg::read_query> queries;
  queries.reserve(entities.size());
  for (const auto& e : entities) {
    if (!e.is_string()) {
      respond(error_response(error{errc::invalid_argument, "entities are strings"}));
      return;
    }
    auto q = proto;
    q.entity = e.get<std::string>();
    queries.push_back(std::move(q));
  }
  n.aggregates().read(std::move(queries), true,
                      [respond, def = std::move(*def)](
                        result<std::vector<agg::read_outcome>> r) {
                        if (!r) {
                          respond(error_response(r.err()));
                          return;
                        }
                        auto results = json::array();
                        for (const auto& o : *r) {
                          if (o.code != 0) {
                            auto j = error_json(
                              error{static_cast<errc>(o.code), o.message});
                            j["entity"] = o.r.entity;
                            results.push_back(std::move(j));
                          } else {
                            results.push_back(reading_json(def, o.r, nullptr));
                          }
                        }
                        respond(json_response(200, json{{"aggregate", def.name},
                                                        {"results", std::move(results)}}));
                      });
}

void put_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_object(req);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto def = parse_definition(req.param("name"), *body);
  if (!def) {
    respond(error_response(def.err()));
    return;
  }
  auto name = def->name;
  n.aggregates().define(std::move(*def), [respond, &n, name](result<bool> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    auto now = n.aggregates().find(name);
    respond(json_response(*r ? 201 : 200, now ? definition_json(*now) : json{{"name", name}}));
  });
}

void describe_route(node& n, request& req, respond_fn respond) {
  if (auto def = definition_of(n, req, respond)) {
    respond(json_response(200, definition_json(*def)));
  }
}

void drop_route(node& n, request& req, respond_fn respond) {
  auto name = req.param("name");
  n.aggregates().drop(name, [respond, name](result<bool> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    if (!*r) {
      respond(error_response(error{errc::not_found, "no aggregate " + name}));
      return;
    }
    respond(json_response(200, json{{"dropped", true}}));
  });
}

void list_route(node& n, request&, respond_fn respond) {
  auto all = json::array();
  for (const auto& def : n.aggregates().list()) {
    all.push_back(definition_json(def));
  }
  respond(json_response(200, json{{"aggregates", std::move(all)}}));
}

void dedup_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_fields(req, {"retention"});
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto retention = duration_field(*body, "retention", std::chrono::hours{24},
                                  errc::invalid_ttl);
  if (!retention) {
    respond(error_response(retention.err()));
    return;
  }
  n.aggregates().mark_seen(req.param("scope"), req.param("event_id"), *retention,
                           [respond](result<bool> r) {
                             if (!r) {
                               respond(error_response(r.err()));
                               return;
                             }
                             respond(json_response(200, json{{"first_seen", *r}}));
                           });
}

void repopulate_route(node& n, request&, respond_fn respond) {
  n.aggregates().cache_rebuild([respond](result<uint64_t> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_response(200, json{{"cells", *r}}));
  });
}

void check_route(node& n, request&, respond_fn respond) {
  n.aggregates().cache_check([respond](result<mirror_report> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_response(200, json{{"cells", r->cells},
                                    {"matching", r->matching},
                                    {"missing", r->missing},
                                    {"different", r->different},
                                    {"redis_keys", r->redis_keys},
                                    {"in_sync", r->matching == r->cells
                                                  && r->redis_keys == r->cells}}));
  });
}

// The merges of one aggregate as JSON text frames, once the watch is
// registered (`ready`); a consumer that falls behind is closed with
// `lagged`, and one whose watch lost a member with `unavailable`.
class merge_stream final : public ws_handler {
public:
  merge_stream(node& n, agg::definition def) : node_(n), def_(std::move(def)) {
  }

  void on_open(std::shared_ptr<ws_connection> conn) override {
    auto sink = std::make_shared<socket_sink>(conn);
    auto w = node_.aggregates().watch(def_.name, sink);
    if (!w) {
      sink->on_error(w.err());
      return;
    }
    watch_ = std::move(*w);
  }

  void on_text(std::string_view) override {
  }

  void on_close(uint16_t) override {
    watch_.reset();
  }

private:
  // Outlives the handler while a relay may still call it.
  class socket_sink final : public merge_sink {
  public:
    explicit socket_sink(const std::shared_ptr<ws_connection>& conn) : conn_(conn) {
    }

    void on_ready() override {
      send(json{{"type", "ready"}});
    }

    void on_merge(const merge_event& ev) override {
      json j{{"type", "merge"},      {"aggregate", ev.name},
             {"entity", ev.entity},  {"bucket", ev.bucket},
             {"delta", value_json(ev.delta)}, {"at", format_rfc3339(ev.at)}};
      if (!ev.event_id.empty()) {
        j["event_id"] = ev.event_id;
      }
      send(j);
    }

    void on_error(const error& e) override {
      auto c = conn_.lock();
      if (c == nullptr || ended_.exchange(true)) {
        return;
      }
      auto body = error_json(e);
      body["type"] = "error";
      c->send_final(to_text(body), close_code::try_again_later,
                    std::string{to_string(e.code)});
    }

  private:
    void send(const json& j) {
      auto c = conn_.lock();
      if (c == nullptr || ended_) {
        return;
      }
      if (!c->send_text(to_text(j)) && !ended_.exchange(true)) {
        c->send_final(to_text(json{{"type", "lagged"},
                                   {"message", "consumer too slow; merges were dropped"}}),
                      close_code::try_again_later, "lagged");
      }
    }

    std::weak_ptr<ws_connection> conn_;
    std::atomic<bool> ended_{false};
  };

  node& node_;
  agg::definition def_;
  std::unique_ptr<merge_watch> watch_;
};

} // namespace

void add_aggregate_routes(router& routes, node& n) {
  add_route(routes, n, method::get, "/v1/aggregates", list_route);
  add_route(routes, n, method::put, "/v1/aggregates/{name}", put_route);
  add_route(routes, n, method::get, "/v1/aggregates/{name}", describe_route);
  add_route(routes, n, method::del, "/v1/aggregates/{name}", drop_route);
  add_route(routes, n, method::post, "/v1/aggregates/{name}/merge", merge_route);
  add_route(routes, n, method::post, "/v1/aggregates/{name}/get_many", get_many_route);
  // Before the entity route: an entity named "watch" is read with get_many.
  routes.add_ws("/v1/aggregates/{name}/watch",
                [&n](const request& req) -> result<std::unique_ptr<ws_handler>> {
                  auto def = n.aggregates().find(req.param("name"));
                  if (!def) {
                    return fail(errc::not_found, "no aggregate " + req.param("name"));
                  }
                  if (auto ok = n.aggregates().can_watch(); !ok) {
                    return std::move(ok).err();
                  }
                  return std::unique_ptr<ws_handler>{
                    std::make_unique<merge_stream>(n, std::move(*def))};
                });
  add_route(routes, n, method::get, "/v1/aggregates/{name}/{entity...}", read_route);
  add_route(routes, n, method::post, "/v1/dedup/{scope}/{event_id...}", dedup_route);
  add_route(routes, n, method::post, "/v1/cache/repopulate", repopulate_route);
  add_route(routes, n, method::post, "/v1/cache/check", check_route);
}

} // namespace shoal::http
