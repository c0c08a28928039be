#pragma once

// What every shoalctl command shares: the endpoint and output options, the
// exit codes, and one HTTP call that prints the answer.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace shoal::ctl {

using json = nlohmann::json;

/// 0 success, 1 the server answered with an error (its code and message go
/// to stderr), 2 usage error, 3 the node could not be reached.
enum exit_code : int { ok = 0, server_error = 1, usage = 2, unreachable = 3 };

struct context {
  std::string endpoint = "127.0.0.1:7700";
  std::string output = "human";
  std::chrono::milliseconds timeout{10'000};
};

/// Aligned `key: value` lines, nested objects indented.
void print_human(const json& j, const std::string& indent = "");

using printer = std::function<void(const json&)>;

/// Sends one request and prints the answer (through `human` unless -o
/// json); returns the exit code.
int call(const context& ctx, const std::string& verb, const std::string& target,
         const std::string& body = {}, const printer& human = {});

/// Opens a WebSocket on `target` and hands every message to `on_message`
/// (or prints it as is with -o json) until the socket closes or
/// `on_message` returns an exit code other than `ok`; returns the exit code.
int follow(const context& ctx, const std::string& target,
           const std::function<int(const json&)>& on_message);

/// A value from the command line: JSON if it parses as JSON (42 is an
/// integer, 4.2 a float, true a bool, '"42"' a string, '["a","b"]' an
/// array), a string otherwise.
json json_or_string(const std::string& text);

/// A node's answer as JSON, held to the limits shoald holds its own inputs
/// to (`http::parse_json`); a discarded value when it is not such JSON.
json parse_answer(std::string_view text);

/// Registers `lock`, `lease` and `elect`; their callbacks set `code`.
void add_lock_commands(CLI::App& app, context& ctx, int& code);

/// Registers `agg`, `dedup` and `cache`; their callbacks set `code`.
void add_aggregate_commands(CLI::App& app, context& ctx, int& code);

/// Registers `stream` and `entity`; their callbacks set `code`.
void add_stream_commands(CLI::App& app, context& ctx, int& code);

} // namespace shoal::ctl
