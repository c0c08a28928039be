#include "cmd/shoalctl/common.hpp"

#include <iostream>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/json.hpp"

namespace shoal::ctl {

void print_human(const json& j, const std::string& indent) {
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

// Sends one request and prints the answer (through `human` unless -o json);
// returns the exit code.
int call(const context& ctx, const std::string& verb, const std::string& target,
         const std::string& body, const printer& human) {
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
  auto parsed = parse_answer(res->body);
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
  } else if (human) {
    human(parsed);
  } else {
    print_human(parsed);
  }
  return ok;
}

json parse_answer(std::string_view text) {
  auto j = http::parse_json(text);
  return j ? std::move(*j) : json(json::value_t::discarded);
}

json json_or_string(const std::string& text) {
  auto j = parse_answer(text);
  return j.is_discarded() ? json(text) : j;
}

int follow(const context& ctx, const std::string& target,
           const std::function<int(const json&)>& on_message) {
  auto hp = parse_host_port(ctx.endpoint);
  if (!hp) {
    std::cerr << "shoalctl: " << hp.err().message << "\n";
    return usage;
  }
  auto ws = http::ws_client::connect(hp->first, hp->second, target);
  if (!ws) {
    std::cerr << "shoalctl: " << to_string(ws.code()) << ": "
              << ws.err().message << "\n";
    return ws.code() == errc::unavailable ? unreachable : server_error;
  }
  for (;;) {
    auto m = ws->read(std::chrono::hours{24});
    if (!m) {
      if (m.code() == errc::timeout) {
        continue;
      }
      return ws->close_code() == http::close_code::normal ? ok : server_error;
    }
    if (ctx.output == "json") {
      std::cout << *m << std::endl;
      continue;
    }
    if (auto rc = on_message(parse_answer(*m)); rc != ok) {
      return rc;
    }
  }
}

} // namespace shoal::ctl
