// shoalctl lock|lease|elect, and `lock run KEY -- CMD`: run a command while
// holding a lock, bound to a session that keeps its lease alive.

#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <iostream>
#include <thread>
#include <tuple>

#include "actors/node.hpp"
#include "cmd/shoalctl/common.hpp"
#include "net/http/client.hpp"
#include "net/http/target.hpp"

extern char** environ;

namespace shoal::ctl {

namespace {

std::string lock_path(const std::string& key, const std::string& op = {}) {
  return "/v1/locks/" + http::percent_encode(key, true) + (op.empty() ? "" : "/" + op);
}

std::string election_path(const std::string& name, const std::string& op = {}) {
  return "/v1/elections/" + http::percent_encode(name, true)
         + (op.empty() ? "" : "/" + op);
}

result<http::ws_client> open_ws(const context& ctx, const std::string& target) {
  auto hp = parse_host_port(ctx.endpoint);
  if (!hp) {
    return std::move(hp).err();
  }
  return http::ws_client::connect(hp->first, hp->second, target);
}

int ws_failure(const error& e) {
  std::cerr << "shoalctl: " << to_string(e.code) << ": " << e.message << "\n";
  return e.code == errc::unavailable ? unreachable : server_error;
}

// The answer to request `id` on a session socket (other messages skipped).
result<json> session_call(http::ws_client& ws, json msg,
                          std::chrono::milliseconds timeout) {
  auto id = msg["id"];
  if (auto sent = ws.send_text(msg.dump()); !sent) {
    return std::move(sent).err();
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds::zero()) {
      return fail(errc::timeout, "no answer from the node");
    }
    auto m = ws.read(left);
    if (!m) {
      return std::move(m).err();
    }
    auto j = parse_answer(*m);
    if (j.is_object() && j.contains("id") && j["id"] == id) {
      if (j.value("ok", false)) {
        return j;
      }
      auto code = errc_from_string(j["error"].value("code", ""));
      return error{code.value_or(errc::internal), j["error"].value("message", "")};
    }
  }
}

// `lock run`: session, lock bound to its lease, the command as a child with
// SHOAL_LOCK_KEY and SHOAL_LOCK_FENCE set; keep-alives every third of the
// TTL while it runs; unlock when it exits. If the lease is lost, the child
// gets SIGTERM and shoalctl fails.
int run_locked(const context& ctx, const std::string& key, const std::string& ttl,
               const std::string& wait, const std::vector<std::string>& command) {
  auto ttl_d = parse_duration(ttl);
  if (!ttl_d || command.empty()) {
    std::cerr << "shoalctl: lock run needs a valid --ttl and a command\n";
    return usage;
  }
  auto ws = open_ws(ctx, "/v1/session?ttl=" + ttl);
  if (!ws) {
    return ws_failure(ws.err());
  }
  auto hello = ws->read(ctx.timeout);
  if (!hello) {
    return ws_failure(hello.err());
  }
  auto wait_d = parse_duration(wait);
  auto lock_timeout = ctx.timeout
                      + std::chrono::duration_cast<std::chrono::milliseconds>(
                        wait_d ? *wait_d : duration::zero());
  auto lock = session_call(*ws, json{{"id", "lock"}, {"op", "lock"}, {"key", key},
                                     {"wait", wait}},
                           lock_timeout);
  if (!lock) {
    return ws_failure(lock.err());
  }
  auto fence = std::to_string((*lock)["fence"].get<uint64_t>());
  setenv("SHOAL_LOCK_KEY", key.c_str(), 1);
  setenv("SHOAL_LOCK_FENCE", fence.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : command) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  pid_t child = 0;
  if (posix_spawnp(&child, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    std::cerr << "shoalctl: cannot run " << command[0] << "\n";
    (void) session_call(*ws, json{{"id", "unlock"}, {"op", "unlock"}, {"key", key},
                                  {"token", (*lock)["token"]}},
                        ctx.timeout);
    return usage;
  }
  auto period = std::chrono::duration_cast<std::chrono::milliseconds>(*ttl_d / 3);
  auto next_keepalive = std::chrono::steady_clock::now() + period;
  int status = 0;
  for (;;) {
    auto done = waitpid(child, &status, WNOHANG);
    if (done == child) {
      break;
    }
    if (std::chrono::steady_clock::now() >= next_keepalive) {
      auto k = session_call(*ws, json{{"id", "keepalive"}, {"op", "keepalive"}},
                            period);
      if (!k) {
        std::cerr << "shoalctl: lost the lock's lease (" << to_string(k.code())
                  << "); stopping the command\n";
        kill(child, SIGTERM);
        waitpid(child, &status, 0);
        return server_error;
      }
      next_keepalive = std::chrono::steady_clock::now() + period;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  auto unlocked = session_call(*ws, json{{"id", "unlock"}, {"op", "unlock"}, {"key", key},
                                         {"token", (*lock)["token"]}},
                               ctx.timeout);
  if (!unlocked) {
    std::cerr << "shoalctl: unlock failed: " << to_string(unlocked.err()) << "\n";
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// `elect observe`: one line per leader change until the socket closes.
int observe(const context& ctx, const std::string& name) {
  return follow(ctx, election_path(name, "observe"), [](const json& j) {
    auto type = j.value("type", "");
    if (type == "leader") {
      std::cout << "leader " << j.value("value", "") << " fence="
                << j.value("fence", uint64_t{0}) << std::endl;
    } else if (type == "no_leader") {
      std::cout << "no leader" << std::endl;
    } else if (type == "error") {
      std::cerr << "shoalctl: " << j["error"].value("code", "") << ": "
                << j["error"].value("message", "") << std::endl;
      return int{server_error};
    }
    return int{ok};
  });
}

} // namespace

void add_lock_commands(CLI::App& app, context& ctx, int& code) {
  // Options outlive this function: the callbacks run after parsing. Each
  // subcommand has its own defaults, so their variables are separate.
  static std::string key, token, value, name;
  static std::string ttl = "30s", wait = "0s";
  static std::string run_ttl = "10s", run_wait = "1h";
  static std::string grant_ttl = "60s", campaign_wait = "1h";
  static uint64_t lease = 0;
  static std::vector<std::string> command;

  auto* lock = app.add_subcommand("lock", "fenced locks");
  lock->require_subcommand(1);
  auto* acquire = lock->add_subcommand("acquire", "take KEY; prints token and fence");
  acquire->add_option("key", key)->required();
  acquire->add_option("--ttl", ttl, "hold this long")->capture_default_str();
  acquire->add_option("--wait", wait, "queue this long if held")->capture_default_str();
  acquire->add_option("--lease", lease, "bind the hold to a lease");
  acquire->callback([&] {
    json body{{"ttl", ttl}, {"wait", wait}};
    if (lease != 0) {
      body["lease"] = lease;
    }
    code = call(ctx, "POST", lock_path(key), body.dump());
  });
  auto* refresh = lock->add_subcommand("refresh", "extend the hold of KEY");
  refresh->add_option("key", key)->required();
  refresh->add_option("token", token)->required();
  refresh->add_option("--ttl", ttl)->capture_default_str();
  refresh->callback([&] {
    code = call(ctx, "POST", lock_path(key, "refresh"),
                json{{"token", token}, {"ttl", ttl}}.dump());
  });
  auto* release = lock->add_subcommand("release", "give KEY back");
  release->add_option("key", key)->required();
  release->add_option("token", token)->required();
  release->callback([&] {
    code = call(ctx, "DELETE", lock_path(key), json{{"token", token}}.dump());
  });
  auto* get = lock->add_subcommand("get", "holder expiry, fence and queue of KEY");
  get->add_option("key", key)->required();
  get->callback([&] { code = call(ctx, "GET", lock_path(key)); });
  auto* run = lock->add_subcommand(
    "run", "run a command while holding KEY (lock run KEY -- CMD ARGS...)");
  run->add_option("key", key)->required();
  run->add_option("--ttl", run_ttl, "session lease TTL")->capture_default_str();
  run->add_option("--wait", run_wait, "queue this long if held")->capture_default_str();
  run->add_option("command", command, "the command and its arguments")
    ->required()
    ->expected(-1);
  run->callback([&] { code = run_locked(ctx, key, run_ttl, run_wait, command); });

  auto* leases = app.add_subcommand("lease", "leases");
  leases->require_subcommand(1);
  auto* grant = leases->add_subcommand("grant", "a new lease; prints its id");
  grant->add_option("--ttl", grant_ttl)->capture_default_str();
  grant->callback([&] {
    code = call(ctx, "POST", "/v1/leases", json{{"ttl", grant_ttl}}.dump());
  });
  for (auto [verb, method, op, what] :
       {std::tuple{"keepalive", "POST", "/keepalive", "renew lease ID"},
        std::tuple{"revoke", "DELETE", "", "end lease ID now"},
        std::tuple{"get", "GET", "", "time left on lease ID"}}) {
    auto* sub = leases->add_subcommand(verb, what);
    sub->add_option("id", lease)->required();
    sub->callback([&, method = std::string{method}, op = std::string{op}] {
      code = call(ctx, method, "/v1/leases/" + std::to_string(lease) + op);
    });
  }

  auto* elect = app.add_subcommand("elect", "leader election");
  elect->require_subcommand(1);
  auto* campaign = elect->add_subcommand("campaign", "lead NAME with VALUE (waits)");
  campaign->add_option("name", name)->required();
  campaign->add_option("value", value)->required();
  campaign->add_option("--lease", lease, "the candidate's lease")->required();
  campaign->add_option("--wait", campaign_wait, "queue this long")->capture_default_str();
  campaign->callback([&] {
    auto waited = ctx;
    auto d = parse_duration(campaign_wait);
    waited.timeout += std::chrono::duration_cast<std::chrono::milliseconds>(
      d ? *d : duration::zero());
    code = call(waited, "POST", election_path(name, "campaign"),
                json{{"value", value}, {"lease", lease}, {"wait", campaign_wait}}.dump());
  });
  auto* resign = elect->add_subcommand("resign", "stop leading NAME");
  resign->add_option("name", name)->required();
  resign->add_option("token", token)->required();
  resign->callback([&] {
    code = call(ctx, "POST", election_path(name, "resign"),
                json{{"token", token}}.dump());
  });
  auto* leader = elect->add_subcommand("leader", "the leader of NAME");
  leader->add_option("name", name)->required();
  leader->callback([&] { code = call(ctx, "GET", election_path(name)); });
  auto* watch = elect->add_subcommand("observe", "follow the leaders of NAME");
  watch->add_option("name", name)->required();
  watch->callback([&] { code = observe(ctx, name); });
}

} // namespace shoal::ctl
