#include "actors/stream/stream_feed.hpp"

#include <deque>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/type_ids.hpp"

namespace shoal {

result<std::vector<stream::event>>
read_events(const storage::read_view& store, const std::string& stream,
            uint64_t from, uint64_t to, size_t limit, storage::direction dir) {
  std::vector<stream::event> out;
  if (from > to || limit == 0) {
    return out;
  }
  error bad;
  bool corrupt = false;
  auto last = stream::stream_table::event_key(stream, to + 1);
  if (to == UINT64_MAX) {
    // No seq follows UINT64_MAX: end right after the stream's keys.
    last = storage::prefix_successor(
      std::string_view{last}.substr(0, last.size() - 8));
  }
  auto scanned = store.scan(
    storage::column::stream, stream::stream_table::event_key(stream, from),
    last,
    [&](std::string_view k, std::string_view v) {
      auto ev = stream::stream_table::decode_event(
        stream, stream::stream_table::seq_of(k), v);
      if (!ev) {
        bad = ev.err();
        corrupt = true;
        return false;
      }
      out.push_back(std::move(*ev));
      return out.size() < limit;
    },
    dir);
  if (!scanned) {
    return std::move(scanned).err();
  }
  if (corrupt) {
    return bad;
  }
  return out;
}

namespace {

constexpr auto retry_delay = std::chrono::milliseconds{10};

struct subscriber {
  std::shared_ptr<stream_tail_sink> sink;
  /// The next seq to deliver.
  uint64_t next = 1;
  bool live = false;
  /// Live events held while the consumer is not taking them; contiguous
  /// from `next`.
  std::deque<stream::event> backlog;
  size_t backlog_bytes = 0;
  bool done = false;
};

struct feed_state {
  static inline const char* name = "shoal.stream.feed";
  std::string stream;
  const storage::read_view* store = nullptr;
  caf::actor shard;
  stream_feed_options opts;
  /// Every event up to here is durable (in storage).
  uint64_t durable_last = 0;
  std::vector<subscriber> subs;
  uint64_t tails = 0;
  duration idle{0};
  bool retry_scheduled = false;
};

using feed_pointer = caf::stateful_actor<feed_state>*;

size_t weight(const stream::event& ev) {
  return ev.payload.size() + ev.metadata.size() + ev.type.size() + 64;
}

void schedule_retry(feed_pointer self) {
  if (!self->state.retry_scheduled) {
    self->state.retry_scheduled = true;
    self->delayed_send(self, retry_delay, tick_atom_v);
  }
}

// Offers events to `s` until it is caught up or refuses one. Returns false
// if it must be offered again later.
bool pump(feed_pointer self, subscriber& s) {
  auto& st = self->state;
  while (!s.done) {
    if (!s.sink->is_open()) {
      s.done = true;
      return true;
    }
    if (!s.backlog.empty() && s.backlog.front().seq == s.next) {
      if (!s.sink->on_event(s.backlog.front())) {
        return false;
      }
      s.backlog_bytes -= weight(s.backlog.front());
      s.backlog.pop_front();
      ++s.next;
      continue;
    }
    if (s.next <= st.durable_last) {
      // Catch-up: the events are in storage.
      auto upto = st.durable_last;
      if (!s.backlog.empty()) {
        upto = std::min(upto, s.backlog.front().seq - 1);
      }
      auto page = read_events(*st.store, st.stream, s.next, upto,
                              st.opts.catchup_page);
      if (!page) {
        s.sink->on_error(page.err());
        s.done = true;
        return true;
      }
      if (page->empty() || page->front().seq != s.next) {
        // Retention removed events this consumer still needed.
        auto e = error{errc::compacted,
                       "events of " + st.stream + " from seq "
                         + std::to_string(s.next) + " were removed"};
        e.current = page->empty() ? upto + 1 : page->front().seq;
        s.sink->on_error(e);
        s.done = true;
        return true;
      }
      for (const auto& ev : *page) {
        if (!s.sink->on_event(ev)) {
          return false;
        }
        s.next = ev.seq + 1;
      }
      continue;
    }
    if (!s.live) {
      if (!s.sink->on_live(s.next - 1)) {
        return false;
      }
      s.live = true;
    }
    return true;
  }
  return true;
}

void pump_all(feed_pointer self) {
  auto& st = self->state;
  bool again = false;
  for (auto& s : st.subs) {
    if (!pump(self, s)) {
      again = true;
    }
  }
  std::erase_if(st.subs, [](const subscriber& s) { return s.done; });
  if (again) {
    schedule_retry(self);
  }
}

void on_events(feed_pointer self, std::vector<stream::event>& batch) {
  auto& st = self->state;
  if (batch.empty()) {
    return;
  }
  st.durable_last = std::max(st.durable_last, batch.back().seq);
  for (auto& s : st.subs) {
    if (s.done || !s.live) {
      continue; // catching up: it reads these from storage
    }
    for (const auto& ev : batch) {
      auto expected = s.next + s.backlog.size();
      if (ev.seq != expected) {
        continue; // already delivered, or a gap the catch-up fills
      }
      s.backlog.push_back(ev);
      s.backlog_bytes += weight(ev);
    }
    if (s.backlog_bytes > st.opts.max_backlog_bytes) {
      // Nothing is dropped silently: the consumer learns where to resume.
      s.sink->on_lagged(s.next);
      s.done = true;
    }
  }
  pump_all(self);
}

caf::behavior feed_impl(caf::stateful_actor<feed_state>* self,
                        std::string stream, const storage::read_view* store,
                        caf::actor shard, stream_feed_options opts) {
  auto& st = self->state;
  st.stream = std::move(stream);
  st.store = store;
  st.shard = std::move(shard);
  st.opts = opts;
  // A feed lives no longer than its shard.
  self->monitor(st.shard);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->delayed_send(self, st.opts.progress_interval, progress_atom_v);
  return {
    [self](std::vector<stream::event>& batch) { on_events(self, batch); },
    [self](tail_atom, std::shared_ptr<stream_tail_sink>& sink, uint64_t from,
           uint64_t durable_last, uint64_t first_seq) {
      auto& st = self->state;
      ++st.tails;
      st.idle = duration{0};
      st.durable_last = std::max(st.durable_last, durable_last);
      if (from == 0) {
        from = st.durable_last + 1; // only what is appended from now on
      } else if (from < first_seq) {
        auto e = error{errc::compacted,
                       "events of " + st.stream + " before seq "
                         + std::to_string(first_seq) + " were removed"};
        e.current = first_seq;
        sink->on_error(e);
        return;
      }
      st.subs.push_back(subscriber{std::move(sink), from});
      pump_all(self);
    },
    [self](tick_atom) {
      self->state.retry_scheduled = false;
      pump_all(self);
    },
    [self](progress_atom) {
      auto& st = self->state;
      for (auto& s : st.subs) {
        if (!s.sink->is_open()) {
          s.done = true;
        } else if (s.live && s.backlog.empty()
                   && s.next > st.durable_last) {
          s.sink->on_progress(s.next - 1);
        }
      }
      std::erase_if(st.subs, [](const subscriber& s) { return s.done; });
      if (st.subs.empty()) {
        st.idle += st.opts.progress_interval;
        if (st.idle >= st.opts.idle_after) {
          caf::anon_send(st.shard, idle_atom_v, st.stream, st.tails);
        }
      } else {
        st.idle = duration{0};
      }
      self->delayed_send(self, st.opts.progress_interval, progress_atom_v);
    },
  };
}

} // namespace

caf::actor spawn_stream_feed(caf::actor_system& sys, std::string stream,
                             const storage::read_view* store, caf::actor shard,
                             stream_feed_options opts) {
  return sys.spawn(feed_impl, std::move(stream), store, std::move(shard), opts);
}

} // namespace shoal
