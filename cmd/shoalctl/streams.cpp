// shoalctl stream append|read|info|ls|retain|checkpoint|replay|tail, and
// entity change|get|ls.

#include <iostream>

#include "cmd/shoalctl/common.hpp"
#include "net/http/target.hpp"

namespace shoal::ctl {

namespace {

std::string stream_path(const std::string& name, const std::string& rest = {}) {
  return "/v1/streams/" + http::percent_encode(name, true)
         + (rest.empty() ? "" : "/" + rest);
}

std::string entity_path(const std::string& id, const std::string& rest = {}) {
  return "/v1/entities/" + http::percent_encode(id, true)
         + (rest.empty() ? "" : "/" + rest);
}

// `?a=1&b=2` from the non-empty pairs.
std::string query(std::initializer_list<std::pair<const char*, const std::string*>> params) {
  std::string q;
  for (auto [name, v] : params) {
    if (!v->empty()) {
      q += (q.empty() ? "?" : "&") + std::string{name} + "=" + http::percent_encode(*v);
    }
  }
  return q;
}

// One event per line: `seq type data`.
void print_events(const json& page) {
  for (const auto& e : page["events"]) {
    std::cout << e["seq"] << " " << e.value("type", "") << " "
              << (e.contains("data") ? e["data"].dump()
                                     : "base64:" + e.value("data_base64", ""))
              << std::endl;
  }
  if (page.contains("next")) {
    std::cout << "(more from " << page["next"] << ")" << std::endl;
  }
}

} // namespace

void add_stream_commands(CLI::App& app, context& ctx, int& code) {
  // Option storage lives as long as the app (callbacks run after parsing).
  static std::string name;
  static std::string type;
  static std::string data;
  static std::string event_id;
  static std::string expected;
  static std::string from;
  static std::string to;
  static std::string limit;
  static bool backward = false;
  static std::string prefix;
  static std::string max_count;
  static std::string max_age;
  static std::string truncate_before;
  static std::string seq;
  static std::string state;
  static std::string target;
  static std::string op;
  static std::vector<std::string> attributes;
  static std::string by;
  static std::string at;
  static std::string pattern;

  auto* stream = app.add_subcommand("stream", "event streams");
  stream->require_subcommand(1);

  auto* append = stream->add_subcommand("append", "append one event to STREAM");
  append->add_option("stream", name)->required();
  append->add_option("type", type)->required();
  append->add_option("data", data, "the payload: JSON, or a plain string");
  append->add_option("--id", event_id, "event id: a retry appends nothing");
  append->add_option("--expected", expected, "any, no_stream or the stream's last seq");
  append->callback([&] {
    json body{{"type", type}};
    if (!data.empty()) {
      body["data"] = json_or_string(data);
    }
    if (!event_id.empty()) {
      body["id"] = event_id;
    }
    if (!expected.empty()) {
      body["expected"] = json_or_string(expected);
    }
    code = call(ctx, "POST", stream_path(name, "events"), body.dump());
  });

  auto* read = stream->add_subcommand("read", "events of STREAM");
  read->add_option("stream", name)->required();
  read->add_option("--from", from, "first seq (backward: newest)");
  read->add_option("--to", to, "last seq");
  read->add_option("--limit", limit, "at most this many (default 100)");
  read->add_flag("--backward", backward, "newest first");
  read->callback([&] {
    auto q = query({{"from", &from}, {"to", &to}, {"limit", &limit}});
    if (backward) {
      q += (q.empty() ? "?" : "&") + std::string{"direction=backward"};
    }
    code = call(ctx, "GET", stream_path(name, "events") + q, {}, print_events);
  });

  auto* info = stream->add_subcommand("info", "metadata of STREAM");
  info->add_option("stream", name)->required();
  info->callback([&] { code = call(ctx, "GET", stream_path(name)); });

  auto* ls = stream->add_subcommand("ls", "stream names");
  ls->add_option("--prefix", prefix, "names starting with this");
  ls->add_option("--limit", limit, "at most this many");
  ls->callback([&] {
    code = call(ctx, "GET", "/v1/streams" + query({{"prefix", &prefix}, {"limit", &limit}}));
  });

  auto* retain = stream->add_subcommand("retain", "set the retention of STREAM");
  retain->add_option("stream", name)->required();
  retain->add_option("--max-count", max_count, "keep the newest N events (0: all)");
  retain->add_option("--max-age", max_age, "keep events younger than this (0s: all)");
  retain->add_option("--truncate-before", truncate_before, "remove events before this seq");
  retain->callback([&] {
    json body = json::object();
    for (auto [field, v] : {std::pair{"max_count", &max_count},
                            std::pair{"truncate_before", &truncate_before}}) {
      if (!v->empty()) {
        body[field] = json_or_string(*v);
      }
    }
    if (!max_age.empty()) {
      body["max_age"] = max_age;
    }
    code = call(ctx, "PUT", stream_path(name), body.dump());
  });

  auto* checkpoint = stream->add_subcommand("checkpoint", "save or load checkpoints");
  checkpoint->require_subcommand(1);
  auto* save = checkpoint->add_subcommand("save", "save STATE (JSON) at SEQ");
  save->add_option("stream", name)->required();
  save->add_option("seq", seq)->required();
  save->add_option("state", state)->required();
  save->callback([&] {
    code = call(ctx, "PUT", stream_path(name, "checkpoints/" + seq),
                json_or_string(state).dump());
  });
  auto* load = checkpoint->add_subcommand("load", "the newest checkpoint at or before --at");
  load->add_option("stream", name)->required();
  load->add_option("--at", at, "seq (default: the newest)");
  load->callback([&] {
    code = call(ctx, "GET", stream_path(name, "checkpoints") + query({{"at_or_before", &at}}));
  });

  auto* replay = stream->add_subcommand(
    "replay", "the checkpoint and events to fold STREAM's state at --target");
  replay->add_option("stream", name)->required();
  replay->add_option("--target", target, "seq (default: the last)");
  replay->callback([&] {
    code = call(ctx, "GET", stream_path(name, "replay") + query({{"target", &target}}));
  });

  auto* tail = stream->add_subcommand("tail", "follow STREAM (from --from, default: new events)");
  tail->add_option("stream", name)->required();
  tail->add_option("--from", from, "first seq");
  tail->callback([&] {
    code = follow(ctx, stream_path(name, "tail") + query({{"from", &from}}),
                  [&](const json& m) {
                    auto kind = m.value("kind", "");
                    if (ctx.output == "json") {
                      std::cout << m.dump() << std::endl;
                    } else if (kind == "event") {
                      std::cout << m["seq"] << " " << m.value("type", "") << " "
                                << (m.contains("data") ? m["data"].dump() : "(binary)")
                                << std::endl;
                    } else if (kind == "live") {
                      std::cerr << "caught up at " << m["seq"] << std::endl;
                    } else if (kind != "progress") {
                      std::cerr << m.dump() << std::endl;
                    }
                    return kind == "lagged" || kind == "error" ? server_error : ok;
                  });
  });

  auto* entity = app.add_subcommand("entity", "entities and their projections");
  entity->require_subcommand(1);

  auto* change = entity->add_subcommand(
    "change", "change ID: --set NAME=VALUE ... (merge; --op set replaces, --op delete removes)");
  change->add_option("id", name)->required();
  change->add_option("--op", op, "merge (default), set or delete");
  change->add_option("--set", attributes, "NAME=VALUE (VALUE JSON or a string; null removes)");
  change->add_option("--by", by, "who makes the change");
  change->add_option("--id", event_id, "event id: a retry changes nothing");
  change->add_option("--expected", expected, "the entity stream's last seq");
  change->callback([&] {
    json body{{"op", op.empty() ? "merge" : op}};
    if (!attributes.empty() || body["op"] != "delete") {
      body["attributes"] = json::object();
      for (const auto& a : attributes) {
        auto eq = a.find('=');
        if (eq == std::string::npos) {
          std::cerr << "--set wants NAME=VALUE, got " << a << std::endl;
          code = usage;
          return;
        }
        body["attributes"][a.substr(0, eq)] = json_or_string(a.substr(eq + 1));
      }
    }
    for (auto [field, v] : {std::pair{"by", &by}, std::pair{"id", &event_id}}) {
      if (!v->empty()) {
        body[field] = *v;
      }
    }
    if (!expected.empty()) {
      body["expected"] = json_or_string(expected);
    }
    code = call(ctx, "POST", entity_path(name, "events"), body.dump());
  });

  auto* get = entity->add_subcommand("get", "entity ID (--at SEQ: as of that seq)");
  get->add_option("id", name)->required();
  get->add_option("--at", at, "seq of the entity's stream");
  get->callback([&] { code = call(ctx, "GET", entity_path(name) + query({{"at", &at}})); });

  auto* els = entity->add_subcommand("ls", "entities whose id matches --pattern");
  els->add_option("--pattern", pattern, "e.g. user.> (default: all)");
  els->add_option("--limit", limit, "at most this many");
  els->callback([&] {
    code = call(ctx, "GET", "/v1/entities" + query({{"pattern", &pattern}, {"limit", &limit}}));
  });
}

} // namespace shoal::ctl
