// kv routes: PUT/GET/DELETE /v1/kv/{key}, GET /v1/kv (list by pattern),
// GET /v1/kv/{key}/history.

#include <algorithm>
#include <charconv>

#include <caf/actor_system.hpp>

#include "actors/kv_client.hpp"
#include "actors/node.hpp"
#include "net/http/actor_bridge.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "net/http/target.hpp"
#include "net/http/views.hpp"
#include "runtime/base64.hpp"

namespace shoal::http {

namespace {

constexpr uint32_t default_list_limit = 100;
constexpr uint32_t max_list_limit = 1000;
constexpr std::string_view history_suffix = "/history";
constexpr std::string_view kv_prefix = "/v1/kv/";

json time_json(time_point t) {
  return format_rfc3339(t);
}

} // namespace

void write_entry(json_writer& out, const kv::entry& e, bool with_value,
                 std::optional<uint64_t> prev_revision) {
  out.begin_object();
  out.key("create_revision").value(e.create_revision);
  out.key("created").value(format_rfc3339(e.created));
  out.key("expires_at");
  if (e.has_expiry()) {
    out.value(format_rfc3339(e.expires_at));
  } else {
    out.null();
  }
  out.key("key").value(e.key);
  if (e.lease != 0) {
    out.key("lease").value(e.lease);
  }
  out.key("modified").value(format_rfc3339(e.modified));
  if (prev_revision) {
    out.key("prev_revision").value(*prev_revision);
  }
  out.key("revision").value(e.revision);
  if (with_value) {
    out.key("value").value(base64_encode(e.value));
  }
  out.key("version").value(e.version);
  out.end_object();
}

json entry_json(const kv::entry& e, bool with_value,
                std::optional<uint64_t> prev_revision) {
  json_writer out;
  write_entry(out, e, with_value, prev_revision);
  return json::parse(out.take());
}

namespace {

std::string_view op_name(kv::operation op) {
  return kv::to_string(op);
}

// Answers with `render` (JSON text) of a write's result, or its error.
std::function<void(result<kv::write_result>)>
write_answer(respond_fn respond, std::string (*render)(const kv::write_result&)) {
  return [respond, render](result<kv::write_result> r) {
    if (!r) {
      respond(error_response(r.err()));
      return;
    }
    respond(json_text_response(200, render(*r)));
  };
}

// `?fence_lock=KEY&fence_token=N`: both or neither.
result<kv::fence> fence_of(const request& req) {
  auto* lock = req.query_param("fence_lock");
  auto* token = req.query_param("fence_token");
  if (!lock && !token) {
    return kv::fence{};
  }
  if (!lock || !token) {
    return fail(errc::invalid_argument,
                "fence_lock and fence_token go together");
  }
  auto t = parse_u64(*token, "fence_token");
  if (!t) {
    return std::move(t).err();
  }
  return kv::fence{*lock, *t};
}

// What every write takes from the query — `if_revision` (absent: none)
// and the fence — into `cmd`, then its key checked.
template <class Command>
result<void> write_conditions(const request& req, Command& cmd) {
  cmd.if_revision = kv::any_revision;
  if (auto* v = req.query_param("if_revision")) {
    auto rev = parse_u64(*v, "if_revision");
    if (!rev) {
      return std::move(rev).err();
    }
    // The largest value is the machine's "unconditional": no revision is
    // ever that large, and a client that asks for it means something else.
    if (*rev == kv::any_revision) {
      return fail(errc::invalid_argument,
                  "if_revision must be 0 (absent) or a revision below 2^64-1");
    }
    cmd.if_revision = *rev;
  }
  auto fence = fence_of(req);
  if (!fence) {
    return std::move(fence).err();
  }
  cmd.fence = std::move(*fence);
  return validate_key(cmd.key);
}

void put_route(node& n, request& req, respond_fn respond) {
  kv::put_cmd cmd;
  cmd.key = req.param("key");
  cmd.value = std::move(req.body);
  if (auto* ttl = req.query_param("ttl")) {
    auto d = parse_duration(*ttl);
    if (!d) {
      respond(error_response(error{errc::invalid_ttl, "ttl: " + d.err().message}));
      return;
    }
    cmd.ttl = *d;
  }
  if (auto* lease = req.query_param("lease")) {
    auto id = parse_u64(*lease, "lease");
    if (!id) {
      respond(error_response(id.err()));
      return;
    }
    cmd.lease = *id;
  }
  if (auto ok = write_conditions(req, cmd); !ok) {
    respond(error_response(ok.err()));
    return;
  }
  kv_client{n}.put_async(std::move(cmd),
                         write_answer(std::move(respond), [](const kv::write_result& r) {
                           json_writer out;
                           write_entry(out, r.current, false, r.prev_revision);
                           return out.take();
                         }));
}

void history_route(node& n, const std::string& key, request& req,
                   respond_fn respond) {
  uint32_t limit = 0;
  if (auto* v = req.query_param("limit")) {
    auto l = parse_u64(*v, "limit");
    if (!l || *l > 1'000'000) {
      respond(error_response(error{errc::invalid_argument,
                                   "limit must be an integer up to 1000000"}));
      return;
    }
    limit = static_cast<uint32_t>(*l);
  }
  if (auto ok = validate_key(key); !ok) {
    respond(error_response(ok.err()));
    return;
  }
  kv_client{n}.history_async(
    key, limit, [respond, key](result<std::vector<kv::version_record>> r) {
      if (!r) {
        respond(error_response(r.err()));
        return;
      }
      auto versions = json::array();
      // Newest first.
      for (auto it = r->rbegin(); it != r->rend(); ++it) {
        json v{{"operation", op_name(it->op)},
               {"revision", it->revision},
               {"version", it->version},
               {"at", time_json(it->at)}};
        if (it->op == kv::operation::put) {
          v["value"] = base64_encode(it->value);
          v["expires_at"] = it->expires_at != time_point{}
                              ? time_json(it->expires_at)
                              : json{};
        }
        versions.push_back(std::move(v));
      }
      respond(json_response(200, json{{"key", key}, {"versions", versions}}));
    });
}

void get_route(node& n, request& req, respond_fn respond) {
  auto key = req.param("key");
  // `/v1/kv/a.b/history`: the raw path has a segment for the key and then
  // a last segment `history` (`/v1/kv/history` is the key "history"). A
  // key that really ends in "/history" is reached by encoding its slash
  // (%2F). Decided on the raw path: a decoded key may hold any bytes.
  std::string_view path = req.path;
  path.remove_prefix(std::min(path.size(), kv_prefix.size()));
  if (path.size() > history_suffix.size() && path.ends_with(history_suffix)) {
    auto decoded = percent_decode(path.substr(0, path.size() - history_suffix.size()),
                                  false);
    if (!decoded) {
      respond(error_response(decoded.err()));
      return;
    }
    history_route(n, *decoded, req, std::move(respond));
    return;
  }
  if (auto ok = validate_key(key); !ok) {
    respond(error_response(ok.err()));
    return;
  }
  auto raw = req.query_param("raw") != nullptr;
  kv_client{n}.get_async(key,
                 [respond, raw](result<kv::entry> e) {
                   if (!e) {
                     respond(error_response(e.err()));
                     return;
                   }
                   if (!raw) {
                     json_writer out;
                     write_entry(out, *e, true);
                     respond(json_text_response(200, out.take()));
                     return;
                   }
                   response r;
                   r.content_type = "application/octet-stream";
                   r.headers = {
                     {"X-Shoal-Revision", std::to_string(e->revision)},
                     {"X-Shoal-Create-Revision",
                      std::to_string(e->create_revision)},
                     {"X-Shoal-Version", std::to_string(e->version)},
                     {"X-Shoal-Modified", format_rfc3339(e->modified)}};
                   if (e->has_expiry()) {
                     r.headers.emplace_back("X-Shoal-Expires-At",
                                            format_rfc3339(e->expires_at));
                   }
                   r.body = std::move(e->value);
                   respond(std::move(r));
                 });
}

void delete_route(node& n, request& req, respond_fn respond) {
  kv::delete_cmd cmd;
  cmd.key = req.param("key");
  if (auto ok = write_conditions(req, cmd); !ok) {
    respond(error_response(ok.err()));
    return;
  }
  kv_client{n}.erase_async(std::move(cmd),
                           write_answer(std::move(respond), [](const kv::write_result& r) {
                             return to_text(json{{"revision", r.revision},
                                                 {"prev_revision", r.prev_revision},
                                                 {"deleted", r.changed}});
                           }));
}

void list_route(node& n, request& req, respond_fn respond) {
  kv::list_query q;
  q.pattern = req.query_param("pattern") ? *req.query_param("pattern") : ">";
  auto pattern = key_pattern::parse(q.pattern);
  if (!pattern) {
    respond(error_response(pattern.err()));
    return;
  }
  q.limit = default_list_limit;
  if (auto* v = req.query_param("limit")) {
    auto l = parse_u64(*v, "limit");
    if (!l || *l == 0 || *l > max_list_limit) {
      respond(error_response(error{
        errc::invalid_argument,
        "limit must be 1.." + std::to_string(max_list_limit)}));
      return;
    }
    q.limit = static_cast<uint32_t>(*l);
  }
  if (auto* token = req.query_param("continue")) {
    auto after = base64_decode(*token, base64_alphabet::url);
    if (!after) {
      respond(error_response(error{errc::invalid_argument,
                                   "invalid continue token"}));
      return;
    }
    q.after = std::move(*after);
  }
  q.keys_only = req.query_param("keys_only") != nullptr;
  auto keys_only = q.keys_only;
  kv_client{n}.list_async(
    std::move(q), [respond, keys_only](result<kv::list_page> page) {
      if (!page) {
        respond(error_response(page.err()));
        return;
      }
      auto& merged = *page;
      json_writer out;
      out.begin_object();
      if (merged.more && !merged.items.empty()) {
        out.key("continue").value(base64_encode(merged.items.back().key, base64_alphabet::url));
      }
      out.key("items").begin_array();
      for (const auto& e : merged.items) {
        write_entry(out, e, !keys_only);
      }
      out.end_array();
      out.key("more").value(merged.more);
      out.end_object();
      respond(json_text_response(200, out.take()));
    });
}

} // namespace

void add_kv_routes(router& routes, node& n) {
  routes.add(method::put, "/v1/kv/{key...}",
             [&n](request& req, respond_fn respond) {
               put_route(n, req, std::move(respond));
             });
  routes.add(method::get, "/v1/kv/{key...}",
             [&n](request& req, respond_fn respond) {
               get_route(n, req, std::move(respond));
             });
  routes.add(method::del, "/v1/kv/{key...}",
             [&n](request& req, respond_fn respond) {
               delete_route(n, req, std::move(respond));
             });
  routes.add(method::get, "/v1/kv", [&n](request& req, respond_fn respond) {
    list_route(n, req, std::move(respond));
  });
}

} // namespace shoal::http
