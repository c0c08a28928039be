#include "actors/kv/kv_watch.hpp"

#include <deque>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/error_bridge.hpp"

namespace shoal {

namespace {

// Catch-up still to read for one shard: revisions [next, to].
struct catchup {
  uint16_t shard;
  uint64_t next;
  uint64_t to;
};

constexpr size_t catchup_page = 128;
constexpr auto retry_delay = std::chrono::milliseconds{10};

struct kv_watch_state {
  static inline const char* name = "shoal.kv.watch";
  kv_watch_options opts;
  std::optional<key_pattern> pattern;
  std::shared_ptr<kv_watch_sink> sink;
  storage::engine* store = nullptr;
  /// Per shard: the revision up to which events were delivered.
  kv::cursor position;
  size_t missing_acks = 0;
  std::deque<catchup> catchups;
  /// Live events waiting for catch-up or for room in the consumer.
  std::deque<kv::event> live;
  size_t live_bytes = 0;
  /// An event the sink refused, offered again first.
  std::optional<kv::event> stalled;
  bool retry_scheduled = false;
  bool ended = false;
};

using watch_pointer = caf::stateful_actor<kv_watch_state>*;

void end(watch_pointer self) {
  self->state.ended = true;
  self->quit();
}

bool wanted(const kv_watch_state& st, const kv::event& ev) {
  auto is_put = ev.op == kv::operation::put;
  return st.pattern->matches(ev.key) && !(is_put && st.opts.no_put)
         && !(!is_put && st.opts.no_delete);
}

// Offers one event; false if the sink is full (the event becomes stalled).
bool offer(watch_pointer self, kv::event ev) {
  auto& st = self->state;
  if (ev.revision <= st.position[ev.shard]) {
    return true; // already delivered
  }
  auto prev = st.position[ev.shard];
  st.position[ev.shard] = ev.revision;
  if (st.sink->on_event(ev, kv::encode_cursor(st.position))) {
    return true;
  }
  st.position[ev.shard] = prev;
  st.stalled = std::move(ev);
  return false;
}

void schedule_retry(watch_pointer self) {
  if (!self->state.retry_scheduled) {
    self->state.retry_scheduled = true;
    self->delayed_send(self, retry_delay, tick_atom_v);
  }
}

// Reads up to one page of the front catch-up from the change log and offers
// it. Returns false when the sink is full.
bool pump_catchup(watch_pointer self) {
  auto& st = self->state;
  auto& c = st.catchups.front();
  std::vector<kv::event> page;
  error bad;
  bool corrupt = false;
  auto scanned = st.store->scan(
    storage::column::kv, kv::kv_table::log_key(c.shard, c.next),
    kv::kv_table::log_key(c.shard, c.to + 1),
    [&](std::string_view, std::string_view v) {
      auto ev = kv::kv_table::decode_event(v);
      if (!ev) {
        bad = ev.err();
        corrupt = true;
        return false;
      }
      ev->shard = c.shard;
      page.push_back(std::move(*ev));
      return page.size() < catchup_page;
    });
  if (!scanned || corrupt) {
    st.sink->on_error(scanned ? bad : scanned.err(),
                      kv::encode_cursor(st.position));
    end(self);
    return false;
  }
  if (page.empty()) {
    // No (more) changes in range: the shard's position moves to its end.
    st.position[c.shard] = std::max(st.position[c.shard], c.to);
    st.catchups.pop_front();
    return true;
  }
  for (auto& ev : page) {
    c.next = ev.revision + 1;
    if (wanted(st, ev) && !offer(self, std::move(ev))) {
      return false;
    }
  }
  if (c.next > c.to || page.size() < catchup_page) {
    st.position[c.shard] = std::max(st.position[c.shard], c.to);
    st.catchups.pop_front();
  }
  return true;
}

// Delivers as much as the consumer takes: a stalled event, then catch-up
// pages, then held live events (only once every catch-up is done, so that
// each shard's events stay in revision order).
void pump(watch_pointer self) {
  auto& st = self->state;
  if (st.ended || st.missing_acks > 0) {
    return;
  }
  if (st.stalled) {
    auto ev = std::move(*st.stalled);
    st.stalled.reset();
    if (!offer(self, std::move(ev))) {
      schedule_retry(self);
      return;
    }
  }
  while (!st.catchups.empty()) {
    if (!pump_catchup(self)) {
      if (!st.ended) {
        schedule_retry(self);
      }
      return;
    }
  }
  while (!st.live.empty()) {
    auto ev = std::move(st.live.front());
    st.live.pop_front();
    st.live_bytes -= ev.value.size() + ev.key.size();
    if (!offer(self, std::move(ev))) {
      schedule_retry(self);
      return;
    }
  }
}

void on_live(watch_pointer self, kv::event ev) {
  auto& st = self->state;
  if (st.ended || ev.shard >= st.position.size()) {
    return;
  }
  auto busy = st.missing_acks > 0 || st.stalled || !st.catchups.empty()
              || !st.live.empty();
  if (!busy) {
    if (!offer(self, std::move(ev))) {
      schedule_retry(self);
    }
    return;
  }
  st.live_bytes += ev.value.size() + ev.key.size();
  st.live.push_back(std::move(ev));
  if (st.live_bytes > st.opts.max_backlog_bytes) {
    // Nothing is dropped silently: the consumer learns where to resume.
    st.sink->on_lagged(kv::encode_cursor(st.position));
    end(self);
  }
}

caf::behavior kv_watch_impl(caf::stateful_actor<kv_watch_state>* self,
                            std::vector<kv_shard_actor> shards,
                            std::vector<uint16_t> indexes, uint32_t shard_count,
                            storage::engine* store, kv_watch_options opts,
                            std::shared_ptr<kv_watch_sink> sink) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.pattern = *key_pattern::parse(st.opts.pattern);
  st.sink = std::move(sink);
  st.store = store;
  st.position.assign(shard_count, 0);
  auto resume = !st.opts.cursor.empty();
  if (resume) {
    st.position = *kv::decode_cursor(st.opts.cursor, shard_count);
  }
  st.missing_acks = shards.size();
  for (size_t i = 0; i < shards.size(); ++i) {
    kv::watch_request req;
    req.watcher = caf::actor_cast<caf::actor>(self);
    req.pattern = st.opts.pattern;
    req.after = resume ? st.position[indexes[i]] : kv::any_revision;
    req.initial = st.opts.initial;
    req.no_put = st.opts.no_put;
    req.no_delete = st.opts.no_delete;
    self->request(shards[i], caf::infinite, watch_atom_v, std::move(req))
      .then(
        [self, resume](kv::watch_ack& ack) {
          auto& st = self->state;
          if (st.ended) {
            return;
          }
          for (const auto& e : ack.initial) {
            if (!st.sink->on_value(e)) {
              st.sink->on_lagged(kv::encode_cursor(st.position));
              end(self);
              return;
            }
          }
          auto& pos = st.position[ack.shard];
          if (resume && pos < ack.revision) {
            st.catchups.push_back({ack.shard, pos + 1, ack.revision});
          } else {
            pos = std::max(pos, ack.revision);
          }
          if (--st.missing_acks == 0) {
            // Registered everywhere: every change from here on is covered.
            if (!st.sink->on_synced(kv::encode_cursor(st.position))) {
              st.sink->on_lagged(kv::encode_cursor(st.position));
              end(self);
              return;
            }
            pump(self);
          }
        },
        [self, shard = indexes[i]](caf::error& err) {
          auto& st = self->state;
          if (st.ended) {
            return;
          }
          auto e = from_caf_error(err);
          auto oldest = st.position;
          if (e.code == errc::compacted && e.current) {
            oldest[shard] = std::max(oldest[shard], *e.current);
          }
          st.sink->on_error(e, kv::encode_cursor(oldest));
          end(self);
        });
  }
  self->delayed_send(self, st.opts.progress_interval, progress_atom_v);
  return {
    [self](kv::event& ev) { on_live(self, std::move(ev)); },
    [self](tick_atom) {
      self->state.retry_scheduled = false;
      pump(self);
    },
    [self](progress_atom) {
      auto& st = self->state;
      if (st.ended) {
        return;
      }
      // A heartbeat only when idle: a busy consumer has events to read.
      auto idle = !st.stalled && st.catchups.empty() && st.live.empty();
      if (idle && st.missing_acks == 0) {
        st.sink->on_progress(kv::encode_cursor(st.position));
      }
      self->delayed_send(self, st.opts.progress_interval, progress_atom_v);
    },
  };
}

} // namespace

result<void> validate_watch(const kv_watch_options& opts, uint32_t shard_count) {
  auto pattern = key_pattern::parse(opts.pattern);
  if (!pattern) {
    return std::move(pattern).err();
  }
  if (!opts.cursor.empty()) {
    auto c = kv::decode_cursor(opts.cursor, shard_count);
    if (!c) {
      return std::move(c).err();
    }
  }
  if (opts.progress_interval <= duration::zero()) {
    return fail(errc::invalid_argument, "progress interval must be positive");
  }
  return {};
}

caf::actor spawn_kv_watch(caf::actor_system& sys, const kv_service& kv,
                          kv_watch_options opts,
                          std::shared_ptr<kv_watch_sink> sink) {
  auto pattern = *key_pattern::parse(opts.pattern);
  std::vector<kv_shard_actor> shards;
  std::vector<uint16_t> indexes;
  if (pattern.type() == key_pattern::kind::exact) {
    indexes.push_back(kv.shard_of(pattern.stem()));
    shards.push_back(kv.shards()[indexes.back()]);
  } else {
    for (size_t i = 0; i < kv.shards().size(); ++i) {
      indexes.push_back(static_cast<uint16_t>(i));
      shards.push_back(kv.shards()[i]);
    }
  }
  auto n = static_cast<uint32_t>(kv.shards().size());
  return sys.spawn(kv_watch_impl, std::move(shards), std::move(indexes), n,
                   &kv.store(), std::move(opts), std::move(sink));
}

} // namespace shoal
