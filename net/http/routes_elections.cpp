// Leader election on top of lease-bound locks and fenced kv writes:
// POST /v1/elections/{name}/campaign, POST /v1/elections/{name}/resign,
// GET /v1/elections/{name} (the leader). Observing is a watch of the
// leader record (routes_watch.cpp).
//
// A campaign queues for the lock `_election.{name}` bound to the
// campaigner's lease (FIFO, so candidates lead in the order they asked).
// Once granted, the leader record — value, lease, fence — goes to the kv
// key of the same name, bound to the lease and fenced by the lock: when
// the lease ends the record is deleted and the lock passes to the next
// candidate, whose record (with a higher fence) a late write of the old
// leader can no longer overwrite.

#include "actors/node.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"

namespace shoal::http {

std::string election_key(const std::string& name) {
  return "_election." + name;
}

namespace {

constexpr duration default_campaign_wait = std::chrono::hours{1};

result<std::string> key_of(const request& req) {
  auto key = election_key(req.param("name"));
  if (auto ok = validate_key(key); !ok) {
    return fail(errc::invalid_key, "election name: " + ok.err().message);
  }
  return key;
}

// Gives the lock back when the leader record could not be written.
void abandon(node& n, const std::string& key, const std::string& token) {
  call<uint64_t>(n.locks().shard_for(key), [](result<uint64_t>) {}, release_atom_v,
                 key, token);
}

void campaign_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_object(req);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto key = key_of(req);
  auto fields = check_fields(*body, {"value", "lease", "wait"});
  auto value = string_field(*body, "value", false);
  auto lease = u64_field(*body, "lease");
  auto wait = duration_field(*body, "wait", default_campaign_wait);
  if (!key || !fields || !value || !lease || !wait) {
    respond(error_response(!key      ? key.err()
                           : !fields ? fields.err()
                           : !value  ? value.err()
                           : !lease  ? lease.err()
                                     : wait.err()));
    return;
  }
  if (*lease == 0) {
    respond(error_response(error{
      errc::invalid_argument, "a campaign needs a lease (POST /v1/leases)"}));
    return;
  }
  lock::acquire_cmd cmd;
  cmd.key = *key;
  cmd.ttl = std::chrono::seconds{30}; // unused: the hold ends with the lease
  cmd.wait = *wait;
  cmd.lease = *lease;
  auto name = req.param("name");
  auto on_granted = [&n, respond, name, key = *key, value = *value,
                     lease = *lease](result<lock::acquire_result> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    auto token = r->info.owner_token;
    auto fence = r->info.fence;
    json record{{"value", value},
                {"lease", lease},
                {"fence", fence},
                {"since", format_rfc3339(r->info.acquired)}};
    kv::put_cmd put;
    put.key = key;
    put.value = record.dump();
    put.lease = lease;
    put.fence = kv::fence{key, fence};
    auto shard = n.kv().shard_for(key);
    call_with_lease<kv::write_result>(
      n.leases(), lease, shard,
      [&n, respond, key, name, record, token](result<kv::write_result> w) {
        if (!w) {
          // The lease ended, or the write failed: give the lock back.
          abandon(n, key, token);
          respond(error_response(w.err()));
          return;
        }
        auto out = record;
        out["name"] = name;
        out["leader"] = true;
        out["token"] = token;
        respond(json_response(200, out));
      },
      put_atom_v, std::move(put));
  };
  auto shard = n.locks().shard_for(cmd.key);
  call_with_lease<lock::acquire_result>(n.leases(), *lease, shard, on_granted, acquire_atom_v,
                                        std::move(cmd));
}

void resign_route(node& n, request& req, respond_fn respond) {
  auto body = parse_json_object(req);
  if (!body) {
    respond(error_response(body.err()));
    return;
  }
  auto key = key_of(req);
  auto fields = check_fields(*body, {"token"});
  auto token = string_field(*body, "token", true);
  if (!key || !fields || !token) {
    respond(error_response(!key ? key.err() : !fields ? fields.err() : token.err()));
    return;
  }
  call<uint64_t>(
    n.locks().shard_for(*key),
    [&n, respond, key = *key](result<uint64_t> fence) {
      if (!fence) {
        respond(error_response(fence.err()));
        return;
      }
      // Fenced: if the next leader already wrote its record, this delete
      // is refused and the record stays.
      kv::delete_cmd del;
      del.key = key;
      del.fence = kv::fence{key, *fence};
      call<kv::write_result>(n.kv().shard_for(key),
                             [respond](result<kv::write_result> r) {
                               if (!r && r.code() != errc::fenced) {
                                 respond(error_response(r.err()));
                                 return;
                               }
                               respond(json_response(200, json{{"resigned", true}}));
                             },
                             delete_atom_v, std::move(del));
    },
    release_atom_v, *key, *token);
}

void leader_route(node& n, request& req, respond_fn respond) {
  auto key = key_of(req);
  if (!key) {
    respond(error_response(key.err()));
    return;
  }
  call<kv::entry>(n.kv().shard_for(*key),
                  [respond, name = req.param("name")](result<kv::entry> e) {
                    if (!e) {
                      if (e.code() == errc::not_found) {
                        respond(error_response(error{
                          errc::not_found, "election " + name + " has no leader"}));
                      } else {
                        respond(error_response(e.err()));
                      }
                      return;
                    }
                    auto record = json::parse(e->value, nullptr, false);
                    if (!record.is_object()) {
                      respond(error_response(
                        error{errc::internal, "corrupt leader record"}));
                      return;
                    }
                    record["name"] = name;
                    respond(json_response(200, record));
                  },
                  get_atom_v, *key);
}

} // namespace

void add_election_routes(router& routes, node& n) {
  add_route(routes, n, method::post, "/v1/elections/{name}/campaign", campaign_route);
  add_route(routes, n, method::post, "/v1/elections/{name}/resign", resign_route);
  add_route(routes, n, method::get, "/v1/elections/{name}", leader_route);
}

} // namespace shoal::http
