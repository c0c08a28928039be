// lock routes: POST /v1/locks/{key} (acquire), POST /v1/locks/{key}/refresh,
// DELETE /v1/locks/{key} (release), GET /v1/locks/{key}.

#include <caf/actor_system.hpp>

#include "actors/cluster/routing.hpp"
#include "actors/node.hpp"
#include "net/http/actor_bridge.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "net/http/views.hpp"

namespace shoal::http {

json lock_json(const lock::lock_info& l) {
  json j{{"key", l.key}, {"held", l.held}, {"fence", l.fence},
         {"waiters", l.waiters}};
  if (l.held) {
    j["acquired"] = format_rfc3339(l.acquired);
    // A lease-bound hold ends with its lease.
    j["expires_at"] = l.expires_at == lock::no_deadline
                        ? json{}
                        : json(format_rfc3339(l.expires_at));
  }
  if (l.lease != 0) {
    j["lease"] = l.lease;
  }
  return j;
}

namespace {

constexpr const char* token_header = "x-shoal-lock-token";

// Sends to the key's lock shard; answers `to_response` of the reply.
template <class T, class ToResponse, class... Ts>
void send(node& n, const std::string& key, respond_fn respond,
          ToResponse to_response, Ts&&... xs) {
  if (auto ok = owner_only(n.placement(), n.locks().shard_of(key), "lock"); !ok) {
    respond(error_response(ok.err()));
    return;
  }
  call<T>(n.locks().shard_for(key),
          [respond, to_response](result<T> r) {
            if (!r) {
              respond(error_response(r.err()));
              return;
            }
            respond(to_response(*r));
          },
          std::forward<Ts>(xs)...);
}

// The owner token from the body or the X-Shoal-Lock-Token header.
result<std::string> token_of(const request& req, const json& body) {
  auto token = string_field(body, "token", false);
  if (!token) {
    return token;
  }
  if (token->empty()) {
    if (const auto* h = req.header(token_header)) {
      return *h;
    }
    return fail(errc::invalid_argument,
                "the owner token is required (field 'token' or header "
                "X-Shoal-Lock-Token)");
  }
  return token;
}

void acquire_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_fields(req, {"ttl", "wait", "lease"});
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  lock::acquire_cmd cmd;
  cmd.key = req.param("key");
  auto ttl = duration_field(*body, "ttl", std::chrono::seconds{30},
                            errc::invalid_ttl);
  auto wait = duration_field(*body, "wait", duration::zero());
  auto lease = u64_field(*body, "lease");
  if (!ttl || !wait || !lease) {
    respond(error_response(!ttl ? ttl.err() : !wait ? wait.err() : lease.err()));
    return;
  }
  cmd.ttl = *ttl;
  cmd.wait = *wait;
  cmd.lease = *lease;
  if (auto ok = owner_only(n.placement(), n.locks().shard_of(cmd.key), "lock"); !ok) {
    respond(error_response(ok.err()));
    return;
  }
  auto shard = n.locks().shard_for(cmd.key);
  call_with_lease<lock::acquire_result>(
    n.leases(), *lease, shard,
    [respond](result<lock::acquire_result> r) {
      if (!r) {
        respond(error_response(r.err()));
        return;
      }
      auto j = lock_json(r->info);
      j["token"] = r->info.owner_token;
      respond(json_response(200, j));
    },
    acquire_atom_v, std::move(cmd));
}

// A call by the owner: its body (only `fields`) and token, or responds.
struct owner_call {
  json body;
  std::string token;
};

std::optional<owner_call> owner_call_of(request& req,
                                        std::initializer_list<std::string_view> fields,
                                        const respond_fn& respond) {
  auto body = parse_json_fields(req, fields);
  if (!body) {
    respond(error_response(body.err()));
    return std::nullopt;
  }
  auto token = token_of(req, *body);
  if (!token) {
    respond(error_response(token.err()));
    return std::nullopt;
  }
  return owner_call{std::move(*body), std::move(*token)};
}

void refresh_route(node& n, request& req, respond_fn respond) {
  auto owner = owner_call_of(req, {"token", "ttl"}, respond);
  if (!owner) {
    return;
  }
  auto key = req.param("key");
  auto ttl = duration_field(owner->body, "ttl", std::chrono::seconds{30},
                            errc::invalid_ttl);
  if (!ttl) {
    respond(error_response(ttl.err()));
    return;
  }
  send<lock::lock_info>(
    n, key, std::move(respond),
    [](const lock::lock_info& l) { return json_response(200, lock_json(l)); },
    refresh_atom_v, key, std::move(owner->token), *ttl);
}

void release_route(node& n, request& req, respond_fn respond) {
  auto owner = owner_call_of(req, {"token"}, respond);
  if (!owner) {
    return;
  }
  auto key = req.param("key");
  send<uint64_t>(n, key, std::move(respond),
             [](uint64_t fence) {
               return json_response(200, json{{"released", true}, {"fence", fence}});
             },
             release_atom_v, key, std::move(owner->token));
}

void get_route(node& n, request& req, respond_fn respond) {
  auto key = req.param("key");
  send<lock::lock_info>(
    n, key, std::move(respond),
    [](const lock::lock_info& l) { return json_response(200, lock_json(l)); },
    get_atom_v, key);
}

} // namespace

void add_lock_routes(router& routes, node& n) {
  add_route(routes, n, method::post, "/v1/locks/{key}", acquire_route);
  add_route(routes, n, method::post, "/v1/locks/{key}/refresh", refresh_route);
  add_route(routes, n, method::del, "/v1/locks/{key}", release_route);
  add_route(routes, n, method::get, "/v1/locks/{key}", get_route);
}

} // namespace shoal::http
