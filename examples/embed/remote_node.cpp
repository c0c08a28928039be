// Talking to another node's actors over the CAF middleman: one node publishes
// its actors on a TCP port, a second node (think: another process on another
// machine) connects and uses the same typed handle as a local program would.

#include <cstdio>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/node.hpp"

int main() {
  // 1. A serving node that publishes its actors on an ephemeral port.
  shoal::node_config server_cfg;
  server_cfg.http_address = "";
  server_cfg.cluster_address = "127.0.0.1:0";
  server_cfg.name = "server";
  auto server = shoal::node::start(server_cfg);
  if (!server) {
    std::fprintf(stderr, "server: %s\n", shoal::to_string(server.err()).c_str());
    return 1;
  }
  auto port = (*server)->cluster_port();

  // 2. A client node connects to it through the middleman.
  shoal::node_config client_cfg;
  client_cfg.http_address = "";
  auto client = shoal::node::start(client_cfg);
  if (!client) {
    return 1;
  }
  auto remote = (*client)->connect("127.0.0.1", port);
  if (!remote) {
    std::fprintf(stderr, "connect: %s\n", remote.err().message.c_str());
    return 1;
  }

  // 3. Ask the remote node actor, exactly as with a local handle. The
  // scoped actor must be gone before the node stops (stop waits for every
  // actor of the system).
  int rc = 1;
  {
    caf::scoped_actor self{(*client)->system()};
    self->request(*remote, caf::duration{std::chrono::seconds{5}},
                  shoal::info_atom_v)
      .receive(
        [&](const shoal::node_info& info) {
          std::printf("remote node %s on port %u answered (shoal %s)\n",
                      info.node_id.c_str(), port, info.version.c_str());
          rc = 0;
        },
        [&](caf::error& e) {
          std::fprintf(stderr, "request failed: %s\n",
                       (*client)->system().render(e).c_str());
        });
  }

  // 4. Shut both down.
  (*client)->stop();
  (*server)->stop();
  return rc;
}
