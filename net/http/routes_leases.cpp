// lease routes: POST /v1/leases (grant), POST /v1/leases/{id}/keepalive,
// DELETE /v1/leases/{id} (revoke), GET /v1/leases/{id}; and the lease check
// that lease-bound kv puts and lock acquires go through.

#include <charconv>

#include "actors/lease/live_lease.hpp"
#include "actors/node.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "net/http/views.hpp"

namespace shoal::http {

json lease_json(const lease::lease_info& l, time_point now) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    l.expires_at - now);
  return json{{"id", l.id},
              {"ttl", format_duration(l.ttl)},
              {"granted", format_rfc3339(l.granted)},
              {"expires_at", format_rfc3339(l.expires_at)},
              {"remaining_ms", std::max<int64_t>(left.count(), 0)}};
}

namespace {

result<uint64_t> lease_id_of(const request& req) {
  const auto& text = req.param("id");
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id == 0) {
    return fail(errc::invalid_argument, "lease id must be a positive integer");
  }
  return id;
}

// Sends `atom, id` to the lease's shard and answers with the lease (status
// `status`) or `to_json` of it.
template <class Atom>
void send(node& n, uint64_t id, respond_fn respond, Atom atom,
          json (*to_json)(const lease::lease_info&, time_point)) {
  const auto* clock = &n.clock();
  call_lease(n.placement(), n.bridge(), n.leases(), id,
             [respond = std::move(respond), to_json,
              clock](result<lease::lease_info> r) {
               if (!r) {
                 respond(error_response(r.err()));
                 return;
               }
               respond(json_response(200, to_json(*r, clock->now())));
             },
             atom);
}

void grant_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_fields(req, {"ttl"});
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto ttl = duration_field(*body, "ttl", std::chrono::seconds{60},
                            errc::invalid_ttl);
  if (!ttl) {
    respond(error_response(ttl.err()));
    return;
  }
  const auto* clock = &n.clock();
  call<lease::lease_info>(n.leases().next_shard(),
                          [respond = std::move(respond),
                           clock](result<lease::lease_info> r) {
                            if (!r) {
                              respond(error_response(r.err()));
                              return;
                            }
                            respond(json_response(201, lease_json(*r, clock->now())));
                          },
                          grant_atom_v, *ttl);
}

template <class Atom, json (*ToJson)(const lease::lease_info&, time_point)>
void by_id(node& n, request& req, respond_fn respond) {
  auto id = lease_id_of(req);
  if (!id) {
    respond(error_response(id.err()));
    return;
  }
  send(n, *id, std::move(respond), Atom{}, ToJson);
}

json revoked_json(const lease::lease_info& l, time_point) {
  return json{{"id", l.id}, {"revoked", true}};
}

} // namespace

void add_lease_routes(router& routes, node& n) {
  add_route(routes, n, method::post, "/v1/leases", grant_route);
  add_route(routes, n, method::post, "/v1/leases/{id}/keepalive",
            by_id<keepalive_atom, lease_json>);
  add_route(routes, n, method::del, "/v1/leases/{id}",
            by_id<revoke_atom, revoked_json>);
  add_route(routes, n, method::get, "/v1/leases/{id}",
            by_id<get_atom, lease_json>);
}

} // namespace shoal::http
