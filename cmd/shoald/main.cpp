// shoald: one shoal node. Parses flags and config, sets up logging, starts
// the node with its HTTP gateway, and shuts it down cleanly on SIGINT or
// SIGTERM.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "actors/node.hpp"
#include "cmd/shoald/options.hpp"
#include "net/http/gateway.hpp"
#include "net/redis/redis_mirror.hpp"

using namespace shoal;

namespace {

std::string durability_text(storage::sync_mode m) {
  switch (m) {
    case storage::sync_mode::always:
      return "sync=always (every write fsynced before it is acknowledged)";
    case storage::sync_mode::batch:
      return "sync=batch (writes fsynced before acknowledgement, group "
             "commit)";
    case storage::sync_mode::none:
      return "sync=none (UNSAFE: acknowledged writes can be lost on a "
             "machine crash)";
  }
  return "";
}

// Every connection, storage file and cluster link is a descriptor: the
// soft limit (often 1024) is raised to the hard one, as far as allowed.
void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == lim.rlim_max) {
    return;
  }
  auto before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    spdlog::warn("cannot raise the open files limit from {}: {}", before,
                 std::strerror(errno));
    return;
  }
  spdlog::debug("open files limit raised from {} to {}", before, lim.rlim_cur);
}

} // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto opts = cmd::parse_options(argc, argv, exit_code);
  if (!opts) {
    if (opts.err().message != "usage") {
      std::fprintf(stderr, "shoald: %s\n", opts.err().message.c_str());
    }
    return exit_code != 0 ? exit_code : 2;
  }
  auto logger = spdlog::stderr_color_mt("shoal");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto level = spdlog::level::from_str(opts->log_level);
  if (level == spdlog::level::off && opts->log_level != "off") {
    std::fprintf(stderr, "shoald: unknown log level '%s'\n",
                 opts->log_level.c_str());
    return 2;
  }
  spdlog::set_level(level);

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_files_limit();

  if (!opts->node.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts->node.data_dir, ec);
    if (ec) {
      spdlog::critical("cannot create data dir {}: {}", opts->node.data_dir,
                       ec.message());
      return 1;
    }
  }
  opts->node.services.push_back(http::gateway_service(opts->http));
  if (!opts->cache_redis.empty()) {
    opts->node.services.push_back(
      cache::redis_mirror_service(cache::redis_mirror_config{opts->cache_redis}));
  }
  auto started = node::start(opts->node);
  if (!started) {
    spdlog::critical("cannot start: {}", to_string(started.err()));
    return 1;
  }
  auto n = std::move(started).value();
  auto* gw = dynamic_cast<http::gateway*>(n->service("http"));
  auto http_port = gw != nullptr ? gw->port() : 0;
  spdlog::info("shoal {} node {} ready", version(), n->id());
  if (opts->memory) {
    spdlog::info("storage: in memory (nothing survives a restart)");
  } else {
    spdlog::info("storage: rocksdb at {}, {}", opts->node.data_dir,
                 durability_text(opts->node.sync));
  }
  if (gw != nullptr) {
    auto hp = parse_host_port(opts->node.http_address);
    spdlog::info("http: listening on {}:{}", hp ? hp->first : "?", http_port);
  }
  if (n->cluster_port() != 0) {
    spdlog::info("cluster: node actor published on port {}", n->cluster_port());
  }
  if (!opts->ports_file.empty()) {
    auto tmp = opts->ports_file + ".tmp";
    {
      std::ofstream out{tmp};
      out << "{\"http\":" << http_port << ",\"cluster\":" << n->cluster_port()
          << ",\"pid\":" << ::getpid() << "}\n";
    }
    std::filesystem::rename(tmp, opts->ports_file);
  }

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  n->stop();
  spdlog::info("stopped cleanly");
  return 0;
}
