// GET /v1/watch: a WebSocket stream of kv changes for a pattern, resumable
// from a cursor, with optional initial values and server-side filters.

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/kv/kv_watch.hpp"
#include "actors/node.hpp"
#include "net/http/election.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "runtime/base64.hpp"

namespace shoal::http {

namespace {

bool flag(const request& req, std::string_view name) {
  auto* v = req.query_param(name);
  return v != nullptr && (v->empty() || *v == "true" || *v == "1");
}

// Turns watch deliveries into JSON text frames on one WebSocket. Holds the
// connection weakly: the connection owns the handler that owns the watch,
// so a strong reference here would keep all three alive forever.
class ws_watch_sink : public kv_watch_sink {
public:
  explicit ws_watch_sink(std::shared_ptr<ws_connection> conn)
    : conn_(std::move(conn)) {
  }

  bool send(std::string text) {
    auto conn = conn_.lock();
    // A vanished connection takes the watch down with it: drop quietly.
    return conn == nullptr || conn->send_text(std::move(text));
  }

  void send_final(std::string text, uint16_t code, std::string reason) {
    if (auto conn = conn_.lock()) {
      conn->send_final(std::move(text), code, std::move(reason));
    }
  }

  bool on_value(const kv::entry& e) override {
    json j{{"type", "value"},
           {"key", e.key},
           {"value", base64_encode(e.value)},
           {"revision", e.revision},
           {"version", e.version},
           {"modified", format_rfc3339(e.modified)}};
    return send(to_text(j));
  }

  bool on_synced(const std::string& c) override {
    return send(to_text(json{{"type", "synced"}, {"cursor", c}}));
  }

  bool on_event(const kv::event& ev, const std::string& c) override {
    // One change goes to every watcher of its pattern, one after another
    // on this thread: the frame without its cursor is rendered once.
    thread_local kv::event last;
    thread_local std::string rendered;
    if (rendered.empty() || !(ev == last)) {
      json j{{"type", "event"},
             {"key", ev.key},
             {"operation", kv::to_string(ev.op)},
             {"revision", ev.revision},
             {"prev_revision", ev.prev_revision},
             {"shard", ev.shard},
             {"at", format_rfc3339(ev.at)}};
      if (ev.op == kv::operation::put) {
        j["value"] = base64_encode(ev.value);
      }
      rendered = to_text(j);
      rendered.pop_back(); // the closing brace: the cursor goes last
      last = ev;
    }
    std::string text;
    text.reserve(rendered.size() + c.size() + 14);
    text.append(rendered).append(R"(,"cursor":")").append(c).append(R"("})");
    return send(std::move(text));
  }

  bool on_progress(const std::string& c) override {
    return send(to_text(json{{"type", "progress"}, {"cursor", c}}));
  }

  bool on_detached(uint16_t shard, const std::string& why,
                   const std::string& c) override {
    return send(to_text(json{
      {"type", "detached"}, {"shard", shard}, {"message", why}, {"cursor", c}}));
  }

  bool on_attached(uint16_t shard, const std::string& c) override {
    return send(to_text(json{{"type", "attached"}, {"shard", shard}, {"cursor", c}}));
  }

  void on_lagged(const std::string& c) override {
    send_final(
      to_text(json{{"type", "lagged"},
                {"cursor", c},
                {"message", "consumer too slow; resume from cursor"}}),
      close_code::try_again_later, "lagged");
  }

  void on_error(const error& e, const std::string& c) override {
    auto body = error_json(e);
    body["type"] = "error";
    body["cursor"] = c;
    send_final(to_text(body), close_code::policy_violation,
                      std::string{to_string(e.code)});
  }

private:
  std::weak_ptr<ws_connection> conn_;
};

// An election's leader changes: the leader record when one is elected
// (or at the start, if there is one), `no_leader` when the record goes.
class election_watch_sink final : public ws_watch_sink {
public:
  election_watch_sink(std::shared_ptr<ws_connection> conn, std::string name)
    : ws_watch_sink(std::move(conn)), name_(std::move(name)) {
  }

  bool on_value(const kv::entry& e) override {
    return send(to_text(leader(e.value, {})));
  }

  // An election's watchers get leader changes only.
  bool on_detached(uint16_t, const std::string&, const std::string&) override {
    return true;
  }
  bool on_attached(uint16_t, const std::string&) override {
    return true;
  }

  bool on_event(const kv::event& ev, const std::string& c) override {
    if (ev.op == kv::operation::put) {
      return send(to_text(leader(ev.value, c)));
    }
    return send(to_text(json{{"type", "no_leader"}, {"name", name_}, {"cursor", c}}));
  }

private:
  json leader(const std::string& value, const std::string& c) const {
    auto l = parse_leader_record(name_, value);
    auto record = l ? leadership_json(*l) : json{{"name", name_}};
    record["type"] = "leader";
    if (!c.empty()) {
      record["cursor"] = c;
    }
    return record;
  }

  std::string name_;
};

using sink_factory
  = std::function<std::shared_ptr<kv_watch_sink>(std::shared_ptr<ws_connection>)>;

class watch_handler final : public ws_handler {
public:
  watch_handler(node& n, kv_watch_options opts, sink_factory make_sink = {})
    : node_(n), opts_(std::move(opts)), make_sink_(std::move(make_sink)) {
  }

  ~watch_handler() override {
    stop();
  }

  void on_open(std::shared_ptr<ws_connection> conn) override {
    auto sink = make_sink_ ? make_sink_(std::move(conn))
                           : std::make_shared<ws_watch_sink>(std::move(conn));
    watch_ = spawn_kv_watch(node_.system(), node_.kv(), node_.placement(), opts_,
                            std::move(sink));
  }

  void on_text(std::string_view) override {
    // Clients have nothing to say on a watch socket; pings keep it alive.
  }

  void on_close(uint16_t) override {
    stop();
  }

private:
  void stop() {
    if (watch_) {
      caf::anon_send_exit(watch_, caf::exit_reason::user_shutdown);
      watch_ = nullptr;
    }
  }

  node& node_;
  kv_watch_options opts_;
  sink_factory make_sink_;
  caf::actor watch_;
};

} // namespace

void add_watch_routes(router& routes, node& n) {
  routes.add_ws("/v1/watch", [&n](const request& req)
                               -> result<std::unique_ptr<ws_handler>> {
    kv_watch_options opts;
    if (auto* p = req.query_param("pattern")) {
      opts.pattern = *p;
    }
    if (auto* c = req.query_param("cursor")) {
      opts.cursor = *c;
    }
    opts.initial = flag(req, "initial");
    opts.no_put = flag(req, "no_puts");
    opts.no_delete = flag(req, "no_deletes");
    if (auto* p = req.query_param("progress")) {
      auto d = parse_duration(*p);
      if (!d || *d < std::chrono::milliseconds{100}) {
        return fail(errc::invalid_argument,
                    "progress must be a duration of at least 100ms");
      }
      opts.progress_interval = *d;
    }
    auto shards = static_cast<uint32_t>(n.kv().shards().size());
    if (auto ok = validate_watch(opts, shards); !ok) {
      return std::move(ok).err();
    }
    // A watch starts only with every shard it needs (later it outlives
    // the loss of an owner, and resumes with it).
    if (auto ok = watch_reachable(n.kv(), n.placement(), opts.pattern); !ok) {
      return std::move(ok).err();
    }
    return std::unique_ptr<ws_handler>{
      std::make_unique<watch_handler>(n, std::move(opts))};
  });
  routes.add_ws("/v1/elections/{name}/observe", [&n](const request& req)
                                                  -> result<std::unique_ptr<ws_handler>> {
    auto name = req.param("name");
    auto key = checked_election_key(name);
    if (!key) {
      return std::move(key).err();
    }
    kv_watch_options opts;
    opts.pattern = std::move(*key);
    opts.initial = true;
    if (auto* c = req.query_param("cursor")) {
      opts.cursor = *c;
      opts.initial = false;
    }
    auto shards = static_cast<uint32_t>(n.kv().shards().size());
    if (auto ok = validate_watch(opts, shards); !ok) {
      return std::move(ok).err();
    }
    // A watch starts only with every shard it needs (later it outlives
    // the loss of an owner, and resumes with it).
    if (auto ok = watch_reachable(n.kv(), n.placement(), opts.pattern); !ok) {
      return std::move(ok).err();
    }
    return std::unique_ptr<ws_handler>{std::make_unique<watch_handler>(
      n, std::move(opts), [name](std::shared_ptr<ws_connection> conn) {
        return std::make_shared<election_watch_sink>(std::move(conn), name);
      })};
  });
}

} // namespace shoal::http
