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
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/target.hpp"
#include "net/http/idem_keys.hpp"
#include "runtime/base64.hpp"
#include "runtime/idempotency/key_builder.hpp"
#include "cmd/shoalctl/common.hpp"

using namespace shoal;
using namespace shoal::ctl;
using json = nlohmann::json;

namespace {

std::string decoded(const json& j) {
  if (!j.contains("value") || !j["value"].is_string()) {
    return {};
  }
  auto v = base64_decode(j["value"].get<std::string>());
  return v ? *v : std::string{};
}

std::string key_path(const std::string& key) {
  return "/v1/kv/" + http::percent_encode(key, true);
}

std::string idem_path(const std::string& key, const std::string& op = {}) {
  return "/v1/idempotency/" + http::percent_encode(key, true)
         + (op.empty() ? "" : "/" + op);
}

// Prints an idempotency record; the result bytes decoded.
void print_record(const json& j) {
  auto shown = j;
  if (j.contains("result") && j["result"].is_string()) {
    auto v = base64_decode(j["result"].get<std::string>());
    shown["result"] = v ? *v : std::string{};
  }
  print_human(shown);
}

// Follows a watch until the socket closes; one line per message.
int watch(const context& ctx, const std::string& query) {
  return follow(ctx, "/v1/watch?" + query, [](const json& j) {
    auto type = j.value("type", "");
    if (type == "event") {
      std::cout << j.value("operation", "") << " " << j.value("key", "") << " "
                << decoded(j) << std::endl;
    } else if (type == "value") {
      std::cout << "value " << j.value("key", "") << " " << decoded(j)
                << std::endl;
    } else if (type == "synced" || type == "lagged") {
      std::cout << "# " << type << " cursor=" << j.value("cursor", "")
                << std::endl;
    } else if (type == "detached" || type == "attached") {
      std::cout << "# shard " << j.value("shard", 0) << " " << type;
      if (type == "detached") {
        std::cout << " (" << j.value("message", "") << ")";
      }
      std::cout << std::endl;
    } else if (type == "error") {
      std::cerr << "shoalctl: " << j["error"].value("code", "") << ": "
                << j["error"].value("message", "") << " (cursor "
                << j.value("cursor", "") << ")" << std::endl;
      return int{server_error};
    }
    return int{ok};
  });
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

  auto* cluster = app.add_subcommand("cluster", "cluster membership and placement");
  cluster->require_subcommand(1);
  auto* cluster_status = cluster->add_subcommand(
    "status", "members, their states and addresses, and the shard map");
  cluster_status->callback([&] {
    code = call(ctx, "GET", "/v1/cluster", {}, [](const json& j) {
      std::printf("cluster %s (this node: %s)\n",
                  j["cluster_id"].get<std::string>().c_str(),
                  j["self"].get<std::string>().c_str());
      std::printf("%-16s %-24s %-8s %-9s %6s  %s\n", "MEMBER", "ADDRESS", "STATE",
                  "CONNECTED", "SHARDS", "INCARNATION");
      for (const auto& m : j["members"]) {
        auto name = m["name"].get<std::string>() + (m["self"].get<bool>() ? " *" : "");
        std::printf("%-16s %-24s %-8s %-9s %6zu  %llu\n", name.c_str(),
                    m["address"].get<std::string>().c_str(),
                    m["state"].get<std::string>().c_str(),
                    m["connected"].get<bool>() ? "yes" : "no",
                    m["shards"].get<size_t>(),
                    static_cast<unsigned long long>(m["incarnation"].get<uint64_t>()));
      }
      // The shard map as runs: "0-3 n1, 4 n2, …".
      std::string map;
      const auto& owners = j["shard_owner"];
      for (size_t s = 0; s < owners.size();) {
        auto e = s;
        while (e + 1 < owners.size() && owners[e + 1] == owners[s]) {
          ++e;
        }
        map += (map.empty() ? "" : ", ") + std::to_string(s)
               + (e > s ? "-" + std::to_string(e) : "") + " "
               + owners[s].get<std::string>();
        s = e + 1;
      }
      std::printf("shards: %s\n", map.c_str());
    });
  });

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

  // -- kv ---------------------------------------------------------------------
  auto* kv = app.add_subcommand("kv", "key-value store");
  kv->require_subcommand(1);
  std::string key;
  std::string value;
  std::string ttl;
  std::string pattern = ">";
  std::string cursor;
  int64_t if_revision = -1;
  uint32_t limit = 0;
  bool raw = false;
  bool keys_only = false;
  bool initial = false;

  auto* kv_put = kv->add_subcommand("put", "set KEY to VALUE ('-': stdin)");
  kv_put->add_option("key", key)->required();
  kv_put->add_option("value", value)->required();
  kv_put->add_option("--ttl", ttl, "expire after this long (30s, 5m)");
  kv_put->add_option("--if-revision", if_revision,
                     "only if the key is at this revision (0: absent)");
  kv_put->callback([&] {
    if (value == "-") {
      value.assign(std::istreambuf_iterator<char>{std::cin}, {});
    }
    auto target = key_path(key);
    std::string sep = "?";
    if (!ttl.empty()) {
      target += sep + "ttl=" + http::percent_encode(ttl);
      sep = "&";
    }
    if (if_revision >= 0) {
      target += sep + "if_revision=" + std::to_string(if_revision);
    }
    code = call(ctx, "PUT", target, value);
  });

  auto* kv_get = kv->add_subcommand("get", "read KEY");
  kv_get->add_option("key", key)->required();
  kv_get->add_flag("--raw", raw, "print only the value bytes");
  kv_get->callback([&] {
    code = call(ctx, "GET", key_path(key), {}, [&](const json& j) {
      if (raw) {
        std::cout << decoded(j);
        return;
      }
      auto shown = j;
      shown["value"] = decoded(j);
      print_human(shown);
    });
  });

  auto* kv_del = kv->add_subcommand("del", "delete KEY");
  kv_del->add_option("key", key)->required();
  kv_del->add_option("--if-revision", if_revision,
                     "only if the key is at this revision");
  kv_del->callback([&] {
    auto target = key_path(key);
    if (if_revision >= 0) {
      target += "?if_revision=" + std::to_string(if_revision);
    }
    code = call(ctx, "DELETE", target);
  });

  auto* kv_ls = kv->add_subcommand("ls", "list keys matching PATTERN");
  kv_ls->add_option("pattern", pattern, "a.b, a.*, a.> (default: all)");
  kv_ls->add_option("--limit", limit, "at most this many (default: all)");
  kv_ls->add_flag("--keys-only", keys_only, "omit values");
  kv_ls->callback([&] {
    // Follows continue tokens until done or `limit` entries were printed.
    std::string token;
    uint32_t printed = 0;
    for (;;) {
      auto page = std::min<uint32_t>(limit == 0 ? 1000 : limit - printed, 1000);
      auto target = "/v1/kv?pattern=" + http::percent_encode(pattern)
                    + "&limit=" + std::to_string(page)
                    + (keys_only ? "&keys_only" : "")
                    + (token.empty() ? "" : "&continue=" + token);
      bool more = false;
      code = call(ctx, "GET", target, {}, [&](const json& j) {
        for (auto& item : j["items"]) {
          std::cout << item.value("key", "");
          if (!keys_only) {
            std::cout << "\t" << decoded(item);
          }
          std::cout << "\n";
          ++printed;
        }
        more = j.value("more", false);
        token = j.value("continue", "");
      });
      if (code != ok || ctx.output == "json" || !more || token.empty()
          || (limit != 0 && printed >= limit)) {
        break;
      }
    }
  });

  auto* kv_history = kv->add_subcommand("history", "recent versions of KEY");
  kv_history->add_option("key", key)->required();
  kv_history->add_option("--limit", limit, "at most this many versions");
  kv_history->callback([&] {
    auto target = key_path(key) + "/history";
    if (limit > 0) {
      target += "?limit=" + std::to_string(limit);
    }
    code = call(ctx, "GET", target, {}, [&](const json& j) {
      for (auto& v : j["versions"]) {
        std::cout << v.value("revision", 0) << "\t" << v.value("operation", "")
                  << "\t" << v.value("at", "") << "\t" << decoded(v) << "\n";
      }
    });
  });

  auto* kv_watch = kv->add_subcommand("watch", "stream changes of PATTERN");
  kv_watch->add_option("pattern", pattern, "a.b, a.*, a.> (default: all)");
  kv_watch->add_option("--cursor", cursor, "resume after this cursor");
  kv_watch->add_flag("--initial", initial, "first print the current values");
  kv_watch->callback([&] {
    auto query = "pattern=" + http::percent_encode(pattern);
    if (!cursor.empty()) {
      query += "&cursor=" + http::percent_encode(cursor);
    }
    if (initial) {
      query += "&initial=true";
    }
    code = watch(ctx, query);
  });

  // -- idempotency -----------------------------------------------------------
  auto* idem = app.add_subcommand("idem", "idempotency keys");
  idem->require_subcommand(1);
  std::string token;
  std::string lease = "30s";
  std::string retention;
  std::string fingerprint;
  uint64_t fence = 0;
  std::string tenant;
  std::string scope;
  std::vector<std::string> parts;
  std::vector<std::string> inputs;
  std::string err_code;
  std::string err_message;

  auto* idem_key = idem->add_subcommand(
    "key", "build the key of TENANT SCOPE PART... (parts are JSON values)");
  idem_key->add_option("tenant", tenant)->required();
  idem_key->add_option("scope", scope)->required();
  idem_key->add_option("parts", parts, "42, 4.2, true, null, '\"text\"', or text");
  idem_key->add_option("--input", inputs,
                       "NAME=VALUE: build from named inputs instead of parts");
  idem_key->callback([&] {
    json body{{"tenant", tenant}, {"scope", scope}};
    if (!inputs.empty()) {
      if (!parts.empty()) {
        std::cerr << "shoalctl: give parts or --input, not both\n";
        code = usage;
        return;
      }
      json named = json::object();
      for (const auto& in : inputs) {
        auto eq = in.find('=');
        if (eq == std::string::npos) {
          std::cerr << "shoalctl: --input wants NAME=VALUE, got '" << in << "'\n";
          code = usage;
          return;
        }
        auto name = in.substr(0, eq);
        if (named.contains(name)) {
          std::cerr << "shoalctl: input '" << name << "' given twice\n";
          code = usage;
          return;
        }
        named[name] = json_or_string(in.substr(eq + 1));
      }
      body["inputs"] = named;
    } else {
      body["parts"] = json::array();
      for (const auto& p : parts) {
        body["parts"].push_back(json_or_string(p));
      }
    }
    // Built locally, with the same encoder as the node.
    auto built = http::build_key_from_json(body);
    if (!built) {
      std::cerr << "shoalctl: " << to_string(built.code()) << ": "
                << built.err().message << "\n";
      code = usage;
      return;
    }
    if (ctx.output == "json") {
      std::cout << json{{"key", *built}}.dump() << "\n";
    } else {
      std::cout << *built << "\n";
    }
  });

  auto* idem_begin = idem->add_subcommand("begin", "take the lease of KEY");
  idem_begin->add_option("key", key)->required();
  idem_begin->add_option("--lease", lease, "lease length")->capture_default_str();
  idem_begin->add_option("--fingerprint", fingerprint, "request fingerprint");
  idem_begin->add_option("--fence", fence, "fence of the lock held");
  idem_begin->callback([&] {
    json body{{"lease_ttl", lease}};
    if (!fingerprint.empty()) {
      body["fingerprint"] = fingerprint;
    }
    if (fence != 0) {
      body["fence"] = fence;
    }
    code = call(ctx, "POST", idem_path(key, "begin"), body.dump(),
                [](const json& j) {
                  std::cout << "fresh: " << (j.value("fresh", false) ? "true" : "false")
                            << "\n";
                  if (j.contains("token")) {
                    std::cout << "token: " << j["token"].get<std::string>() << "\n";
                  }
                  print_record(j["record"]);
                });
  });

  auto* idem_touch = idem->add_subcommand("touch", "extend the lease of KEY");
  idem_touch->add_option("key", key)->required();
  idem_touch->add_option("token", token)->required();
  idem_touch->add_option("--lease", lease, "new lease length")->capture_default_str();
  idem_touch->callback([&] {
    code = call(ctx, "POST", idem_path(key, "touch"),
                json{{"token", token}, {"lease_ttl", lease}}.dump(), print_record);
  });

  auto* idem_complete = idem->add_subcommand(
    "complete", "store RESULT ('-': stdin) as the outcome of KEY");
  idem_complete->add_option("key", key)->required();
  idem_complete->add_option("token", token)->required();
  idem_complete->add_option("result", value, "result bytes");
  idem_complete->add_option("--retention", retention, "keep the outcome this long");
  idem_complete->add_option("--fence", fence, "fence of the lock held");
  idem_complete->callback([&] {
    if (value == "-") {
      value.assign(std::istreambuf_iterator<char>{std::cin}, {});
    }
    json body{{"token", token}, {"result", base64_encode(value)}};
    if (!retention.empty()) {
      body["retention"] = retention;
    }
    if (fence != 0) {
      body["fence"] = fence;
    }
    code = call(ctx, "POST", idem_path(key, "complete"), body.dump(), print_record);
  });

  auto* idem_fail = idem->add_subcommand("fail", "store a failure of KEY");
  idem_fail->add_option("key", key)->required();
  idem_fail->add_option("token", token)->required();
  idem_fail->add_option("code", err_code)->required();
  idem_fail->add_option("message", err_message);
  idem_fail->add_option("--retention", retention, "keep the outcome this long");
  idem_fail->add_option("--fence", fence, "fence of the lock held");
  idem_fail->callback([&] {
    json body{{"token", token}, {"code", err_code}, {"message", err_message}};
    if (!retention.empty()) {
      body["retention"] = retention;
    }
    if (fence != 0) {
      body["fence"] = fence;
    }
    code = call(ctx, "POST", idem_path(key, "fail"), body.dump(), print_record);
  });

  auto* idem_get = idem->add_subcommand("get", "read the record of KEY");
  idem_get->add_option("key", key)->required();
  idem_get->add_flag("--raw", raw, "print only the result bytes");
  idem_get->callback([&] {
    code = call(ctx, "GET", idem_path(key), {}, [&](const json& j) {
      if (raw) {
        auto v = base64_decode(j.value("result", ""));
        std::cout << (v ? *v : std::string{});
        return;
      }
      print_record(j);
    });
  });

  auto* idem_del = idem->add_subcommand("del", "delete the record of KEY");
  idem_del->add_option("key", key)->required();
  idem_del->callback([&] { code = call(ctx, "DELETE", idem_path(key)); });

  auto* idem_sweep = idem->add_subcommand("sweep", "remove expired records now");
  idem_sweep->callback([&] { code = call(ctx, "POST", "/v1/idempotency/sweep"); });

  add_lock_commands(app, ctx, code);
  add_aggregate_commands(app, ctx, code);
  add_stream_commands(app, ctx, code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto rc = app.exit(e);
    return rc == 0 ? 0 : usage;
  }
  return code;
}
