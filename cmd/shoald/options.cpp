#include "cmd/shoald/options.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

namespace shoal::cmd {

namespace {

// Values as the user wrote them (strings for sizes and durations) so that
// TOML and flags share one validation path.
struct raw_options {
  std::string config;
  std::string data_dir = "./var/data";
  bool memory = false;
  std::string http = "127.0.0.1:7700";
  std::string sync = "batch";
  uint32_t shards = 64;
  std::string cluster_addr;
  std::string initial_cluster;
  std::string probe_interval = "500ms";
  std::string suspicion_timeout = "6s";
  std::string forward_timeout = "3s";
  std::string cache_redis;
  uint64_t agg_cache_bytes = size_t{64} << 20;
  std::string name;
  std::string log_level = "info";
  size_t io_threads = 0;
  size_t workers = 0;
  size_t max_body = 2 * 1024 * 1024;
  size_t max_connections = 0;
  std::string read_timeout = "10s";
  std::string idle_timeout = "60s";
  std::string ws_idle_timeout = "30s";
  std::string ports_file;
  size_t kv_max_value = 1024 * 1024;
  size_t kv_history = 16;
  size_t kv_log_max_count = 10'000;
  std::string kv_log_max_age = "24h";
};

result<void> apply_toml(const std::string& path, raw_options& o,
                        const CLI::App& app) {
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return fail(errc::invalid_argument,
                "config " + path + ": " + std::string{e.description()});
  }
  // A flag given on the command line wins over the file.
  auto set_str = [&](const char* key, const char* flag, std::string& out) {
    if (auto v = tbl[key].value<std::string>(); v && app.count(flag) == 0) {
      out = *v;
    }
  };
  auto set_int = [&](const char* key, const char* flag, auto& out) {
    if (auto v = tbl[key].value<int64_t>(); v && app.count(flag) == 0) {
      out = static_cast<std::decay_t<decltype(out)>>(*v);
    }
  };
  set_str("data_dir", "--data-dir", o.data_dir);
  if (auto v = tbl["memory"].value<bool>(); v && app.count("--memory") == 0) {
    o.memory = *v;
  }
  set_str("http", "--http", o.http);
  set_str("sync", "--sync", o.sync);
  set_int("shards", "--shards", o.shards);
  set_str("cluster_addr", "--cluster-addr", o.cluster_addr);
  set_str("initial_cluster", "--initial-cluster", o.initial_cluster);
  set_str("probe_interval", "--probe-interval", o.probe_interval);
  set_str("suspicion_timeout", "--suspicion-timeout", o.suspicion_timeout);
  set_str("forward_timeout", "--forward-timeout", o.forward_timeout);
  set_str("cache_redis", "--cache-redis", o.cache_redis);
  set_int("agg_cache_bytes", "--agg-cache-bytes", o.agg_cache_bytes);
  set_str("name", "--name", o.name);
  set_str("log_level", "--log-level", o.log_level);
  set_int("io_threads", "--io-threads", o.io_threads);
  set_int("workers", "--workers", o.workers);
  set_int("max_body", "--max-body", o.max_body);
  set_int("max_connections", "--max-connections", o.max_connections);
  set_str("read_timeout", "--read-timeout", o.read_timeout);
  set_str("idle_timeout", "--idle-timeout", o.idle_timeout);
  set_str("ws_idle_timeout", "--ws-idle-timeout", o.ws_idle_timeout);
  set_int("kv_max_value", "--kv-max-value", o.kv_max_value);
  set_int("kv_history", "--kv-history", o.kv_history);
  set_int("kv_log_max_count", "--kv-log-max-count", o.kv_log_max_count);
  set_str("kv_log_max_age", "--kv-log-max-age", o.kv_log_max_age);
  for (auto& [k, v] : tbl) {
    static const std::vector<std::string> known{
      "data_dir",   "memory",       "http",         "sync",
      "shards",     "cluster_addr", "name",         "log_level",
      "io_threads", "workers",      "max_body",     "read_timeout",
      "idle_timeout", "ws_idle_timeout", "kv_max_value", "kv_history",
      "kv_log_max_count", "kv_log_max_age", "cache_redis", "agg_cache_bytes",
      "initial_cluster", "probe_interval", "suspicion_timeout", "forward_timeout",
      "max_connections"};
    if (std::find(known.begin(), known.end(), std::string{k.str()})
        == known.end()) {
      return fail(errc::invalid_argument, "config " + path + ": unknown key '"
                                            + std::string{k.str()} + "'");
    }
    (void) v;
  }
  return {};
}

result<std::chrono::milliseconds> millis(const std::string& text,
                                         const char* what) {
  auto d = parse_duration(text);
  if (!d) {
    return fail(errc::invalid_argument,
                std::string{what} + ": " + d.err().message);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  if (ms.count() <= 0) {
    return fail(errc::invalid_argument, std::string{what} + " must be > 0");
  }
  return ms;
}

} // namespace

result<daemon_options> parse_options(int argc, char** argv, int& exit_code) {
  raw_options o;
  CLI::App app{"shoald — the shoal coordination node"};
  app.add_option("--config", o.config, "TOML config file (flags override it)");
  app.add_option("--data-dir", o.data_dir, "RocksDB data directory")
    ->capture_default_str();
  app.add_flag("--memory", o.memory,
               "keep everything in memory (nothing survives a restart)");
  app.add_option("--http", o.http, "HTTP listen address host:port (port 0: any)")
    ->capture_default_str();
  app.add_option("--sync", o.sync,
                 "durability: always | batch (group commit) | none (unsafe)")
    ->capture_default_str();
  app.add_option("--shards", o.shards, "shards per primitive")
    ->capture_default_str();
  app.add_option("--cluster-addr", o.cluster_addr,
                 "host:port to publish the node's actors on (CAF middleman)");
  app.add_option("--name", o.name,
                 "node name (node id at first start; required with --initial-cluster)");
  app.add_option("--initial-cluster", o.initial_cluster,
                 "n1=host:port,n2=host:port,...: the cluster's members and their "
                 "cluster addresses (fixed at first start)");
  app.add_option("--probe-interval", o.probe_interval,
                 "membership: one failure-detection probe this often")
    ->capture_default_str();
  app.add_option("--suspicion-timeout", o.suspicion_timeout,
                 "membership: a suspect member not refuting this long is dead")
    ->capture_default_str();
  app.add_option("--forward-timeout", o.forward_timeout,
                 "a request forwarded to a shard's owner fails with 503 after this")
    ->capture_default_str();
  app.add_option("--cache-redis", o.cache_redis,
                 "host:port of a Redis/Valkey server to mirror aggregates into");
  app.add_option("--agg-cache-bytes", o.agg_cache_bytes,
                 "memory for cached aggregate windows (0: no cache)")
    ->capture_default_str();
  app.add_option("--log-level", o.log_level,
                 "trace | debug | info | warn | error | critical | off")
    ->capture_default_str();
  app.add_option("--io-threads", o.io_threads, "HTTP io threads (0: half the cores)")
    ->capture_default_str();
  app.add_option("--workers", o.workers, "actor scheduler threads (0: half the cores)")
    ->capture_default_str();
  app.add_option("--max-body", o.max_body, "largest request body in bytes")
    ->capture_default_str();
  app.add_option("--max-connections", o.max_connections,
                 "HTTP and WebSocket connections open at once; more are "
                 "answered 503 (0: three quarters of the open files limit)")
    ->capture_default_str();
  app.add_option("--read-timeout", o.read_timeout,
                 "time a client has to send a whole request")
    ->capture_default_str();
  app.add_option("--idle-timeout", o.idle_timeout,
                 "idle keep-alive connections are closed after this")
    ->capture_default_str();
  app.add_option("--ws-idle-timeout", o.ws_idle_timeout,
                 "WebSocket silence (no pong) before the socket is closed")
    ->capture_default_str();
  app.add_option("--kv-max-value", o.kv_max_value, "largest kv value in bytes")
    ->capture_default_str();
  app.add_option("--kv-history", o.kv_history, "versions kept per kv key")
    ->capture_default_str();
  app.add_option("--kv-log-max-count", o.kv_log_max_count,
                 "kv changes kept per shard for watch resume")
    ->capture_default_str();
  app.add_option("--kv-log-max-age", o.kv_log_max_age,
                 "kv changes older than this are dropped from the change log")
    ->capture_default_str();
  app.add_option("--ports-file", o.ports_file,
                 "write the bound ports as JSON to this file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return fail(errc::invalid_argument, "usage");
  }
  if (!o.config.empty()) {
    if (auto ok = apply_toml(o.config, o, app); !ok) {
      exit_code = 2;
      return ok.err();
    }
  }
  daemon_options out;
  auto sync = storage::parse_sync_mode(o.sync);
  if (!sync) {
    exit_code = 2;
    return sync.err();
  }
  out.memory = o.memory;
  out.node.data_dir = o.memory ? std::string{} : o.data_dir;
  out.node.sync = *sync;
  out.node.shard_count = o.shards;
  out.node.http_address = o.http;
  out.node.cluster_address = o.cluster_addr;
  out.node.initial_cluster = o.initial_cluster;
  out.cache_redis = o.cache_redis;
  out.node.aggregates.cache_bytes = o.agg_cache_bytes;
  out.node.name = o.name;
  out.node.worker_threads = o.workers;
  out.log_level = o.log_level;
  out.ports_file = o.ports_file;
  out.http.io_threads = o.io_threads;
  out.http.max_body_bytes = o.max_body;
  out.http.max_connections = o.max_connections;
  for (auto [text, field, what] :
       {std::tuple{&o.read_timeout, &out.http.read_timeout, "--read-timeout"},
        std::tuple{&o.idle_timeout, &out.http.idle_timeout, "--idle-timeout"},
        std::tuple{&o.ws_idle_timeout, &out.http.ws_idle_timeout,
                   "--ws-idle-timeout"},
        std::tuple{&o.forward_timeout, &out.node.forward_timeout,
                   "--forward-timeout"}}) {
    auto ms = millis(*text, what);
    if (!ms) {
      exit_code = 2;
      return ms.err();
    }
    *field = *ms;
  }
  // The membership timeouts scale with the probe interval: a probe goes
  // indirect after half of it and gives up after one and a half.
  auto probe = millis(o.probe_interval, "--probe-interval");
  auto suspicion = millis(o.suspicion_timeout, "--suspicion-timeout");
  if (!probe || !suspicion) {
    exit_code = 2;
    return probe ? suspicion.err() : probe.err();
  }
  out.node.membership.probe_interval = *probe;
  out.node.membership.probe_timeout = *probe / 2;
  out.node.membership.indirect_timeout = *probe * 3 / 2;
  out.node.membership.suspicion_timeout = *suspicion;
  auto log_age = parse_duration(o.kv_log_max_age);
  if (!log_age || *log_age <= duration::zero()) {
    exit_code = 2;
    return fail(errc::invalid_argument, "--kv-log-max-age must be a positive duration");
  }
  if (o.kv_history == 0 || o.kv_log_max_count == 0 || o.kv_max_value == 0) {
    exit_code = 2;
    return fail(errc::invalid_argument,
                "--kv-history, --kv-log-max-count and --kv-max-value must be > 0");
  }
  out.node.kv.max_value_bytes = o.kv_max_value;
  out.node.kv.history_depth = o.kv_history;
  out.node.kv.log_max_count = o.kv_log_max_count;
  out.node.kv.log_max_age = *log_age;
  if (o.data_dir.empty() && !o.memory) {
    exit_code = 2;
    return fail(errc::invalid_argument, "--data-dir is empty (or use --memory)");
  }
  return out;
}

} // namespace shoal::cmd
