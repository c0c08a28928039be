// idempotency routes: POST /v1/idempotency/{key}/begin|touch|complete|fail,
// GET and DELETE /v1/idempotency/{key}, POST /v1/idempotency/sweep and
// POST /v1/idempotency/keys.

#include <caf/actor_system.hpp>

#include "actors/idem_client.hpp"
#include "actors/node.hpp"
#include "net/http/actor_bridge.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/idem_keys.hpp"
#include "net/http/json.hpp"
#include "runtime/base64.hpp"

namespace shoal::http {

namespace {

// The record as clients see it. The owner token is a capability: only the
// begin that created it returns it.
void write_record(json_writer& out, const idem::record& r) {
  out.begin_object();
  out.key("created").value(format_rfc3339(r.created));
  if (r.st == idem::state::failed) {
    out.key("error").begin_object();
    out.key("code").value(r.error_code);
    out.key("message").value(r.error_message);
    out.end_object();
  }
  out.key("expires_at").value(format_rfc3339(r.expires_at));
  if (r.fence != 0) {
    out.key("fence").value(r.fence);
  }
  if (!r.fingerprint.empty()) {
    out.key("fingerprint").value(r.fingerprint);
  }
  out.key("key").value(r.key);
  if (r.st == idem::state::completed) {
    out.key("result").value(base64_encode(r.result));
    out.key("result_sha256").value(r.result_hash);
  }
  out.key("state").value(idem::to_string(r.st));
  out.key("updated").value(format_rfc3339(r.updated));
  out.end_object();
}

// The route's key if valid, or nullopt after responding with the error.
std::optional<std::string> key_of(node& n, request& req,
                                  const respond_fn& respond) {
  auto key = req.param("key");
  if (auto ok = idem::validate_record_key(key, n.config().idempotency.max_key_bytes);
      !ok) {
    respond(error_response(ok.err()));
    return std::nullopt;
  }
  return key;
}

// Parses the body and the key, or responds with the error.
struct parsed_call {
  std::string key;
  json body;
};

std::optional<parsed_call> parse_call(node& n, request& req,
                                      std::initializer_list<std::string_view> fields,
                                      const respond_fn& respond) {
  auto key = key_of(n, req, respond);
  if (!key) {
    return std::nullopt;
  }
  auto body = parse_json_fields(req, fields);
  if (!body) {
    respond(error_response(body.err()));
    return std::nullopt;
  }
  return parsed_call{std::move(*key), std::move(*body)};
}

// Answers with `to_json` of a reply, or its error.
template <class T, class ToJson>
std::function<void(result<T>)> answered(respond_fn respond, ToJson to_json) {
  return [respond = std::move(respond), to_json](result<T> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(to_json(*r));
  };
}

response record_response(const idem::record& r) {
  json_writer out;
  write_record(out, r);
  return json_text_response(200, out.take());
}

void begin_route(node& n, request& req, respond_fn respond) {
  auto call = parse_call(n, req, {"lease_ttl", "fingerprint", "fence"}, respond);
  if (!call) {
    return;
  }
  idem::begin_cmd cmd;
  cmd.key = call->key;
  if (!take(duration_field(call->body, "lease_ttl", std::chrono::seconds{30},
                           errc::invalid_ttl),
            cmd.lease_ttl, respond)
      || !take(string_field(call->body, "fingerprint", false), cmd.fingerprint,
               respond)
      || !take(u64_field(call->body, "fence"), cmd.fence, respond)) {
    return;
  }
  idem_client{n}.begin_async(
    std::move(cmd),
    answered<idem::begin_result>(std::move(respond), [](const idem::begin_result& r) {
                             json_writer out;
                             out.begin_object();
                             out.key("fresh").value(r.fresh);
                             out.key("record");
                             write_record(out, r.rec);
                             if (r.fresh) {
                               out.key("token").value(r.rec.owner_token);
                             }
                             out.end_object();
                             return json_text_response(r.fresh ? 201 : 200,
                                                       out.take());
                           }));
}

void touch_route(node& n, request& req, respond_fn respond) {
  auto call = parse_call(n, req, {"token", "lease_ttl"}, respond);
  if (!call) {
    return;
  }
  idem::touch_cmd cmd;
  cmd.key = call->key;
  if (!take(string_field(call->body, "token", true), cmd.token, respond)
      || !take(duration_field(call->body, "lease_ttl", std::chrono::seconds{30},
                              errc::invalid_ttl),
               cmd.lease_ttl, respond)) {
    return;
  }
  idem_client{n}.touch_async(std::move(cmd), answered<idem::record>(std::move(respond),
                                                                    record_response));
}

void complete_route(node& n, request& req, respond_fn respond) {
  auto call = parse_call(n, req, {"token", "result", "retention", "fence"},
                         respond);
  if (!call) {
    return;
  }
  idem::complete_cmd cmd;
  cmd.key = call->key;
  std::string encoded;
  if (!take(string_field(call->body, "token", true), cmd.token, respond)
      || !take(string_field(call->body, "result", false), encoded, respond)
      || !take(duration_field(call->body, "retention", duration::zero(),
                              errc::invalid_ttl),
               cmd.retention, respond)
      || !take(u64_field(call->body, "fence"), cmd.fence, respond)) {
    return;
  }
  auto decoded = base64_decode(encoded);
  if (!decoded) {
    respond(error_response(
      error{errc::invalid_argument, "'result' must be base64"}));
    return;
  }
  cmd.result = std::move(*decoded);
  idem_client{n}.complete_async(std::move(cmd), answered<idem::record>(std::move(respond),
                                                                       record_response));
}

void fail_route(node& n, request& req, respond_fn respond) {
  auto call = parse_call(n, req,
                         {"token", "code", "message", "retention", "fence"},
                         respond);
  if (!call) {
    return;
  }
  idem::fail_cmd cmd;
  cmd.key = call->key;
  if (!take(string_field(call->body, "token", true), cmd.token, respond)
      || !take(string_field(call->body, "code", true), cmd.code, respond)
      || !take(string_field(call->body, "message", false), cmd.message, respond)
      || !take(duration_field(call->body, "retention", duration::zero(),
                              errc::invalid_ttl),
               cmd.retention, respond)
      || !take(u64_field(call->body, "fence"), cmd.fence, respond)) {
    return;
  }
  idem_client{n}.fail_async(std::move(cmd), answered<idem::record>(std::move(respond),
                                                                  record_response));
}

void get_route(node& n, request& req, respond_fn respond) {
  auto key = key_of(n, req, respond);
  if (!key) {
    return;
  }
  idem_client{n}.get_async(*key, answered<idem::record>(std::move(respond), record_response));
}

void delete_route(node& n, request& req, respond_fn respond) {
  auto key = key_of(n, req, respond);
  if (!key) {
    return;
  }
  idem_client{n}.erase_async(*key, [respond](result<bool> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_response(200, json{{"deleted", *r}}));
  });
}

void sweep_route(node& n, respond_fn respond) {
  idem_client{n}.sweep_async([respond](result<uint64_t> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_response(200, json{{"removed", *r}}));
  });
}

void keys_route(request& req, respond_fn respond) {
  auto body = parse_json_object(req);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto key = build_key_from_json(*body);
  if (!key) {
    respond(error_response(key.err()));
    return;
  }
  respond(json_response(200, json{{"key", *key}}));
}

} // namespace

void add_idempotency_routes(router& routes, node& n) {
  add_route(routes, n, method::post, "/v1/idempotency/{key}/begin", begin_route);
  add_route(routes, n, method::post, "/v1/idempotency/{key}/touch", touch_route);
  add_route(routes, n, method::post, "/v1/idempotency/{key}/complete",
            complete_route);
  add_route(routes, n, method::post, "/v1/idempotency/{key}/fail", fail_route);
  add_route(routes, n, method::get, "/v1/idempotency/{key}", get_route);
  add_route(routes, n, method::del, "/v1/idempotency/{key}", delete_route);
  routes.add(method::post, "/v1/idempotency/sweep",
             [&n](request&, respond_fn respond) {
               sweep_route(n, std::move(respond));
             });
  routes.add(method::post, "/v1/idempotency/keys",
             [](request& req, respond_fn respond) {
               keys_route(req, std::move(respond));
             });
}

} // namespace shoal::http
