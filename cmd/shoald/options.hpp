#pragma once

#include <string>
#include <vector>

#include "actors/node.hpp"
#include "net/http/server.hpp"
#include "runtime/result.hpp"

namespace shoal::cmd {

/// Everything shoald is told by flags and the optional TOML file.
struct daemon_options {
  node_config node;
  http::server_config http;
  std::string log_level = "info";
  /// If set, the bound ports are written here as JSON once serving.
  std::string ports_file;
  bool memory = false;
  /// `host:port` of a Redis server to mirror aggregates into, or empty.
  std::string cache_redis;
};

/// Parses argv (and the TOML file named by `--config`); flags override the
/// file. Returns the exit code to use instead of running when help or an
/// error was printed.
result<daemon_options> parse_options(int argc, char** argv, int& exit_code);

} // namespace shoal::cmd
