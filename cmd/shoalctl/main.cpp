// shoalctl: the command-line client of shoald, over HTTP.
//
// Conventions every subcommand follows:
// - `--endpoint host:port` (or $SHOAL_ENDPOINT), default 127.0.0.1:7700;
// - `-o json` prints the server's JSON as is; `-o human` (default) prints
//   aligned `key: value` lines;
// - exit codes: 0 success, 1 the server answered with an error (its code and
//   message go to stderr), 2 usage error, 3 the node could not be reached.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"

using namespace shoal;
using json = nlohmann::json;

namespace {

enum exit_code : int { ok = 0, server_error = 1, usage = 2, unreachable = 3 };

struct context {
  std::string endpoint = "127.0.0.1:7700";
  std::string output = "human";
  std::chrono::milliseconds timeout{10'000};
};

void print_human(const json& j, const std::string& indent = "") {
  if (!j.is_object()) {
    std::cout << indent << j.dump() << "\n";
    return;
  }
  size_t width = 0;
  for (auto& [k, v] : j.items()) {
    width = std::max(width, k.size());
  }
  for (auto& [k, v] : j.items()) {
    std::cout << indent << k << ":" << std::string(width - k.size() + 1, ' ');
    if (v.is_object()) {
      std::cout << "\n";
      print_human(v, indent + "  ");
    } else if (v.is_string()) {
      std::cout << v.get<std::string>() << "\n";
    } else {
      std::cout << v.dump() << "\n";
    }
  }
}

// Sends one request and prints the answer; returns the exit code.
int call(const context& ctx, const std::string& verb, const std::string& target,
         const std::string& body = {}) {
  auto hp = parse_host_port(ctx.endpoint);
  if (!hp) {
    std::cerr << "shoalctl: " << hp.err().message << "\n";
    return usage;
  }
  http::client c{hp->first, hp->second, ctx.timeout};
  auto res = c.request(verb, target, body);
  if (!res) {
    std::cerr << "shoalctl: cannot reach " << ctx.endpoint << ": "
              << res.err().message << "\n";
    return unreachable;
  }
  auto parsed = json::parse(res->body, nullptr, false);
  if (res->status >= 400) {
    if (ctx.output == "json") {
      std::cout << res->body << "\n";
    }
    if (parsed.is_object() && parsed.contains("error")) {
      std::cerr << "shoalctl: " << parsed["error"].value("code", "error")
                << ": " << parsed["error"].value("message", "") << "\n";
    } else {
      std::cerr << "shoalctl: HTTP " << res->status << "\n";
    }
    return server_error;
  }
  if (ctx.output == "json" || parsed.is_discarded()) {
    std::cout << res->body;
    if (res->body.empty() || res->body.back() != '\n') {
      std::cout << "\n";
    }
  } else {
    print_human(parsed);
  }
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  context ctx;
  if (const char* env = std::getenv("SHOAL_ENDPOINT")) {
    ctx.endpoint = env;
  }
  CLI::App app{"shoalctl — talk to a shoal node"};
  app.require_subcommand(1);
  app.add_option("--endpoint", ctx.endpoint, "node address host:port")
    ->capture_default_str();
  app.add_option("-o,--output", ctx.output, "json | human")
    ->check(CLI::IsMember({"json", "human"}))
    ->capture_default_str();
  int code = ok;

  auto* status = app.add_subcommand("status", "node identity, storage, uptime");
  status->callback([&] { code = call(ctx, "GET", "/v1/node"); });

  auto* health = app.add_subcommand("health", "liveness and readiness");
  health->callback([&] {
    code = call(ctx, "GET", "/healthz");
    if (code == ok) {
      code = call(ctx, "GET", "/readyz");
    }
  });

  auto* metrics = app.add_subcommand("metrics", "Prometheus metrics text");
  metrics->callback([&] {
    auto saved = ctx.output;
    ctx.output = "json"; // raw passthrough
    code = call(ctx, "GET", "/metrics");
    ctx.output = saved;
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto rc = app.exit(e);
    return rc == 0 ? 0 : usage;
  }
  return code;
}
