// lock routes: POST /v1/locks/{key} (acquire), POST /v1/locks/{key}/refresh,
// DELETE /v1/locks/{key} (release), GET /v1/locks/{key}.

#include <caf/actor_system.hpp>

#include "actors/lock_client.hpp"
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

// Answers `to_response` of a lock shard's reply, or its error.
template <class T, class ToResponse>
std::function<void(result<T>)> answer(respond_fn respond, ToResponse to_response) {
  return [respond, to_response](result<T> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(to_response(*r));
  };
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
  lock_client{n}.acquire_async(
    std::move(cmd),
    answer<lock::acquire_result>(std::move(respond), [](const lock::acquire_result& r) {
      auto j = lock_json(r.info);
      j["token"] = r.info.owner_token;
      return json_response(200, j);
    }));
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
  lock_client{n}.refresh_async(
    key, std::move(owner->token), *ttl,
    answer<lock::lock_info>(std::move(respond), [](const lock::lock_info& l) {
      return json_response(200, lock_json(l));
    }));
}

void release_route(node& n, request& req, respond_fn respond) {
  auto owner = owner_call_of(req, {"token"}, respond);
  if (!owner) {
    return;
  }
  auto key = req.param("key");
  lock_client{n}.release_async(
    key, std::move(owner->token), answer<uint64_t>(std::move(respond), [](uint64_t fence) {
      return json_response(200, json{{"released", true}, {"fence", fence}});
    }));
}

void get_route(node& n, request& req, respond_fn respond) {
  auto key = req.param("key");
  lock_client{n}.get_async(
    key, answer<lock::lock_info>(std::move(respond), [](const lock::lock_info& l) {
      return json_response(200, lock_json(l));
    }));
}

} // namespace

void add_lock_routes(router& routes, node& n) {
  add_route(routes, n, method::post, "/v1/locks/{key}", acquire_route);
  add_route(routes, n, method::post, "/v1/locks/{key}/refresh", refresh_route);
  add_route(routes, n, method::del, "/v1/locks/{key}", release_route);
  add_route(routes, n, method::get, "/v1/locks/{key}", get_route);
}

} // namespace shoal::http
