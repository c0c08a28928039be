#include "actors/stream/stream_shard.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/stream/stream_relay.hpp"

namespace shoal {

std::vector<stream::entity_state> matching_entities(const stream::entity_map& m,
                                                    const key_pattern& pattern,
                                                    std::string_view after,
                                                    size_t limit) {
  std::vector<stream::entity_state> out;
  m.for_each([&](const std::string& id, const stream::entity_state& s) {
    if (id > after && pattern.matches(id)) {
      out.push_back(s);
    }
  });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  if (out.size() > limit) {
    out.resize(limit);
  }
  return out;
}

namespace {

// Entity `id` as of seq `at` of its stream, folded from the events in
// `store`; `info` is the stream's metadata. `not_found` if there is no
// such entity (or it did not exist at `at`), `invalid_argument`
// (+`current`) for `at` past the stream's end.
result<stream::entity_state>
fold_entity_at(const storage::read_view& store, const std::string& id,
               uint64_t at, const result<stream::stream_info>& info) {
  if (!info) {
    return fail(errc::not_found, "no entity " + id);
  }
  if (at > info->last_seq) {
    auto e = error{errc::invalid_argument,
                   "entity " + id + " is at seq " + std::to_string(info->last_seq)};
    e.current = info->last_seq;
    return e;
  }
  auto name = stream::entity_stream(id);
  std::optional<stream::entity_state> s;
  for (uint64_t next = 1; next <= at;) {
    auto events = read_events(store, name, next, at, 4096);
    if (!events) {
      return std::move(events).err();
    }
    if (events->empty()) {
      break;
    }
    for (const auto& ev : *events) {
      auto folded = stream::fold_entity(std::move(s), id, ev);
      if (!folded) {
        return std::move(folded).err();
      }
      s = std::move(*folded);
    }
    next = events->back().seq + 1;
  }
  if (!s) {
    return fail(errc::not_found, "entity " + id + " did not exist at seq "
                                   + std::to_string(at));
  }
  return std::move(*s);
}

// Folds an entity's history on its own thread (detached): a long history
// would otherwise hold every other command of the shard meanwhile. Reads
// a snapshot taken once the state asked for was durable, so retention
// deleting old events meanwhile changes nothing. Answers one request,
// then quits.
caf::behavior entity_fold(caf::event_based_actor* self,
                          std::shared_ptr<const storage::snapshot> snap,
                          std::string id, uint64_t at,
                          result<stream::stream_info> info) {
  return {
    [self, snap = std::move(snap), id = std::move(id), at,
     info = std::move(info)](get_atom) -> caf::result<stream::entity_state> {
      auto folded = fold_entity_at(*snap, id, at, info);
      self->quit();
      if (!folded) {
        return to_caf_error(folded.err());
      }
      return std::move(*folded);
    },
  };
}

// Events scanned per stream and tick by age retention.
constexpr size_t max_age_scan = 100'000;

struct feed_entry {
  caf::actor feed;
  /// Tails forwarded to it; an idle report counting fewer has one in flight.
  uint64_t tails = 0;
};

struct stream_shard_state {
  static inline const char* name = "shoal.stream.shard";

  std::optional<shard_host<stream::stream_table>> host;
  stream_feed_options feed_options;
  uint32_t max_read = 10'000;
  snapshot_policy snapshots;
  std::map<std::string, feed_entry, std::less<>> feeds;
  /// The projection of every durable entity event; each change of it is
  /// promoted to the view at once.
  stream::entity_map entities;
  std::shared_ptr<entity_view> view;
  uint64_t snapshot_no = 0;
  uint64_t since_snapshot = 0;
  time_point first_since_snapshot;
  metrics::counter* appended = nullptr;
  metrics::counter* swept = nullptr;
  metrics::counter* snapshot_count = nullptr;
  /// Time travel folds: one runs at a time (on its own thread), the
  /// others wait here with the snapshot taken when they were asked.
  bool folding = false;
  std::deque<std::function<void()>> waiting_folds;
};

using shard_pointer = stream_shard_actor::stateful_pointer<stream_shard_state>;

// Starts the next waiting time travel fold, unless one runs; `done`: the
// running one has answered.
void next_fold(shard_pointer self, bool done) {
  auto& st = self->state;
  if (done) {
    st.folding = false;
  }
  if (st.folding || st.waiting_folds.empty()) {
    return;
  }
  st.folding = true;
  auto start = std::move(st.waiting_folds.front());
  st.waiting_folds.pop_front();
  start();
}

// Runs `fn` once everything applied so far is durable, or delivers the
// failure through `deliver`.
template <class T, class Fn>
void when_durable(shard_pointer self, std::function<void(result<T>)> deliver,
                  Fn fn) {
  self->state.host->gate().after_durable(
    [deliver = std::move(deliver), fn = std::move(fn)](const error* failure) mutable {
      if (failure != nullptr) {
        deliver(*failure);
      } else {
        deliver(fn());
      }
    });
}

void publish(shard_pointer self, std::vector<stream::event> events) {
  if (events.empty()) {
    return;
  }
  auto& st = self->state;
  if (auto it = st.feeds.find(events.front().stream); it != st.feeds.end()) {
    caf::anon_send(it->second.feed, std::move(events));
  }
}

// The entity id of an entity stream's name, or empty.
std::string_view entity_of(std::string_view stream) {
  return stream.starts_with(stream::entity_prefix)
           ? stream.substr(stream::entity_prefix.size())
           : std::string_view{};
}

// Checks that every event of an append to an entity stream is a change.
result<void> check_entity_events(const stream::append_cmd& cmd) {
  for (size_t i = 0; i < cmd.events.size(); ++i) {
    auto c = stream::decode_change(cmd.events[i].payload);
    auto ok = c ? stream::validate_change(*c) : result<void>{c.err()};
    if (!ok) {
      auto e = std::move(ok).err();
      e.code = e.code == errc::storage_error ? errc::invalid_argument : e.code;
      e.message = "event " + std::to_string(i) + ": " + e.message;
      return e;
    }
  }
  return {};
}

// Once an append is durable: its entity events (if the stream is an
// entity's) fold into the projection, which is promoted to the view, and
// its events go to the stream's feed. Runs before the append's answer.
void on_appended(shard_pointer self, std::vector<stream::event>&& events) {
  auto& st = self->state;
  if (st.appended != nullptr) {
    st.appended->inc(events.size());
  }
  auto id = entity_of(events.front().stream);
  if (!id.empty()) {
    for (const auto& ev : events) {
      // Checked before the append: a change always folds.
      if (auto next = stream::apply_entity_event(st.entities, id, ev)) {
        st.entities = std::move(*next);
      }
    }
    if (st.since_snapshot == 0) {
      st.first_since_snapshot = st.host->now();
    }
    st.since_snapshot += events.size();
    st.view->root.store(std::make_shared<const stream::entity_map>(st.entities),
                        std::memory_order_release);
  }
  publish(self, std::move(events));
}

// Appends and answers once the events are durable: from the commit thread
// if `thread` allows and the stream is no entity's (an entity's answer
// waits for its projection to be promoted, on the shard's thread).
void append(shard_pointer self, const stream::append_cmd& cmd,
            std::function<void(result<stream::append_result>)> deliver,
            reply_thread thread = reply_thread::shard) {
  auto entity = !entity_of(cmd.stream).empty();
  if (entity) {
    if (auto ok = check_entity_events(cmd); !ok) {
      deliver(std::move(ok).err());
      return;
    }
    thread = reply_thread::shard;
  }
  self->state.host->submit<stream::append_result>(self, cmd, std::move(deliver), thread);
}

// Writes a snapshot of the pending projection when the policy says so.
// It goes to the committer after every batch it reflects, so it is
// durable only if they are.
void maybe_snapshot(shard_pointer self, time_point now) {
  auto& st = self->state;
  const auto& policy = st.snapshots;
  if (st.since_snapshot == 0
      || (st.since_snapshot < policy.every_events
          && now - st.first_since_snapshot < policy.every)) {
    return;
  }
  // The projection is this replica's own derived state: a local write.
  std::vector<record> records;
  auto no = ++st.snapshot_no;
  auto shard = st.host->machine().shard();
  records.push_back(record::put(stream::stream_table::snapshot_key(shard, no),
                                stream::encode_snapshot(st.entities)));
  if (no > policy.keep) {
    records.push_back(
      record::erase_range(stream::stream_table::snapshot_key(shard, 0),
                          stream::stream_table::snapshot_key(shard, no - policy.keep + 1)));
  }
  st.host->write_local(self, std::move(records));
  st.since_snapshot = 0;
  if (st.snapshot_count != nullptr) {
    st.snapshot_count->inc();
  }
}

result<stream::event_page> read(shard_pointer self, const stream::read_query& q) {
  auto& st = self->state;
  if (q.limit == 0 || q.limit > st.max_read) {
    return fail(errc::invalid_argument, "limit must be 1.." + std::to_string(st.max_read));
  }
  auto info = st.host->machine().info(q.stream);
  if (!info) {
    return std::move(info).err();
  }
  stream::event_page page;
  page.first_seq = info->first_seq;
  page.last_seq = info->last_seq;
  uint64_t lo = info->first_seq;
  uint64_t hi = info->last_seq;
  auto dir = storage::direction::forward;
  if (q.backward) {
    dir = storage::direction::backward;
    if (q.from != 0) {
      hi = std::min(hi, q.from);
    }
  } else {
    lo = std::max(lo, q.from);
    if (q.to != 0) {
      hi = std::min(hi, q.to);
    }
  }
  auto events = read_events(*st.host->env().store, q.stream, lo, hi, q.limit, dir);
  if (!events) {
    return std::move(events).err();
  }
  page.events = std::move(*events);
  if (page.events.size() == q.limit) {
    auto edge = page.events.back().seq;
    if (!q.backward && edge < hi) {
      page.next = edge + 1;
    } else if (q.backward && edge > lo) {
      page.next = edge - 1;
    }
  }
  return page;
}

// Reads checkpoint `seq` of `stream` (one the index holds) from storage.
result<stream::checkpoint> read_checkpoint(shard_pointer self,
                                           const std::string& stream, uint64_t seq) {
  auto v = self->state.host->env().store->get(storage::column::stream,
                                      stream::stream_table::checkpoint_key(stream, seq));
  if (!v) {
    return std::move(v).err();
  }
  if (!*v) {
    return fail(errc::storage_error, "checkpoint " + stream + "@"
                                       + std::to_string(seq) + " is missing");
  }
  return stream::stream_table::decode_checkpoint(stream, seq, **v);
}

result<stream::checkpoint> load(shard_pointer self, const std::string& stream,
                                uint64_t at_or_before) {
  auto seq = self->state.host->machine().checkpoint_at_or_before(
    stream, at_or_before == 0 ? UINT64_MAX : at_or_before);
  if (!seq) {
    return fail(errc::not_found, "no checkpoint of " + stream + " at or before "
                                   + std::to_string(at_or_before));
  }
  return read_checkpoint(self, stream, *seq);
}

result<stream::replay_page> replay(shard_pointer self, const std::string& stream,
                                   uint64_t target, uint32_t limit) {
  const auto& table = self->state.host->machine();
  auto info = table.info(stream);
  if (!info) {
    return std::move(info).err();
  }
  if (target == 0) {
    target = info->last_seq;
  }
  if (target > info->last_seq) {
    auto e = error{errc::invalid_argument,
                   "target " + std::to_string(target) + " is past the stream's last seq "
                     + std::to_string(info->last_seq)};
    e.current = info->last_seq;
    return e;
  }
  stream::replay_page out;
  out.target = target;
  uint64_t start = 1;
  if (auto seq = table.checkpoint_at_or_before(stream, target)) {
    auto cp = read_checkpoint(self, stream, *seq);
    if (!cp) {
      return std::move(cp).err();
    }
    out.has_checkpoint = true;
    start = cp->seq + 1;
    out.from = std::move(*cp);
  }
  if (start <= target && start < info->first_seq) {
    auto e = error{errc::compacted,
                   "events of " + stream + " before seq "
                     + std::to_string(info->first_seq)
                     + " were removed and no checkpoint covers them"};
    e.current = info->first_seq;
    return e;
  }
  auto page = read(self, stream::read_query{stream, start, limit, false, target});
  if (!page) {
    return std::move(page).err();
  }
  if (start > target) {
    page->events.clear();
    page->next = 0;
  }
  out.page = std::move(*page);
  return out;
}

void tail(shard_pointer self, std::string& stream, uint64_t from,
          std::shared_ptr<stream_tail_sink>& sink) {
  auto& st = self->state;
  if (auto ok = stream::validate_stream_name(stream); !ok) {
    sink->on_error(ok.err());
    return;
  }
  auto& entry = st.feeds[stream];
  if (!entry.feed) {
    entry.feed = spawn_stream_feed(self->system(), stream, st.host->env().store,
                                   caf::actor_cast<caf::actor>(self), st.feed_options);
  }
  ++entry.tails;
  // Everything applied up to now is in storage once durable; later events
  // reach the feed after that, in order.
  auto info = st.host->machine().info(stream);
  uint64_t last = info ? info->last_seq : 0;
  uint64_t first = info ? info->first_seq : 1;
  st.host->gate().after_durable([feed = entry.feed, sink = std::move(sink), from, last,
                         first](const error* failure) mutable {
    if (failure != nullptr) {
      sink->on_error(*failure);
      return;
    }
    caf::anon_send(feed, tail_atom_v, std::move(sink), from, last, first);
  });
}

// Age retention: drops each aged stream's events older than its max age.
// The first young event is found in storage; dropping what is before it is
// a command.
void expire_by_age(shard_pointer self, time_point now) {
  auto& st = self->state;
  for (auto& [name, max_age, first] : st.host->machine().aged()) {
    auto cutoff = now - max_age;
    uint64_t keep_from = first;
    for (size_t scanned = 0; scanned < max_age_scan;) {
      auto page = read_events(*st.host->env().store, name, keep_from, UINT64_MAX, 1024);
      if (!page || page->empty()) {
        break;
      }
      auto young = std::find_if(page->begin(), page->end(),
                                [&](const stream::event& e) {
                                  return e.time > cutoff;
                                });
      if (young != page->end()) {
        keep_from = young->seq;
        break;
      }
      keep_from = page->back().seq + 1;
      scanned += page->size();
    }
    if (keep_from > first) {
      (void) st.host->submit(self, stream::truncate_cmd{name, keep_from});
    }
  }
}

void tick(shard_pointer self) {
  auto& st = self->state;
  if (st.host->failed()) {
    return;
  }
  auto now = st.host->now();
  expire_by_age(self, now);
  auto n = st.host->submit_until_done(self, stream::sweep_cmd{});
  if (st.swept != nullptr && n > 0) {
    st.swept->inc(n);
  }
  maybe_snapshot(self, now);
}

stream_shard_actor::behavior_type stream_shard_impl(shard_pointer self,
                                                    stream::stream_table table,
                                                    stream_shard_env env,
                                                    entity_start start) {
  auto& st = self->state;
  st.host.emplace(std::move(table), env.shard, storage::column::stream, "stream");
  st.feed_options = env.feeds;
  st.max_read = env.max_read;
  st.snapshots = env.snapshots;
  st.entities = std::move(start.entities);
  st.snapshot_no = start.snapshot_no;
  st.view = std::move(start.view);
  if (env.shard.metrics != nullptr) {
    auto& reg = *env.shard.metrics;
    st.appended = &reg.add_counter("shoal_stream_events_appended_total",
                                   "Events appended to streams.");
    st.swept = &reg.add_counter("shoal_stream_dedup_swept_total",
                                "Stream event-id marks removed after the dedup window.");
    st.snapshot_count = &reg.add_counter("shoal_entity_snapshots_total",
                                         "Entity projection snapshots written.");
  }
  st.host->on_events(
    [self](std::vector<stream::event>&& events) { on_appended(self, std::move(events)); });
  self->delayed_send(self, env.shard.sweep_interval, tick_atom_v);
  return {
    [self](append_atom, stream::append_cmd& cmd,
           reply_to<stream::append_result>& reply) {
      append(self, cmd, std::move(reply.fn), thread_of(reply.any_thread));
    },
    [self](put_atom, stream::configure_cmd& cmd,
           reply_to<stream::stream_info>& reply) {
      self->state.host->submit<stream::stream_info>(self, cmd, std::move(reply.fn));
    },
    [self](info_atom, std::string& stream, reply_to<stream::stream_info>& reply) {
      auto& host = *self->state.host;
      host.read(host.machine().info(stream), std::move(reply.fn));
    },
    [self](read_atom, stream::read_query& q, reply_to<stream::event_page>& reply) {
      when_durable<stream::event_page>(self, std::move(reply.fn),
                                       [self, q = std::move(q)] {
                                         return read(self, q);
                                       });
    },
    [self](save_atom, stream::checkpoint& cp, reply_to<stream::checkpoint>& reply) {
      self->state.host->submit<stream::checkpoint>(
        self, stream::save_checkpoint_cmd{std::move(cp)},
        [fn = std::move(reply.fn)](result<stream::checkpoint> r) {
          if (r) {
            r->state.clear(); // the caller has it
          }
          fn(std::move(r));
        });
    },
    [self](load_atom, std::string& stream, uint64_t at_or_before,
           reply_to<stream::checkpoint>& reply) {
      when_durable<stream::checkpoint>(
        self, std::move(reply.fn),
        [self, stream = std::move(stream), at_or_before] {
          return load(self, stream, at_or_before);
        });
    },
    [self](replay_atom, std::string& stream, uint64_t target, uint32_t limit,
           reply_to<stream::replay_page>& reply) {
      when_durable<stream::replay_page>(
        self, std::move(reply.fn),
        [self, stream = std::move(stream), target, limit] {
          return replay(self, stream, target, limit);
        });
    },
    [self](list_atom, std::string& prefix, std::string& after, uint32_t limit,
           reply_to<std::vector<std::string>>& reply) {
      auto& host = *self->state.host;
      host.read(result<std::vector<std::string>>{host.machine().names(prefix, after, limit)},
                std::move(reply.fn));
    },
    [self](tail_atom, std::string& stream, uint64_t from,
           std::shared_ptr<stream_tail_sink>& sink) {
      tail(self, stream, from, sink);
    },
    [self](tail_atom, std::string& stream, uint64_t from, caf::actor& relay,
           uint64_t generation, uint32_t credit) {
      auto remote = spawn_tail_proxy(self->system(), std::move(relay), generation,
                                     credit);
      tail(self, stream, from, remote.sink);
      return remote.proxy;
    },
    [self](get_atom, std::string& id, uint64_t at) {
      auto rp = self->make_response_promise<stream::entity_state>();
      auto deliver = deliver_to(rp);
      if (at == 0) {
        // Once the state read is durable: the promoted view.
        when_durable<stream::entity_state>(
          self, std::move(deliver), [self, id = std::move(id)]() -> result<stream::entity_state> {
            if (const auto* e = self->state.view->load()->find(id)) {
              return *e;
            }
            return fail(errc::not_found, "no entity " + id);
          });
        return rp;
      }
      // Time travel: once the stream up to now is durable, the events up
      // to `at` are folded from a snapshot of storage, off this thread.
      self->state.host->gate().after_durable(
        [self, deliver = std::move(deliver), id = std::move(id), at](const error* failure) mutable {
          if (failure != nullptr) {
            deliver(*failure);
            return;
          }
          auto& st = self->state;
          auto info = st.host->machine().info(stream::entity_stream(id));
          std::shared_ptr<const storage::snapshot> snap = st.host->env().store->make_snapshot();
          st.waiting_folds.push_back([self, deliver = std::move(deliver), snap = std::move(snap),
                                      id = std::move(id), at, info = std::move(info)]() mutable {
            auto folder = self->system().spawn<caf::detached>(
              entity_fold, std::move(snap), std::move(id), at, std::move(info));
            self->request(folder, caf::infinite, get_atom_v)
              .then(
                [self, deliver](stream::entity_state& s) mutable {
                  deliver(std::move(s));
                  next_fold(self, true);
                },
                [self, deliver](caf::error& e) mutable {
                  deliver(from_caf_error(e));
                  next_fold(self, true);
                });
          });
          next_fold(self, false);
        });
      return rp;
    },
    [self](scan_atom, std::string& pattern, std::string& after,
           uint32_t limit) -> caf::result<std::vector<stream::entity_state>> {
      auto p = key_pattern::parse(pattern);
      if (!p) {
        return to_caf_error(p.err());
      }
      return matching_entities(*self->state.view->load(), *p, after, limit);
    },
    [self](append_atom a, stream::append_cmd& cmd) {
      return via_reply_to<stream::append_result>(self, a, std::move(cmd));
    },
    [self](put_atom a, stream::configure_cmd& cmd) {
      return via_reply_to<stream::stream_info>(self, a, std::move(cmd));
    },
    [self](info_atom a, std::string& stream) {
      return via_reply_to<stream::stream_info>(self, a, std::move(stream));
    },
    [self](read_atom a, stream::read_query& q) {
      return via_reply_to<stream::event_page>(self, a, std::move(q));
    },
    [self](save_atom a, stream::checkpoint& cp) {
      return via_reply_to<stream::checkpoint>(self, a, std::move(cp));
    },
    [self](load_atom a, std::string& stream, uint64_t at_or_before) {
      return via_reply_to<stream::checkpoint>(self, a, std::move(stream), at_or_before);
    },
    [self](replay_atom a, std::string& stream, uint64_t target, uint32_t limit) {
      return via_reply_to<stream::replay_page>(self, a, std::move(stream), target,
                                               limit);
    },
    [self](list_atom a, std::string& prefix, std::string& after, uint32_t limit) {
      return via_reply_to<std::vector<std::string>>(self, a, std::move(prefix),
                                                    std::move(after), limit);
    },
    [self](idle_atom, std::string& stream, uint64_t tails) {
      auto& feeds = self->state.feeds;
      auto it = feeds.find(stream);
      if (it != feeds.end() && it->second.tails == tails) {
        caf::anon_send_exit(it->second.feed, caf::exit_reason::user_shutdown);
        feeds.erase(it);
      }
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      self->state.host->on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      tick(self);
      self->delayed_send(self, self->state.host->env().sweep_interval, tick_atom_v);
    },
  };
}

} // namespace

stream_shard_actor spawn_stream_shard(caf::actor_system& sys,
                                      stream::stream_table table,
                                      stream_shard_env env, entity_start start) {
  return sys.spawn(stream_shard_impl, std::move(table), env, std::move(start));
}

} // namespace shoal
