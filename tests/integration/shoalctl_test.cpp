// shoalctl as a real process against a real node: kv, idempotency, lock,
// lease and election commands, `lock run`, the key builder agreeing with
// the node's, and exit codes.

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/gateway.hpp"
#include "runtime/idempotency/key_builder.hpp"
#include "tests/support/process.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

struct run_result {
  int exit = -1;
  std::vector<std::string> lines;
};

class shoalctl_test : public testing::Test {
protected:
  void SetUp() override {
    node_config cfg;
    cfg.http_address = "127.0.0.1:0";
    cfg.worker_threads = 2;
    cfg.shard_count = 4;
    cfg.services.push_back(http::gateway_service());
    auto n = node::start(cfg);
    ASSERT_TRUE(n) << to_string(n.err());
    node_ = std::move(n).value();
    port_ = dynamic_cast<http::gateway*>(node_->service("http"))->port();
    endpoint_ = "127.0.0.1:" + std::to_string(port_);
  }

  run_result run(std::vector<std::string> args, bool with_endpoint = true) {
    if (with_endpoint) {
      args.insert(args.begin(), {"--endpoint", endpoint_});
    }
    test::child_process proc{SHOAL_SHOALCTL, args};
    auto status = proc.wait(20s);
    run_result out;
    out.lines = proc.drain_lines();
    if (status && WIFEXITED(*status)) {
      out.exit = WEXITSTATUS(*status);
    }
    return out;
  }

  static std::string field(const run_result& r, const std::string& name) {
    for (const auto& line : r.lines) {
      if (line.starts_with(name + ":")) {
        auto v = line.substr(name.size() + 1);
        return v.substr(v.find_first_not_of(' '));
      }
    }
    return {};
  }

  std::unique_ptr<node> node_;
  uint16_t port_ = 0;
  std::string endpoint_;
};

TEST_F(shoalctl_test, kv_put_then_get_raw) {
  EXPECT_EQ(run({"kv", "put", "app.color", "blue"}).exit, 0);
  auto got = run({"kv", "get", "--raw", "app.color"});
  EXPECT_EQ(got.exit, 0);
  ASSERT_FALSE(got.lines.empty());
  EXPECT_EQ(got.lines.front(), "blue");
}

TEST_F(shoalctl_test, idem_key_matches_the_node_and_the_cpp_api) {
  auto local = run({"idem", "key", "acme", "payments", "order-42", "1999", "1.5",
                    "true", "null", "\"7\""},
                   false);
  ASSERT_EQ(local.exit, 0);
  ASSERT_EQ(local.lines.size(), 1u);
  auto expected = idem::build_key("acme", "payments",
                                  {"order-42", 1999, 1.5, true, nullptr, "7"});
  ASSERT_TRUE(expected);
  EXPECT_EQ(local.lines[0], *expected);
  http::client c{"127.0.0.1", port_};
  auto remote = c.request(
    "POST", "/v1/idempotency/keys",
    json{{"tenant", "acme"}, {"scope", "payments"},
         {"parts", json::array({"order-42", 1999, 1.5, true, nullptr, "7"})}}
      .dump());
  ASSERT_TRUE(remote);
  EXPECT_EQ(json::parse(remote->body)["key"], local.lines[0]);
  auto named = run({"idem", "key", "t", "s", "--input", "b=2", "--input", "A=1"},
                   false);
  ASSERT_EQ(named.exit, 0);
  EXPECT_EQ(named.lines[0], *idem::build_key_from_map("t", "s", {{"A", 1}, {"b", 2}}));
  EXPECT_EQ(run({"idem", "key", "bad tenant", "s"}, false).exit, 2);
}

TEST_F(shoalctl_test, idem_begin_complete_get) {
  auto begun = run({"idem", "begin", "--lease", "1m", "job-7"});
  ASSERT_EQ(begun.exit, 0);
  EXPECT_EQ(field(begun, "fresh"), "true");
  auto token = field(begun, "token");
  ASSERT_EQ(token.size(), 32u);
  auto busy = run({"idem", "begin", "job-7"});
  EXPECT_EQ(busy.exit, 1);
  EXPECT_EQ(run({"idem", "complete", "job-7", token, "receipt-7"}).exit, 0);
  auto got = run({"idem", "get", "--raw", "job-7"});
  ASSERT_EQ(got.exit, 0);
  ASSERT_FALSE(got.lines.empty());
  EXPECT_EQ(got.lines.front(), "receipt-7");
  auto again = run({"idem", "begin", "job-7"});
  EXPECT_EQ(field(again, "fresh"), "false");
  EXPECT_EQ(field(again, "result"), "receipt-7");
  EXPECT_EQ(run({"idem", "del", "job-7"}).exit, 0);
  EXPECT_EQ(run({"idem", "get", "job-7"}).exit, 1);
  EXPECT_EQ(run({"idem", "sweep"}).exit, 0);
}

TEST_F(shoalctl_test, agg_define_merge_get_and_dedup) {
  EXPECT_EQ(run({"agg", "define", "visitors", "--kind", "hll", "--window", "1h",
                 "--retention", "48h"})
              .exit,
            0);
  EXPECT_EQ(run({"agg", "merge", "visitors", "/home", "alice", "--event-id", "e1"}).exit, 0);
  auto dup = run({"agg", "merge", "visitors", "/home", "alice", "--event-id", "e1"});
  EXPECT_EQ(field(dup, "duplicate"), "true");
  EXPECT_EQ(run({"agg", "merge", "visitors", "/home", R"(["bob","carol"])"}).exit, 0);
  auto got = run({"-o", "json", "agg", "get", "visitors", "/home", "--last", "2"});
  ASSERT_EQ(got.exit, 0);
  ASSERT_FALSE(got.lines.empty());
  EXPECT_EQ(json::parse(got.lines.front())["value"]["estimate"], 3);
  auto many = run({"-o", "json", "agg", "many", "visitors", "/home", "/blog"});
  ASSERT_EQ(many.exit, 0);
  EXPECT_EQ(json::parse(many.lines.front())["results"][1]["found"], false);
  EXPECT_EQ(run({"agg", "merge", "visitors", "/home", "7"}).exit, 1);
  EXPECT_EQ(run({"agg", "define", "visitors", "--kind", "sum"}).exit, 1);
  EXPECT_EQ(field(run({"dedup", "pay", "tx/1"}), "first_seen"), "true");
  EXPECT_EQ(field(run({"dedup", "pay", "tx/1"}), "first_seen"), "false");
  // No mirror configured: the node says so.
  EXPECT_EQ(run({"cache", "check"}).exit, 1);
  EXPECT_EQ(run({"agg", "drop", "visitors"}).exit, 0);
  EXPECT_EQ(run({"agg", "get", "visitors", "/home"}).exit, 1);
}

TEST_F(shoalctl_test, stream_append_read_replay_and_entities) {
  EXPECT_EQ(run({"stream", "append", "acct.1", "deposited", "10", "--expected", "no_stream"}).exit, 0);
  EXPECT_EQ(run({"stream", "append", "acct.1", "deposited", "5", "--id", "d-2"}).exit, 0);
  auto dup = run({"stream", "append", "acct.1", "deposited", "5", "--id", "d-2"});
  EXPECT_EQ(dup.exit, 0);
  EXPECT_EQ(field(dup, "appended"), "0");
  EXPECT_EQ(run({"stream", "append", "acct.1", "withdrawn", "3", "--expected", "1"}).exit, 1);
  auto read = run({"stream", "read", "acct.1"});
  ASSERT_EQ(read.exit, 0);
  ASSERT_EQ(read.lines.size(), 2u);
  EXPECT_EQ(read.lines[1], "2 deposited 5");
  EXPECT_EQ(field(run({"stream", "info", "acct.1"}), "last_seq"), "2");
  EXPECT_EQ(run({"stream", "checkpoint", "save", "acct.1", "1", R"({"balance":10})"}).exit, 0);
  auto r = run({"-o", "json", "stream", "replay", "acct.1", "--target", "2"});
  ASSERT_EQ(r.exit, 0);
  auto j = json::parse(r.lines.at(0));
  EXPECT_EQ(j["checkpoint"]["state"]["balance"], 10);
  EXPECT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(run({"stream", "retain", "acct.1", "--truncate-before", "2"}).exit, 0);
  EXPECT_EQ(field(run({"stream", "info", "acct.1"}), "first_seq"), "2");
  EXPECT_EQ(run({"stream", "append", "$entity.x", "set"}).exit, 1);

  EXPECT_EQ(run({"entity", "change", "user.1", "--set", "name=ann", "--set", "age=30",
                 "--by", "ops"}).exit, 0);
  EXPECT_EQ(run({"entity", "change", "user.1", "--set", "age=null"}).exit, 0);
  auto got = run({"-o", "json", "entity", "get", "user.1"});
  ASSERT_EQ(got.exit, 0);
  EXPECT_EQ(json::parse(got.lines.at(0))["attributes"], json({{"name", "ann"}}));
  auto then = run({"-o", "json", "entity", "get", "user.1", "--at", "1"});
  EXPECT_EQ(json::parse(then.lines.at(0))["attributes"]["age"], 30);
  EXPECT_EQ(run({"entity", "change", "user.1", "--set", "oops"}).exit, 2);
  auto ls = run({"-o", "json", "entity", "ls", "--pattern", "user.>"});
  EXPECT_EQ(json::parse(ls.lines.at(0))["entities"].size(), 1u);
  EXPECT_EQ(run({"entity", "change", "user.1", "--op", "delete"}).exit, 0);
  EXPECT_EQ(run({"entity", "get", "user.1"}).exit, 1);
}

TEST_F(shoalctl_test, lock_lease_and_elect) {
  auto got = run({"lock", "acquire", "--ttl", "1m", "jobs.nightly"});
  ASSERT_EQ(got.exit, 0);
  auto token = field(got, "token");
  ASSERT_EQ(token.size(), 32u);
  EXPECT_EQ(run({"lock", "acquire", "jobs.nightly"}).exit, 1);
  EXPECT_EQ(field(run({"lock", "get", "jobs.nightly"}), "held"), "true");
  EXPECT_EQ(run({"lock", "refresh", "jobs.nightly", token}).exit, 0);
  EXPECT_EQ(run({"lock", "release", "jobs.nightly", token}).exit, 0);
  EXPECT_EQ(run({"lock", "release", "jobs.nightly", token}).exit, 1);

  auto lease = field(run({"lease", "grant", "--ttl", "1m"}), "id");
  ASSERT_FALSE(lease.empty());
  EXPECT_EQ(field(run({"lease", "get", lease}), "ttl"), "1m");
  EXPECT_EQ(run({"lease", "keepalive", lease}).exit, 0);

  auto lead = run({"elect", "campaign", "--lease", lease, "db", "10.0.0.7"});
  ASSERT_EQ(lead.exit, 0);
  EXPECT_EQ(field(run({"elect", "leader", "db"}), "value"), "10.0.0.7");
  EXPECT_EQ(run({"elect", "resign", "db", field(lead, "token")}).exit, 0);
  EXPECT_EQ(run({"elect", "leader", "db"}).exit, 1);
  EXPECT_EQ(run({"lease", "revoke", lease}).exit, 0);
  EXPECT_EQ(run({"lease", "get", lease}).exit, 1);
}

TEST_F(shoalctl_test, lock_run_holds_the_lock_while_the_command_runs) {
  // The command itself asks the node about the lock it runs under.
  auto r = run({"lock", "run", "--ttl", "2s", "jobs.backup", "--", SHOAL_SHOALCTL,
                "--endpoint", endpoint_, "lock", "get", "jobs.backup"});
  ASSERT_EQ(r.exit, 0);
  EXPECT_EQ(field(r, "held"), "true");
  EXPECT_FALSE(field(r, "lease").empty());
  EXPECT_EQ(field(run({"lock", "get", "jobs.backup"}), "held"), "false");
  // The command's exit code is shoalctl's; it sees its fence.
  auto failing = run({"lock", "run", "jobs.backup", "--", "sh", "-c",
                      "echo fence: $SHOAL_LOCK_FENCE; exit 3"});
  EXPECT_EQ(failing.exit, 3);
  EXPECT_FALSE(field(failing, "fence").empty());
  EXPECT_EQ(field(run({"lock", "get", "jobs.backup"}), "held"), "false");
}

TEST_F(shoalctl_test, exit_codes) {
  EXPECT_EQ(run({"idem", "bogus"}).exit, 2);
  EXPECT_EQ(run({"--endpoint", "127.0.0.1:1", "status"}, false).exit, 3);
  EXPECT_EQ(run({"kv", "get", "missing"}).exit, 1);
  EXPECT_EQ(run({"status"}).exit, 0);
}

} // namespace
} // namespace shoal
