// stream routes: POST/GET /v1/streams/{stream}/events, GET/PUT
// /v1/streams/{stream}, GET /v1/streams, checkpoints, replay and the tail
// WebSocket; entity routes: POST /v1/entities/{id}/events, GET
// /v1/entities/{id} and GET /v1/entities.

#include <atomic>

#include <caf/send.hpp>

#include "actors/node.hpp"
#include "actors/stream_client.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "net/http/stream_json.hpp"

namespace shoal::http {

namespace {

constexpr uint64_t default_read_limit = 100;
constexpr uint64_t default_list_limit = 100;
constexpr uint64_t max_list_limit = 1000;

// Responds with `r`'s error, or with `to_response(value)`.
template <class T, class ToResponse>
std::function<void(result<T>)> answer(respond_fn respond, ToResponse to_response) {
  return [respond = std::move(respond), to_response](result<T> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(to_response(*r));
  };
}

// `status` with `body`, or the error that building the body met.
response json_or_error(unsigned status, const result<json>& body) {
  return body ? json_response(status, *body) : error_response(body.err());
}

// The route's stream name if valid, or nullopt after responding with the
// error. Reads accept the node's own (`$`) streams; writes do not.
std::optional<std::string> stream_of(const request& req, const respond_fn& respond,
                                     bool writing) {
  auto name = req.param("stream");
  auto ok = writing ? validate_public_stream(name)
                    : stream::validate_stream_name(name);
  if (!ok) {
    respond(error_response(ok.err()));
    return std::nullopt;
  }
  return name;
}

// The query of a listing: a filter (`filter_name`, else `fallback`),
// `after` and `limit` (1..max_list_limit).
struct listing {
  std::string filter;
  std::string after;
  uint64_t limit = default_list_limit;
};

// The listing query, or nullopt after responding with the error.
std::optional<listing> listing_of(const request& req, const char* filter_name,
                                  std::string fallback, const respond_fn& respond) {
  listing out;
  const auto* f = req.query_param(filter_name);
  out.filter = f != nullptr ? *f : std::move(fallback);
  if (const auto* a = req.query_param("after")) {
    out.after = *a;
  }
  if (!take(u64_query(req, "limit", default_list_limit), out.limit, respond)) {
    return std::nullopt;
  }
  if (out.limit == 0 || out.limit > max_list_limit) {
    respond(error_response(error{errc::invalid_argument,
                                 "limit must be 1.." + std::to_string(max_list_limit)}));
    return std::nullopt;
  }
  return out;
}

// The JSON body of an append (stream or entity) without its `expected`
// member, which goes to `expected` (or else the `expected` query
// parameter); nullopt after responding with the error.
std::optional<json> append_body(const request& req, stream::expectation& expected,
                                const respond_fn& respond) {
  auto body = parse_json_object(req);
  if (!body) {
    respond(error_response(body.err()));
    return std::nullopt;
  }
  if (auto it = body->find("expected"); it != body->end()) {
    if (!take(parse_expectation(*it), expected, respond)) {
      return std::nullopt;
    }
    body->erase(it);
  } else if (const auto* q = req.query_param("expected")) {
    if (!take(parse_expectation(json(*q)), expected, respond)) {
      return std::nullopt;
    }
  }
  return std::move(*body);
}

// The answer to an append, written directly (it is on the hot path).
std::string append_text(const stream::append_result& r) {
  json_writer out;
  out.begin_object();
  out.key("appended").value(uint64_t{r.appended()});
  out.key("duplicate").begin_array();
  for (auto d : r.duplicate) {
    out.value(d != 0);
  }
  out.end_array();
  out.key("last_seq").value(r.last_seq);
  out.key("seqs").begin_array();
  for (auto s : r.seqs) {
    out.value(uint64_t{s});
  }
  out.end_array();
  out.key("stream").value(r.stream);
  out.key("time").value(format_rfc3339(r.time));
  out.end_object();
  return out.take();
}

json append_json(const stream::append_result& r) {
  return json::parse(append_text(r));
}

void append_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, true);
  if (!name) {
    return;
  }
  stream::append_cmd cmd;
  cmd.stream = *name;
  auto body = append_body(req, cmd.expected, respond);
  if (!body) {
    return;
  }
  if (body->contains("events")) {
    if (auto ok = check_fields(*body, {"events"}); !ok) {
      respond(error_response(ok.err()));
      return;
    }
  }
  if (!take(parse_events(*body), cmd.events, respond)) {
    return;
  }
  call_stream<stream::append_result>(
    n, *name,
    answer<stream::append_result>(std::move(respond),
                                  [](const stream::append_result& r) {
                                    return json_text_response(
                                      r.appended() > 0 ? 201 : 200, append_text(r));
                                  }),
    append_atom_v, std::move(cmd));
}

result<json> page_json(const std::string& stream, const stream::event_page& p) {
  json events = json::array();
  for (const auto& e : p.events) {
    auto one = event_json(e);
    if (!one) {
      return one;
    }
    events.push_back(std::move(*one));
  }
  json j{{"stream", stream},
         {"events", std::move(events)},
         {"first_seq", p.first_seq},
         {"last_seq", p.last_seq}};
  if (p.next != 0) {
    j["next"] = p.next;
  }
  return j;
}

void read_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, false);
  if (!name) {
    return;
  }
  stream::read_query q;
  q.stream = *name;
  uint64_t limit = 0;
  if (const auto* d = req.query_param("direction")) {
    if (*d != "forward" && *d != "backward") {
      respond(error_response(
        error{errc::invalid_argument, "direction must be forward or backward"}));
      return;
    }
    q.backward = *d == "backward";
  }
  if (!take(u64_query(req, "from", q.backward ? 0 : 1), q.from, respond)
      || !take(u64_query(req, "to"), q.to, respond)
      || !take(u64_query(req, "limit", default_read_limit), limit, respond)) {
    return;
  }
  q.limit = static_cast<uint32_t>(std::min<uint64_t>(limit, UINT32_MAX));
  call_stream<stream::event_page>(
    n, *name,
    answer<stream::event_page>(std::move(respond),
                               [stream = *name](const stream::event_page& p) {
                                 return json_or_error(200, page_json(stream, p));
                               }),
    read_atom_v, std::move(q));
}

void info_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, false);
  if (!name) {
    return;
  }
  call_stream<stream::stream_info>(
    n, *name,
    answer<stream::stream_info>(std::move(respond),
                                [](const stream::stream_info& s) {
                                  return json_response(200, stream_info_json(s));
                                }),
    info_atom_v, *name);
}

void configure_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, true);
  if (!name) {
    return;
  }
  auto body = parse_json_fields(req, {"max_count", "max_age", "truncate_before"},
                                false);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  stream::configure_cmd cmd;
  cmd.stream = *name;
  if (body->contains("max_count")) {
    uint64_t v = 0;
    if (!take(u64_field(*body, "max_count"), v, respond)) {
      return;
    }
    cmd.max_count = v;
  }
  if (body->contains("max_age")) {
    duration d{0};
    if (!take(duration_field(*body, "max_age", duration{0}), d, respond)) {
      return;
    }
    cmd.max_age = d;
  }
  if (body->contains("truncate_before")) {
    uint64_t v = 0;
    if (!take(u64_field(*body, "truncate_before"), v, respond)) {
      return;
    }
    cmd.truncate_before = v;
  }
  call_stream<stream::stream_info>(
    n, *name,
    answer<stream::stream_info>(std::move(respond),
                                [](const stream::stream_info& s) {
                                  return json_response(200, stream_info_json(s));
                                }),
    put_atom_v, std::move(cmd));
}

void list_route(node& n, request& req, respond_fn respond) {
  auto q = listing_of(req, "prefix", "", respond);
  if (!q) {
    return;
  }
  auto limit = q->limit;
  // One more than asked: whether there is a next page.
  stream_client{n}.list_async(
    q->filter, q->after, static_cast<uint32_t>(limit + 1),
    [respond, limit](result<std::vector<std::string>> names) {
      if (!names) {
        respond(error_response(names.err()));
        return;
      }
      json j{{"streams", json::array()}};
      for (size_t i = 0; i < names->size() && i < limit; ++i) {
        j["streams"].push_back((*names)[i]);
      }
      if (names->size() > limit) {
        j["after"] = (*names)[limit - 1];
      }
      respond(json_response(200, j));
    });
}

void save_checkpoint_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, true);
  if (!name) {
    return;
  }
  uint64_t seq = 0;
  if (!take(parse_u64(req.param("seq"), "seq"), seq, respond)) {
    return;
  }
  stream::checkpoint cp{*name, seq, {}, req.body, stream::payload_format::binary};
  const auto* type = req.header("content-type");
  if (type != nullptr && type->starts_with("application/json")) {
    if (auto ok = parse_json(req.body); !ok) {
      respond(error_response(error{errc::invalid_argument,
                                   "the checkpoint body: " + ok.err().message}));
      return;
    }
    cp.format = stream::payload_format::json;
  }
  call_stream<stream::checkpoint>(
    n, *name,
    answer<stream::checkpoint>(std::move(respond),
                               [](const stream::checkpoint& c) {
                                 return json_response(
                                   201, json{{"stream", c.stream},
                                             {"seq", c.seq},
                                             {"saved", format_rfc3339(c.saved)}});
                               }),
    save_atom_v, std::move(cp));
}

// Loads the newest checkpoint ≤ `at_or_before`; with `exact`, only one at
// that seq.
void load_checkpoint(node& n, const std::string& name, uint64_t at_or_before,
                     bool exact, respond_fn respond) {
  call_stream<stream::checkpoint>(
    n, name,
    answer<stream::checkpoint>(std::move(respond),
                               [exact, at_or_before](const stream::checkpoint& c) {
                                 if (exact && c.seq != at_or_before) {
                                   return error_response(error{
                                     errc::not_found,
                                     "no checkpoint of " + c.stream + " at seq "
                                       + std::to_string(at_or_before)});
                                 }
                                 return json_or_error(200, checkpoint_json(c));
                               }),
    load_atom_v, name, at_or_before);
}

void get_checkpoint_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, false);
  uint64_t seq = 0;
  if (!name || !take(parse_u64(req.param("seq"), "seq"), seq, respond)) {
    return;
  }
  if (seq == 0) {
    respond(error_response(error{errc::not_found, "no checkpoint at seq 0"}));
    return;
  }
  load_checkpoint(n, *name, seq, true, std::move(respond));
}

void find_checkpoint_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, false);
  uint64_t at = 0;
  if (!name || !take(u64_query(req, "at_or_before"), at, respond)) {
    return;
  }
  load_checkpoint(n, *name, at, false, std::move(respond));
}

void replay_route(node& n, request& req, respond_fn respond) {
  auto name = stream_of(req, respond, false);
  uint64_t target = 0;
  uint64_t limit = 0;
  if (!name || !take(u64_query(req, "target"), target, respond)
      || !take(u64_query(req, "limit", 1000), limit, respond)) {
    return;
  }
  auto lim = static_cast<uint32_t>(std::min<uint64_t>(limit, UINT32_MAX));
  call_stream<stream::replay_page>(
    n, *name,
    answer<stream::replay_page>(
      std::move(respond),
      [stream = *name](const stream::replay_page& r) {
        auto j = page_json(stream, r.page);
        if (!j) {
          return error_response(j.err());
        }
        (*j)["target"] = r.target;
        (*j)["checkpoint"] = json(nullptr);
        if (r.has_checkpoint) {
          auto cp = checkpoint_json(r.from);
          if (!cp) {
            return error_response(cp.err());
          }
          (*j)["checkpoint"] = std::move(*cp);
        }
        return json_response(200, *j);
      }),
    replay_atom_v, *name, target, lim);
}

// Tail deliveries as JSON text frames on one WebSocket. Holds the
// connection weakly (the connection owns the handler that owns the sink).
class ws_tail_sink final : public stream_tail_sink {
public:
  explicit ws_tail_sink(std::shared_ptr<ws_connection> conn)
    : conn_(std::move(conn)) {
  }

  void close() {
    open_ = false;
  }

  bool on_event(const stream::event& ev) override {
    auto j = event_json(ev);
    if (!j) {
      // The tail ends with the error; the event counts as handled.
      on_error(j.err());
      return true;
    }
    (*j)["kind"] = "event";
    return send(to_text(*j));
  }

  bool on_live(uint64_t seq) override {
    return send(to_text(json{{"kind", "live"}, {"seq", seq}}));
  }

  bool on_progress(uint64_t seq) override {
    return send(to_text(json{{"kind", "progress"}, {"seq", seq}}));
  }

  void on_lagged(uint64_t next) override {
    send_final(to_text(json{{"kind", "lagged"},
                            {"next", next},
                            {"message", "consumer too slow; resume from next"}}),
               close_code::try_again_later, "lagged");
  }

  void on_error(const error& e) override {
    auto body = error_json(e);
    body["kind"] = "error";
    send_final(to_text(body), close_code::policy_violation,
               std::string{to_string(e.code)});
  }

  bool is_open() const override {
    return open_ && !conn_.expired();
  }

private:
  bool send(std::string text) {
    auto conn = conn_.lock();
    return conn == nullptr || conn->send_text(std::move(text));
  }

  void send_final(std::string text, uint16_t code, std::string reason) {
    open_ = false;
    if (auto conn = conn_.lock()) {
      conn->send_final(std::move(text), code, std::move(reason));
    }
  }

  std::weak_ptr<ws_connection> conn_;
  std::atomic<bool> open_{true};
};

class tail_handler final : public ws_handler {
public:
  tail_handler(node& n, std::string stream, uint64_t from)
    : node_(n), stream_(std::move(stream)), from_(from) {
  }

  ~tail_handler() override {
    stop();
  }

  void on_open(std::shared_ptr<ws_connection> conn) override {
    sink_ = std::make_shared<ws_tail_sink>(std::move(conn));
    if (auto ok = stream_client{node_}.tail(stream_, from_, sink_); !ok) {
      sink_->on_error(ok.err());
    }
  }

  void on_text(std::string_view) override {
    // Clients have nothing to say on a tail socket; pings keep it alive.
  }

  void on_close(uint16_t) override {
    stop();
  }

private:
  void stop() {
    if (sink_) {
      sink_->close();
      sink_ = nullptr;
    }
  }

  node& node_;
  std::string stream_;
  uint64_t from_;
  std::shared_ptr<ws_tail_sink> sink_;
};

std::optional<std::string> entity_of(const request& req, const respond_fn& respond) {
  auto id = req.param("id");
  if (auto ok = stream::validate_entity_id(id); !ok) {
    respond(error_response(ok.err()));
    return std::nullopt;
  }
  return id;
}

void entity_append_route(node& n, request& req, respond_fn respond) {
  auto id = entity_of(req, respond);
  if (!id) {
    return;
  }
  stream::append_cmd cmd;
  cmd.stream = stream::entity_stream(*id);
  auto body = append_body(req, cmd.expected, respond);
  if (!body) {
    return;
  }
  std::vector<json> items;
  if (auto list = body->find("events"); list != body->end()) {
    if (auto ok = check_fields(*body, {"events"}); !ok || !list->is_array()
                                                   || list->empty()) {
      respond(error_response(error{errc::invalid_argument,
                                   "events must be a non-empty array of changes"}));
      return;
    }
    items.assign(list->begin(), list->end());
  } else {
    items.push_back(*body);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    std::string event_id;
    auto c = parse_change(items[i], event_id);
    if (!c) {
      auto e = std::move(c).err();
      e.message = "events[" + std::to_string(i) + "]: " + e.message;
      respond(error_response(e));
      return;
    }
    cmd.events.push_back(stream::change_event(*c, std::move(event_id)));
  }
  // The name is copied: `cmd` is moved into the message.
  auto name = cmd.stream;
  call_stream<stream::append_result>(
    n, name,
    std::function<void(result<stream::append_result>)>{
      [&n, respond, id = *id](result<stream::append_result> r) {
        if (!r) {
          respond(error_response(r.err()));
          return;
        }
        auto j = append_json(*r);
        j.erase("stream");
        j["entity_id"] = id;
        auto status = r->appended() > 0 ? 201 : 200;
        // The projection was promoted before the append's answer.
        stream_client{n}.entity_async(
          id, 0, [respond, j, status](result<stream::entity_state> s) mutable {
            j["entity"] = nullptr;
            if (s) {
              auto e = entity_json(*s);
              if (!e) {
                respond(error_response(e.err()));
                return;
              }
              j["entity"] = std::move(*e);
            }
            respond(json_response(status, j));
          });
      }},
    append_atom_v, std::move(cmd));
}

void entity_route(node& n, request& req, respond_fn respond) {
  auto id = entity_of(req, respond);
  if (!id) {
    return;
  }
  // `at`: time travel, the entity's events up to that seq folded.
  uint64_t at = 0;
  if (req.query_param("at") != nullptr && !take(u64_query(req, "at"), at, respond)) {
    return;
  }
  stream_client{n}.entity_async(*id, at, [respond](result<stream::entity_state> s) {
    respond(s ? json_or_error(200, entity_json(*s)) : error_response(s.err()));
  });
}

void entities_route(node& n, request& req, respond_fn respond) {
  auto q = listing_of(req, "pattern", ">", respond);
  if (!q) {
    return;
  }
  auto limit = q->limit;
  stream_client{n}.entities_async(
    q->filter, q->after, limit + 1,
    [respond, limit](result<std::vector<stream::entity_state>> found) {
      if (!found) {
        respond(error_response(found.err()));
        return;
      }
      json j{{"entities", json::array()}};
      for (size_t i = 0; i < found->size() && i < limit; ++i) {
        auto e = entity_json((*found)[i]);
        if (!e) {
          respond(error_response(e.err()));
          return;
        }
        j["entities"].push_back(std::move(*e));
      }
      if (found->size() > limit) {
        j["after"] = (*found)[limit - 1].id;
      }
      respond(json_response(200, j));
    });
}

} // namespace

void add_stream_routes(router& routes, node& n) {
  add_route(routes, n, method::get, "/v1/entities", entities_route);
  add_route(routes, n, method::get, "/v1/entities/{id}", entity_route);
  add_route(routes, n, method::post, "/v1/entities/{id}/events", entity_append_route);
  add_route(routes, n, method::get, "/v1/streams", list_route);
  add_route(routes, n, method::get, "/v1/streams/{stream}", info_route);
  add_route(routes, n, method::put, "/v1/streams/{stream}", configure_route);
  add_route(routes, n, method::post, "/v1/streams/{stream}/events", append_route);
  add_route(routes, n, method::get, "/v1/streams/{stream}/events", read_route);
  add_route(routes, n, method::get, "/v1/streams/{stream}/checkpoints",
            find_checkpoint_route);
  add_route(routes, n, method::put, "/v1/streams/{stream}/checkpoints/{seq}",
            save_checkpoint_route);
  add_route(routes, n, method::get, "/v1/streams/{stream}/checkpoints/{seq}",
            get_checkpoint_route);
  add_route(routes, n, method::get, "/v1/streams/{stream}/replay", replay_route);
  routes.add_ws("/v1/streams/{stream}/tail",
                [&n](const request& req) -> result<std::unique_ptr<ws_handler>> {
                  auto name = req.param("stream");
                  if (auto ok = stream::validate_stream_name(name); !ok) {
                    return std::move(ok).err();
                  }
                  auto from = u64_query(req, "from");
                  if (!from) {
                    return std::move(from).err();
                  }
                  // Refused before the upgrade while the owner is not
                  // reachable.
                  if (auto ok = stream_client{n}.reachable(name); !ok) {
                    return std::move(ok).err();
                  }
                  return std::unique_ptr<ws_handler>{
                    std::make_unique<tail_handler>(n, std::move(name), *from)};
                });
}

} // namespace shoal::http
