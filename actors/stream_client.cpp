#include "actors/stream_client.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "actors/ask.hpp"
#include "actors/shard/local_reads.hpp"
#include "actors/stream/stream_relay.hpp"
#include "runtime/key.hpp"
#include "actors/reply_to.hpp"

namespace shoal {

result<void> validate_public_stream(std::string_view name) {
  if (auto ok = stream::validate_stream_name(name); !ok) {
    return ok;
  }
  if (name.starts_with(stream::reserved_prefix)) {
    return fail(errc::invalid_key, "stream names starting with '"
                                     + std::string{stream::reserved_prefix}
                                     + "' are reserved");
  }
  return {};
}

stream_client::stream_client(node& n) : node_(n) {
}

namespace {

// `call_stream`, waited for (blocking forms only).
template <class T, class... Ts>
result<T> wait_stream(node& n, const std::string& stream, Ts... xs) {
  return wait_for<T>([&](std::function<void(result<T>)> done) {
    call_stream<T>(n, stream, std::move(done), std::move(xs)...);
  });
}

} // namespace

void stream_client::append_async(
  stream::append_cmd cmd,
  std::function<void(result<stream::append_result>)> done) {
  if (auto ok = validate_public_stream(cmd.stream); !ok) {
    done(std::move(ok).err());
    return;
  }
  auto name = cmd.stream;
  call_stream<stream::append_result>(node_, name, std::move(done), append_atom_v,
                                     std::move(cmd));
}

void stream_client::read_async(
  stream::read_query q, std::function<void(result<stream::event_page>)> done) {
  auto name = q.stream;
  call_stream<stream::event_page>(node_, name, std::move(done), read_atom_v,
                                  std::move(q));
}

result<stream::append_result>
stream_client::append(std::string stream, std::vector<stream::event_data> events,
                      stream::expectation expected) {
  stream::append_cmd cmd{std::move(stream), std::move(events), expected};
  return wait_for<stream::append_result>(
    [&](auto done) { append_async(std::move(cmd), std::move(done)); });
}

result<stream::stream_info> stream_client::configure(stream::configure_cmd cmd) {
  if (auto ok = validate_public_stream(cmd.stream); !ok) {
    return std::move(ok).err();
  }
  auto name = cmd.stream;
  return wait_stream<stream::stream_info>(node_, name, put_atom_v, std::move(cmd));
}

result<stream::stream_info> stream_client::info(std::string stream) {
  return wait_stream<stream::stream_info>(node_, stream, info_atom_v, stream);
}

result<stream::event_page> stream_client::read(stream::read_query q) {
  return wait_for<stream::event_page>(
    [&](auto done) { read_async(std::move(q), std::move(done)); });
}

result<stream::checkpoint> stream_client::save_checkpoint(std::string stream,
                                                          uint64_t seq,
                                                          std::string state,
                                                          stream::payload_format format) {
  if (auto ok = validate_public_stream(stream); !ok) {
    return std::move(ok).err();
  }
  return wait_stream<stream::checkpoint>(
    node_, stream, save_atom_v,
    stream::checkpoint{stream, seq, {}, std::move(state), format});
}

result<stream::checkpoint> stream_client::load_checkpoint(std::string stream,
                                                          uint64_t at_or_before) {
  return wait_stream<stream::checkpoint>(node_, stream, load_atom_v, stream,
                                       at_or_before);
}

result<stream::replay_page> stream_client::replay_start(std::string stream,
                                                        uint64_t target,
                                                        uint32_t limit) {
  return wait_stream<stream::replay_page>(node_, stream, replay_atom_v, stream,
                                        target, limit);
}

void stream_client::list_async(
  std::string prefix, std::string after, uint32_t limit,
  std::function<void(result<std::vector<std::string>>)> done) {
  // Every shard, wherever it lives, or none.
  auto& dir = node_.placement();
  auto shards = all_shards(dir, shard_kind::streams, node_.streams().shards());
  if (!shards) {
    done(std::move(shards).err());
    return;
  }
  gather<std::vector<std::string>>(
    node_.bridge(), std::move(*shards), dir.forward_timeout(),
    std::function<void(result<std::vector<std::vector<std::string>>>)>{
      [done = std::move(done), limit](result<std::vector<std::vector<std::string>>> all) {
        if (!all) {
          done(std::move(all).err());
          return;
        }
        std::vector<std::string> names;
        for (auto& a : *all) {
          names.insert(names.end(), std::make_move_iterator(a.begin()),
                       std::make_move_iterator(a.end()));
        }
        std::sort(names.begin(), names.end());
        if (names.size() > limit) {
          names.resize(limit);
        }
        done(std::move(names));
      }},
    list_atom_v, std::move(prefix), std::move(after), limit);
}

result<std::vector<std::string>>
stream_client::list(std::string prefix, std::string after, uint32_t limit) {
  return wait_for<std::vector<std::string>>([&](auto done) {
    list_async(std::move(prefix), std::move(after), limit, std::move(done));
  });
}

result<void> stream_client::tail(std::string stream, uint64_t from,
                                 std::shared_ptr<stream_tail_sink> sink) {
  const auto& dir = node_.placement();
  auto shard = node_.streams().shard_of(stream);
  if (dir.is_local(shard)) {
    caf::anon_send(node_.streams().shards()[shard], tail_atom_v, std::move(stream), from,
                   std::move(sink));
    return {};
  }
  if (auto owner = dir.remote(shard_kind::streams, shard); !owner) {
    return std::move(owner).err();
  }
  spawn_stream_relay(node_.system(), dir, node_.streams(), std::move(stream), from,
                     std::move(sink));
  return {};
}

result<stream::append_result>
stream_client::append_entity(std::string id,
                             std::vector<stream::entity_change> changes,
                             stream::expectation expected,
                             std::vector<std::string> event_ids) {
  if (auto ok = stream::validate_entity_id(id); !ok) {
    return std::move(ok).err();
  }
  if (!event_ids.empty() && event_ids.size() != changes.size()) {
    return fail(errc::invalid_argument, "one event id per change, or none");
  }
  stream::append_cmd cmd;
  cmd.stream = stream::entity_stream(id);
  cmd.expected = expected;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (auto ok = stream::validate_change(changes[i]); !ok) {
      return std::move(ok).err();
    }
    cmd.events.push_back(stream::change_event(
      changes[i], event_ids.empty() ? std::string{} : std::move(event_ids[i])));
  }
  auto name = cmd.stream;
  return wait_for<stream::append_result>([&](auto done) {
    call_stream<stream::append_result>(node_, name, std::move(done), append_atom_v,
                                       std::move(cmd));
  });
}

result<stream::entity_state> stream_client::entity(std::string_view id) const {
  return entity_at(std::string{id}, 0);
}

void stream_client::entity_async(
  const std::string& id, uint64_t at,
  std::function<void(result<stream::entity_state>)> done) const {
  auto name = stream::entity_stream(id);
  auto shard = node_.streams().shard_of(name);
  auto& dir = node_.placement();
  if (at == 0 && dir.is_local(shard)) {
    // The promoted view, without asking any actor.
    if (const auto* s = node_.streams().entities_of(id)->find(id)) {
      done(*s);
    } else {
      done(fail(errc::not_found, "no entity " + id));
    }
    return;
  }
  ask_shard<stream::entity_state>(dir, node_.bridge(), shard_kind::streams, shard,
                                  node_.streams().shards()[shard], std::move(done),
                                  get_atom_v, id, at);
}

result<stream::entity_state> stream_client::entity_at(const std::string& id,
                                                      uint64_t at) const {
  return wait_for<stream::entity_state>(
    [&](auto done) { entity_async(id, at, std::move(done)); });
}

void stream_client::entities_async(
  std::string_view pattern, std::string_view after, size_t limit,
  std::function<void(result<std::vector<stream::entity_state>>)> done) const {
  using entities = std::vector<stream::entity_state>;
  auto p = key_pattern::parse(pattern);
  if (!p) {
    done(std::move(p).err());
    return;
  }
  auto merge = [limit](std::vector<entities> pages) {
    entities out;
    for (auto& some : pages) {
      out.insert(out.end(), std::make_move_iterator(some.begin()),
                 std::make_move_iterator(some.end()));
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    if (out.size() > limit) {
      out.resize(limit);
    }
    return out;
  };
  auto& dir = node_.placement();
  local_reads reads{dir, node_.streams().store()};
  auto views = node_.streams().all_entities();
  auto all_local = true;
  for (uint16_t s = 0; s < views.size() && all_local; ++s) {
    all_local = reads.may_read(shard_kind::streams, s).has_value();
  }
  if (all_local) {
    // One consistent view per shard (its published projection), read here.
    std::vector<entities> pages;
    for (const auto& view : views) {
      pages.push_back(matching_entities(*view, *p, after, limit));
    }
    done(merge(std::move(pages)));
    return;
  }
  // Every shard, wherever it lives, or none.
  auto shards = all_shards(dir, shard_kind::streams, node_.streams().shards());
  if (!shards) {
    done(std::move(shards).err());
    return;
  }
  gather<entities>(
    node_.bridge(), std::move(*shards), dir.forward_timeout(),
    detail::owner_unavailable_on_silence(
      std::function<void(result<std::vector<entities>>)>{
        [done = std::move(done), merge](result<std::vector<entities>> pages) {
          if (!pages) {
            done(std::move(pages).err());
            return;
          }
          done(merge(std::move(*pages)));
        }},
      "an owner"),
    scan_atom_v, std::string{pattern}, std::string{after},
    static_cast<uint32_t>(std::min<size_t>(limit, UINT32_MAX)));
}

result<std::vector<stream::entity_state>>
stream_client::entities(std::string_view pattern, std::string_view after,
                        size_t limit) const {
  return wait_for<std::vector<stream::entity_state>>(
    [&](auto done) { entities_async(pattern, after, limit, std::move(done)); });
}

result<std::vector<stream::event>>
stream_client::read_range(const std::string& stream, uint64_t from, uint64_t to,
                          size_t limit) {
  local_reads reads{node_.placement(), node_.streams().store()};
  if (auto store = reads.storage_of(shard_kind::streams, node_.streams().shard_of(stream))) {
    return read_events(**store, stream, from, to, limit);
  }
  stream::read_query q;
  q.stream = stream;
  q.from = from;
  q.to = to;
  q.limit = static_cast<uint32_t>(std::min<size_t>(limit, UINT32_MAX));
  auto page = read(std::move(q));
  if (!page) {
    return std::move(page).err();
  }
  return std::move(page->events);
}

result<void> stream_client::reachable(std::string_view stream) const {
  auto owner = keyed_shard_actor(node_.placement(), shard_kind::streams, node_.streams(),
                                 stream);
  if (!owner) {
    return std::move(owner).err();
  }
  return {};
}

} // namespace shoal
