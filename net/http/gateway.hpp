#pragma once

#include <functional>
#include <memory>

#include "actors/lease/live_lease.hpp"
#include "actors/node.hpp"
#include "net/http/http_error.hpp"
#include "net/http/router.hpp"
#include "net/http/server.hpp"

namespace shoal::http {

/// The HTTP/WebSocket gateway of a node, run as a `node_service`: it owns
/// the router (every primitive's routes) and the Beast server.
class gateway final : public node_service {
public:
  gateway(node& n, server_config cfg);
  ~gateway() override;

  std::string name() const override {
    return "http";
  }

  result<void> start() override;
  void stop() override;

  /// The bound port (after start).
  uint16_t port() const;

  /// The routes; extra routes may be added before `start`.
  router& routes() {
    return routes_;
  }

private:
  node& node_;
  router routes_;
  std::unique_ptr<server> server_;
  server_config cfg_;
};

/// A `node_config::services` entry that serves HTTP on the node's
/// `http_address` with `base` for everything else. Does nothing when the
/// address is empty.
std::function<std::unique_ptr<node_service>(node&)>
gateway_service(server_config base = {});

/// A route handler that needs the node.
using node_route = void (*)(node&, request&, respond_fn);

/// Registers `fn` for `verb` on `pattern`, bound to `n`.
void add_route(router& routes, node& n, method verb, const char* pattern,
               node_route fn);

/// Registers `/healthz`, `/readyz`, `/metrics` and `/v1/node`.
void add_node_routes(router& routes, node& n);

/// Registers the aggregate routes under `/v1/aggregates` and `/v1/dedup`.
void add_aggregate_routes(router& routes, node& n);

/// Registers the stream routes under `/v1/streams`.
void add_stream_routes(router& routes, node& n);

/// Registers the kv routes under `/v1/kv`.
void add_kv_routes(router& routes, node& n);

/// Registers the idempotency routes under `/v1/idempotency`.
void add_idempotency_routes(router& routes, node& n);

/// Registers the lock routes under `/v1/locks`.
void add_lock_routes(router& routes, node& n);

/// Registers the lease routes under `/v1/leases`.
void add_lease_routes(router& routes, node& n);

/// Registers the election routes under `/v1/elections`.
void add_election_routes(router& routes, node& n);

/// Registers the WebSocket route `/v1/session`.
void add_session_routes(router& routes, node& n);

/// Registers the WebSocket route `/v1/watch`.
void add_watch_routes(router& routes, node& n);

} // namespace shoal::http
