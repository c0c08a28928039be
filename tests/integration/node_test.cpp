// The embeddable node: storage modes, identity across restarts, typed
// handles from the program's own actors, and the middleman between nodes
// (in-process and across real processes).

#include <csignal>
#include <fstream>
#include <sstream>
#include <future>
#include <thread>
#include <sys/wait.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_socket.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

node_config quiet_config() {
  node_config cfg;
  cfg.http_address = "";
  cfg.worker_threads = 2;
  return cfg;
}

result<node_info> ask_info(caf::actor_system& sys, const node_actor& h) {
  caf::scoped_actor self{sys};
  result<node_info> out = errc::internal;
  self->request(h, caf::duration{5s}, info_atom_v)
    .receive([&](node_info& info) { out = std::move(info); },
             [&](caf::error& e) {
               out = error{errc::unavailable, sys.render(e)};
             });
  return out;
}

TEST(node, memory_mode_starts_answers_and_stops) {
  auto n = node::start(quiet_config());
  ASSERT_TRUE(n) << to_string(n.err());
  EXPECT_TRUE((*n)->is_ready());
  EXPECT_FALSE((*n)->store().is_persistent());
  auto info = ask_info((*n)->system(), (*n)->handle());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->storage, "memory");
  EXPECT_EQ(info->node_id, (*n)->id());
  (*n)->stop();
  EXPECT_FALSE((*n)->is_ready());
  (*n)->stop(); // idempotent
}

TEST(node, rocksdb_mode_keeps_its_identity_across_restarts) {
  test::temp_dir dir{"shoal-node"};
  auto cfg = quiet_config();
  cfg.data_dir = dir / "data";
  cfg.name = "alpha";
  std::string id;
  {
    auto n = node::start(cfg);
    ASSERT_TRUE(n) << to_string(n.err());
    id = (*n)->id();
    EXPECT_EQ(id, "alpha");
    EXPECT_TRUE((*n)->store().is_persistent());
  }
  cfg.name = ""; // the stored identity wins over a missing name
  auto again = node::start(cfg);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->id(), id);
}

TEST(node, second_node_on_the_same_data_dir_is_refused) {
  test::temp_dir dir{"shoal-node"};
  auto cfg = quiet_config();
  cfg.data_dir = dir / "data";
  auto first = node::start(cfg);
  ASSERT_TRUE(first);
  auto second = node::start(cfg);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.code(), errc::storage_error);
}

TEST(node, invalid_config_is_refused) {
  auto cfg = quiet_config();
  cfg.shard_count = 0;
  auto n = node::start(cfg);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.code(), errc::invalid_argument);
  cfg = quiet_config();
  cfg.cluster_address = "nonsense";
  auto m = node::start(cfg);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.code(), errc::invalid_argument);
}

TEST(node, program_actors_talk_to_the_node_through_its_typed_handle) {
  auto n = node::start(quiet_config());
  ASSERT_TRUE(n);
  auto& sys = (*n)->system();
  std::promise<std::string> seen;
  auto h = (*n)->handle();
  sys.spawn([h, &seen](caf::event_based_actor* self) {
    self->request(h, caf::duration{5s}, info_atom_v)
      .then([&seen](const node_info& info) { seen.set_value(info.node_id); },
            [&seen](caf::error&) { seen.set_value("error"); });
  });
  auto fut = seen.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), (*n)->id());
}

TEST(node, nodes_reach_each_other_over_the_middleman) {
  auto server_cfg = quiet_config();
  server_cfg.cluster_address = "127.0.0.1:0";
  server_cfg.name = "server-node";
  auto server = node::start(server_cfg);
  ASSERT_TRUE(server) << to_string(server.err());
  ASSERT_NE((*server)->cluster_port(), 0);

  auto client = node::start(quiet_config());
  ASSERT_TRUE(client);
  auto remote = (*client)->connect("127.0.0.1", (*server)->cluster_port());
  ASSERT_TRUE(remote) << to_string(remote.err());
  auto info = ask_info((*client)->system(), *remote);
  ASSERT_TRUE(info) << to_string(info.err());
  EXPECT_EQ(info->node_id, "server-node");

  auto nobody = (*client)->connect("127.0.0.1", 1);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.code(), errc::unavailable);
}

// -- shoald as a real process -------------------------------------------------

using test::wait_for_ports;

TEST(shoald, serves_http_and_middleman_then_stops_cleanly_on_sigterm) {
  test::temp_dir dir{"shoald"};
  test::child_process proc{SHOAL_SHOALD,
                           {"--data-dir", dir / "data", "--http", "127.0.0.1:0",
                            "--cluster-addr", "127.0.0.1:0", "--name", "proc-1",
                            "--ports-file", dir / "ports.json"}};
  auto p = wait_for_ports(dir / "ports.json", 20s);
  ASSERT_TRUE(p) << "shoald did not start";

  http::client c{"127.0.0.1", p->http};
  auto health = c.get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200u);
  auto node_json = c.get("/v1/node");
  ASSERT_TRUE(node_json);
  EXPECT_EQ(nlohmann::json::parse(node_json->body)["node_id"], "proc-1");

  // A program in this test process reaches the node actor of the shoald
  // process through the CAF middleman.
  auto local = node::start(quiet_config());
  ASSERT_TRUE(local);
  auto remote = (*local)->connect("127.0.0.1", p->cluster);
  ASSERT_TRUE(remote) << to_string(remote.err());
  auto info = ask_info((*local)->system(), *remote);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->node_id, "proc-1");
  EXPECT_EQ(info->storage, "rocksdb");
  (*local)->stop();

  proc.signal(SIGTERM);
  auto status = proc.wait(20s);
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  bool clean = false;
  for (auto& line : proc.drain_lines()) {
    clean = clean || line.find("stopped cleanly") != std::string::npos;
  }
  EXPECT_TRUE(clean);
}

TEST(shoald, refuses_bad_flags_and_a_locked_data_dir) {
  test::temp_dir dir{"shoald"};
  {
    test::child_process bad{SHOAL_SHOALD, {"--sync", "sometimes"}};
    auto status = bad.wait(10s);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 2);
  }
  test::child_process first{SHOAL_SHOALD,
                            {"--data-dir", dir / "data", "--http", "127.0.0.1:0",
                             "--ports-file", dir / "ports.json"}};
  ASSERT_TRUE(wait_for_ports(dir / "ports.json", 20s));
  test::child_process second{SHOAL_SHOALD,
                             {"--data-dir", dir / "data", "--http", "127.0.0.1:0"}};
  auto status = second.wait(20s);
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  bool explained = false;
  for (auto& line : second.drain_lines()) {
    explained = explained || line.find("cannot start") != std::string::npos;
  }
  EXPECT_TRUE(explained);
}

} // namespace
} // namespace shoal

namespace shoal {
namespace {

TEST(shoald, reads_a_toml_config_and_flags_win_over_it) {
  test::temp_dir dir{"shoald"};
  {
    std::ofstream cfg{dir / "shoal.toml"};
    cfg << "memory = true\nname = \"from-toml\"\nhttp = \"127.0.0.1:1\"\n"
           "sync = \"always\"\nshards = 8\n";
  }
  test::child_process proc{SHOAL_SHOALD,
                           {"--config", dir / "shoal.toml", "--http",
                            "127.0.0.1:0", "--ports-file", dir / "ports.json"}};
  auto p = wait_for_ports(dir / "ports.json", 20s);
  ASSERT_TRUE(p);
  http::client c{"127.0.0.1", p->http};
  auto r = c.get("/v1/node");
  ASSERT_TRUE(r);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["node_id"], "from-toml");
  EXPECT_EQ(j["storage"], "memory");
  EXPECT_EQ(j["sync_mode"], "always");
  EXPECT_EQ(j["shard_count"], 8);
}

TEST(shoald, unknown_config_key_is_refused) {
  test::temp_dir dir{"shoald"};
  {
    std::ofstream cfg{dir / "shoal.toml"};
    cfg << "memory = true\nno_such_option = 1\n";
  }
  test::child_process proc{SHOAL_SHOALD, {"--config", dir / "shoal.toml"}};
  auto status = proc.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  bool explained = false;
  for (auto& line : proc.drain_lines()) {
    explained = explained || line.find("no_such_option") != std::string::npos;
  }
  EXPECT_TRUE(explained);
}

} // namespace
} // namespace shoal

namespace shoal {
namespace {

using namespace std::chrono_literals;

// CPU time (user + system) the process `pid` used so far.
std::chrono::milliseconds cpu_time(pid_t pid) {
  std::ifstream f{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(f, line);
  // Fields after the command name, which is in parentheses: utime and stime
  // are the 12th and 13th of them.
  std::istringstream rest{line.substr(line.rfind(')') + 2)};
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i == 12) {
      utime = std::stol(field);
    } else if (i == 13) {
      stime = std::stol(field);
    }
  }
  return std::chrono::milliseconds{(utime + stime) * 1000 / sysconf(_SC_CLK_TCK)};
}

TEST(shoald, out_of_descriptors_it_sheds_connections_instead_of_spinning) {
  test::temp_dir dir{"shoald"};
  // 128 descriptors, and a connection limit above them: the accept loop
  // itself meets EMFILE.
  test::child_process proc{"/usr/bin/prlimit",
                           {"--nofile=128:128", SHOAL_SHOALD, "--memory", "--http",
                            "127.0.0.1:0", "--max-connections", "100000",
                            "--ports-file", dir / "ports.json"}};
  auto p = test::wait_for_ports(dir / "ports.json", 20s);
  ASSERT_TRUE(p) << "shoald did not start";
  std::vector<std::unique_ptr<test::raw_socket>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<test::raw_socket>(p->http));
  }
  // Settle, then measure a second of it.
  std::this_thread::sleep_for(500ms);
  auto before = cpu_time(proc.pid());
  size_t warnings = 0;
  auto until = std::chrono::steady_clock::now() + 1s;
  while (auto line = proc.read_line(until)) {
    warnings += line->find("accept failed") != std::string::npos ? 1 : 0;
  }
  auto used = cpu_time(proc.pid()) - before;
  EXPECT_LT(used, 300ms) << "the accept loop spins";
  EXPECT_LE(warnings, 1u) << "the accept warning is not rate-limited";
  // A connection that waits is told why it is refused.
  test::raw_socket extra{p->http};
  extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto out = extra.read_until_closed(3s);
  EXPECT_EQ(out.rfind("HTTP/1.1 503", 0), 0u) << out.substr(0, 80);
  // Once the connections are gone, the node serves again.
  idle.clear();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  unsigned status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    http::client c{"127.0.0.1", p->http, 1s};
    auto r = c.get("/healthz");
    status = r ? r->status : 0;
    if (status != 200) {
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_EQ(status, 200u);
}

} // namespace
} // namespace shoal
