// Node-level routes: health, readiness, metrics and node status.

#include <caf/actor_system.hpp>

#include "actors/node.hpp"
#include "net/http/actor_bridge.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"

namespace shoal::http {

namespace {

json to_json(const node_info& info) {
  auto uptime = static_cast<double>(info.now_unix_nanos
                                    - info.started_unix_nanos)
                / 1e9;
  return json{
    {"version", info.version},
    {"node_id", info.node_id},
    {"storage", info.storage},
    {"data_dir", info.data_dir},
    {"sync_mode", info.sync_mode},
    {"shard_count", info.shard_count},
    {"started", format_rfc3339(from_unix_nanos(info.started_unix_nanos))},
    {"uptime_seconds", uptime},
  };
}

json cluster_json(const directory& dir) {
  const auto& id = dir.identity();
  std::vector<size_t> owned(id.members.size(), 0);
  auto owners = json::array();
  for (auto o : id.shard_owner) {
    ++owned[o];
    owners.push_back(id.members[o].name);
  }
  auto members = json::array();
  auto statuses = dir.members();
  for (size_t i = 0; i < statuses.size(); ++i) {
    const auto& m = statuses[i];
    members.push_back(json{{"name", m.name},
                           {"address", m.address},
                           {"state", cluster::to_string(m.state)},
                           {"incarnation", m.incarnation},
                           {"self", m.self},
                           {"connected", m.connected},
                           {"shards", owned[i]}});
  }
  return json{{"cluster_id", id.cluster_id},
              {"self", id.self},
              {"members", std::move(members)},
              {"shard_owner", std::move(owners)}};
}

} // namespace

void add_node_routes(router& routes, node& n) {
  routes.add(method::get, "/healthz", [](request&, respond_fn respond) {
    respond(json_response(200, json{{"status", "ok"}}));
  });

  routes.add(method::get, "/readyz", [&n](request&, respond_fn respond) {
    if (n.is_ready()) {
      respond(json_response(200, json{{"status", "ready"}}));
    } else {
      respond(error_response(error{errc::unavailable, "node is not ready"}));
    }
  });

  routes.add(method::get, "/metrics", [&n](request&, respond_fn respond) {
    response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = n.metrics().render();
    respond(std::move(r));
  });

  // Answered by the node actor, through the same asynchronous path every
  // primitive's routes use.
  routes.add(method::get, "/v1/node", [&n](request&, respond_fn respond) {
    ask<node_info>(n.bridge(), n.handle(), default_ask_timeout,
                   [respond](result<node_info> info) {
                     if (!info) {
                       respond(error_response(info.err()));
                       return;
                     }
                     respond(json_response(200, to_json(*info)));
                   },
                   info_atom_v);
  });

  routes.add(method::get, "/v1/cluster", [&n](request&, respond_fn respond) {
    respond(json_response(200, cluster_json(n.placement())));
  });
}

} // namespace shoal::http
