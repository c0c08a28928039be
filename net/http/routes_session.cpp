// GET /v1/session: a WebSocket bound to a lease. The server grants the
// lease when the socket opens; keep-alive messages and pings renew it; lock,
// unlock, put, grant, keepalive and revoke requests travel over the same
// socket as JSON with ids. When the socket dies nothing is released early:
// the lease stops being renewed and expires at its TTL.

#include <mutex>

#include "actors/kv_client.hpp"
#include "actors/lock_client.hpp"
#include "actors/lease/live_lease.hpp"
#include "actors/node.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "net/http/views.hpp"
#include "runtime/base64.hpp"

namespace shoal::http {

namespace {

constexpr duration default_session_ttl = std::chrono::seconds{10};
constexpr size_t max_pending = 64;

// A lease in a session message: `id` is the request's, so the lease's id
// goes in `lease`.
json lease_reply(const lease::lease_info& l, time_point now) {
  auto j = lease_json(l, now);
  j.erase("id");
  j["lease"] = l.id;
  return j;
}

// What the connection's strand and the shards' reply callbacks share. The
// connection is held weakly: it owns the handler that owns this.
class session_state : public std::enable_shared_from_this<session_state> {
public:
  session_state(node& n, duration ttl) : node_(n), ttl_(ttl) {
  }

  void open(std::shared_ptr<ws_connection> conn) {
    conn_ = conn;
    auto self = shared_from_this();
    call<lease::lease_info>(
      node_.leases().next_shard(),
      [self](result<lease::lease_info> r) { self->granted(std::move(r)); },
      grant_atom_v, ttl_);
  }

  // A client message (on the connection's strand).
  void on_text(std::string_view text) {
    {
      std::lock_guard guard{mu_};
      if (lease_ == 0) {
        // The grant is still on its way: hold the message until it is.
        if (pending_.size() >= max_pending) {
          send(json{{"ok", false},
                    {"error", {{"code", "overloaded"},
                               {"message", "wait for the session message"}}}});
          return;
        }
        pending_.emplace_back(text);
        return;
      }
    }
    handle(text);
  }

  void on_ping() {
    auto lease = session_lease();
    if (lease != 0) {
      call_lease(node_.placement(), node_.bridge(), node_.leases(), lease,
                 [](result<lease::lease_info>) {}, keepalive_atom_v);
    }
  }

private:
  uint64_t session_lease() {
    std::lock_guard guard{mu_};
    return lease_;
  }

  bool send(const json& j) {
    auto conn = conn_.lock();
    return conn != nullptr && conn->send_text(to_text(j));
  }

  void granted(result<lease::lease_info> r) {
    if (!r) {
      if (auto conn = conn_.lock()) {
        auto body = error_json(r.err());
        body["type"] = "error";
        conn->send_final(to_text(body), close_code::try_again_later,
                         std::string{to_string(r.code())});
      }
      return;
    }
    std::vector<std::string> pending;
    {
      std::lock_guard guard{mu_};
      lease_ = r->id;
      pending.swap(pending_);
    }
    auto j = lease_reply(*r, node_.clock().now());
    j["type"] = "session";
    send(j);
    for (const auto& text : pending) {
      handle(text);
    }
  }

  // Answers request `id` with `fields` (ok) or the error.
  template <class T>
  std::function<void(result<T>)>
  answer(json id, std::function<json(const T&)> fields) {
    return [self = shared_from_this(), id = std::move(id),
            fields = std::move(fields)](result<T> r) {
      json out;
      if (r) {
        out = fields(*r);
        out["ok"] = true;
      } else {
        out = error_json(r.err());
        out["ok"] = false;
      }
      if (!id.is_null()) {
        out["id"] = id;
      }
      self->send(out);
    };
  }

  void refuse(const json& id, const error& e) {
    auto out = error_json(e);
    out["ok"] = false;
    if (!id.is_null()) {
      out["id"] = id;
    }
    send(out);
  }

  // The lease a request names (`lease`; absent: the session's; 0: none).
  result<uint64_t> lease_of(const json& msg) {
    return u64_field(msg, "lease", session_lease());
  }

  void handle(std::string_view text) {
    auto msg = parse_json_object(text);
    if (!msg) {
      refuse(nullptr, msg.err());
      return;
    }
    json id = msg->contains("id") ? (*msg)["id"] : json{};
    auto op = string_field(*msg, "op", true);
    if (!op) {
      refuse(id, op.err());
      return;
    }
    auto r = dispatch(*op, *msg, id);
    if (!r) {
      refuse(id, r.err());
    }
  }

  // keepalive or revoke of the lease the message names.
  template <class Atom>
  result<void> on_lease(const json& msg, const json& id, Atom atom,
                        std::function<json(const lease::lease_info&)> fields) {
    if (auto ok = check_fields(msg, {"id", "op", "lease"}); !ok) {
      return ok;
    }
    auto lease = lease_of(msg);
    if (!lease) {
      return std::move(lease).err();
    }
    call_lease(node_.placement(), node_.bridge(), node_.leases(), *lease,
               answer<lease::lease_info>(id, std::move(fields)), atom);
    return {};
  }

  result<void> dispatch(const std::string& op, const json& msg, const json& id) {
    auto now = [clock = &node_.clock()] { return clock->now(); };
    if (op == "keepalive") {
      return on_lease(msg, id, keepalive_atom_v, [now](const lease::lease_info& l) {
        return lease_reply(l, now());
      });
    }
    if (op == "grant") {
      if (auto ok = check_fields(msg, {"id", "op", "ttl"}); !ok) {
        return ok;
      }
      auto ttl = duration_field(msg, "ttl", default_session_ttl, errc::invalid_ttl);
      if (!ttl) {
        return std::move(ttl).err();
      }
      call<lease::lease_info>(
        node_.leases().next_shard(),
        answer<lease::lease_info>(id, [now](const lease::lease_info& l) {
          return lease_reply(l, now());
        }),
        grant_atom_v, *ttl);
      return {};
    }
    if (op == "revoke") {
      return on_lease(msg, id, revoke_atom_v, [](const lease::lease_info& l) {
        return json{{"lease", l.id}, {"revoked", true}};
      });
    }
    if (op == "lock") {
      if (auto ok = check_fields(msg, {"id", "op", "key", "ttl", "wait", "lease"});
          !ok) {
        return ok;
      }
      lock::acquire_cmd cmd;
      auto key = string_field(msg, "key", true);
      auto ttl = duration_field(msg, "ttl", std::chrono::seconds{30},
                                errc::invalid_ttl);
      auto wait = duration_field(msg, "wait", duration::zero());
      auto lease = lease_of(msg);
      if (!key || !ttl || !wait || !lease) {
        return !key ? key.err() : !ttl ? ttl.err() : !wait ? wait.err() : lease.err();
      }
      cmd.key = *key;
      cmd.ttl = *ttl;
      cmd.wait = *wait;
      cmd.lease = *lease;
      auto done = answer<lock::acquire_result>(id, [](const lock::acquire_result& r) {
        auto j = lock_json(r.info);
        j["token"] = r.info.owner_token;
        return j;
      });
      lock_client{node_}.acquire_async(std::move(cmd), done);
      return {};
    }
    if (op == "unlock") {
      if (auto ok = check_fields(msg, {"id", "op", "key", "token"}); !ok) {
        return ok;
      }
      auto key = string_field(msg, "key", true);
      auto token = string_field(msg, "token", true);
      if (!key || !token) {
        return !key ? key.err() : token.err();
      }
      lock_client{node_}.release_async(*key, *token,
                                       answer<uint64_t>(id, [](uint64_t fence) {
                                         return json{{"released", true},
                                                     {"fence", fence}};
                                       }));
      return {};
    }
    if (op == "put") {
      if (auto ok = check_fields(msg, {"id", "op", "key", "value", "ttl", "lease"});
          !ok) {
        return ok;
      }
      auto key = string_field(msg, "key", true);
      auto value = string_field(msg, "value", false);
      auto ttl = duration_field(msg, "ttl", duration::zero(), errc::invalid_ttl);
      auto lease = lease_of(msg);
      if (!key || !value || !ttl || !lease) {
        return !key ? key.err() : !value ? value.err() : !ttl ? ttl.err() : lease.err();
      }
      auto bytes = base64_decode(*value);
      if (!bytes) {
        return fail(errc::invalid_argument, "value must be base64");
      }
      if (auto ok = validate_key(*key); !ok) {
        return ok;
      }
      kv::put_cmd cmd;
      cmd.key = *key;
      cmd.value = std::move(*bytes);
      cmd.ttl = *ttl;
      cmd.lease = *lease;
      auto done = answer<kv::write_result>(id, [](const kv::write_result& r) {
        return entry_json(r.current, false, r.prev_revision);
      });
      kv_client{node_}.put_async(std::move(cmd), done);
      return {};
    }
    return fail(errc::invalid_argument,
                "unknown op '" + op
                  + "' (keepalive, grant, revoke, lock, unlock, put)");
  }

  node& node_;
  duration ttl_;
  std::weak_ptr<ws_connection> conn_;
  std::mutex mu_;
  uint64_t lease_ = 0;
  std::vector<std::string> pending_;
};

class session_handler final : public ws_handler {
public:
  session_handler(node& n, duration ttl)
    : state_(std::make_shared<session_state>(n, ttl)) {
  }

  void on_open(std::shared_ptr<ws_connection> conn) override {
    state_->open(std::move(conn));
  }

  void on_text(std::string_view message) override {
    state_->on_text(message);
  }

  void on_ping() override {
    state_->on_ping();
  }

  void on_close(uint16_t) override {
    // Nothing is released: the lease runs out at its TTL.
  }

private:
  std::shared_ptr<session_state> state_;
};

} // namespace

void add_session_routes(router& routes, node& n) {
  routes.add_ws("/v1/session", [&n](const request& req)
                                 -> result<std::unique_ptr<ws_handler>> {
    auto ttl = default_session_ttl;
    if (auto* t = req.query_param("ttl")) {
      auto d = parse_duration(*t);
      if (!d) {
        return fail(errc::invalid_ttl, "ttl: " + d.err().message);
      }
      ttl = *d;
    }
    if (auto ok = lease::check_ttl(n.config().leases, ttl); !ok) {
      return std::move(ok).err();
    }
    return std::unique_ptr<ws_handler>{std::make_unique<session_handler>(n, ttl)};
  });
}

} // namespace shoal::http
