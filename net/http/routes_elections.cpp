// The election routes: POST /v1/elections/{name}/campaign,
// POST /v1/elections/{name}/resign, GET /v1/elections/{name} (the leader).
// Observing is a watch of the leader record (routes_watch.cpp). The
// election itself is net/http/election.hpp.

#include "net/http/election.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"

namespace shoal::http {

namespace {

constexpr duration default_campaign_wait = std::chrono::hours{1};

void campaign_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_fields(req, {"value", "lease", "wait"}, false);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto value = string_field(*body, "value", false);
  auto lease = u64_field(*body, "lease");
  auto wait = duration_field(*body, "wait", default_campaign_wait);
  if (!value || !lease || !wait) {
    respond(error_response(!value ? value.err() : !lease ? lease.err() : wait.err()));
    return;
  }
  campaign_async(n, req.param("name"), *value, *lease, *wait,
                 [respond](result<leadership> r) {
                   if (!r) {
                     respond(error_response(r.err()));
                     return;
                   }
                   respond(json_response(200, leadership_json(*r)));
                 });
}

void resign_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_fields(req, {"token"}, false);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto token = string_field(*body, "token", true);
  if (!token) {
    respond(error_response(token.err()));
    return;
  }
  resign_async(n, req.param("name"), *token, [respond](result<void> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_response(200, json{{"resigned", true}}));
  });
}

void leader_route(node& n, request& req, respond_fn respond) {
  leader_async(n, req.param("name"), [respond](result<leadership> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_response(200, leadership_json(*r)));
  });
}

} // namespace

void add_election_routes(router& routes, node& n) {
  add_route(routes, n, method::post, "/v1/elections/{name}/campaign", campaign_route);
  add_route(routes, n, method::post, "/v1/elections/{name}/resign", resign_route);
  add_route(routes, n, method::get, "/v1/elections/{name}", leader_route);
}

} // namespace shoal::http
