#include "net/http/gateway.hpp"

#include <spdlog/spdlog.h>

namespace shoal::http {

gateway::gateway(node& n, server_config cfg) : node_(n), cfg_(std::move(cfg)) {
  add_node_routes(routes_, node_);
  add_kv_routes(routes_, node_);
  add_watch_routes(routes_, node_);
  add_idempotency_routes(routes_, node_);
  add_lock_routes(routes_, node_);
  add_lease_routes(routes_, node_);
  add_session_routes(routes_, node_);
  add_election_routes(routes_, node_);
  add_aggregate_routes(routes_, node_);
  add_stream_routes(routes_, node_);
}

void add_route(router& routes, node& n, method verb, const char* pattern,
               node_route fn) {
  routes.add(verb, pattern, [&n, fn](request& req, respond_fn respond) {
    fn(n, req, std::move(respond));
  });
}

gateway::~gateway() {
  stop();
}

result<void> gateway::start() {
  server_ = std::make_unique<server>(cfg_, routes_, node_.metrics());
  if (auto ok = server_->start(); !ok) {
    server_.reset();
    return ok;
  }
  spdlog::debug("http listening on {}:{}", cfg_.host, server_->port());
  return {};
}

void gateway::stop() {
  if (server_) {
    server_->stop();
    server_.reset();
  }
}

uint16_t gateway::port() const {
  return server_ ? server_->port() : 0;
}

std::function<std::unique_ptr<node_service>(node&)>
gateway_service(server_config base) {
  return [base](node& n) -> std::unique_ptr<node_service> {
    if (n.config().http_address.empty()) {
      return nullptr;
    }
    auto cfg = base;
    auto hp = parse_host_port(n.config().http_address);
    if (hp) {
      cfg.host = hp->first;
      cfg.port = hp->second;
    } else {
      // An invalid address fails at start with a clear message.
      cfg.host = n.config().http_address;
    }
    return std::make_unique<gateway>(n, cfg);
  };
}

} // namespace shoal::http
