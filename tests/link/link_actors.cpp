#include "actors/node.hpp"

int main() {
  shoal::node_config cfg;
  cfg.http_address = "";
  cfg.worker_threads = 1;
  auto n = shoal::node::start(cfg);
  return n ? 0 : 1;
}
