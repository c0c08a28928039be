#include "actors/kv/kv_watch.hpp"

#include <deque>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/routing.hpp"
#include "actors/error_bridge.hpp"
#include "actors/shard/local_reads.hpp"

namespace shoal {

namespace {

// Catch-up still to read for one shard: revisions [next, to]. From local
// storage when this node owns the shard, else fetched from the owner's
// shard a page at a time into `fetched`.
struct catchup {
  uint16_t shard;
  uint64_t next;
  uint64_t to;
  bool fetching = false;
  std::deque<kv::event> fetched;
};

// One shard the watch needs. A remote shard is `attached` from its
// registration's answer until its owner is lost (its actor goes down or a
// catch-up read goes unanswered); then it is detached and registered again,
// from the watch's position, once the owner is back.
struct shard_link {
  bool remote = false;
  bool attached = false;
  caf::actor actor;
  // Tells answers of an older registration from the current one.
  uint64_t generation = 0;
};

constexpr size_t catchup_page = 128;
constexpr auto retry_delay = std::chrono::milliseconds{10};
constexpr auto reattach_delay = std::chrono::milliseconds{250};

struct kv_watch_state {
  static inline const char* name = "shoal.kv.watch";
  kv_watch_options opts;
  std::optional<key_pattern> pattern;
  std::shared_ptr<kv_watch_sink> sink;
  const kv_service* kv = nullptr;
  const directory* dir = nullptr;
  std::vector<shard_link> links;
  /// Per shard: the revision up to which events were delivered.
  kv::cursor position;
  /// Shards yet to answer the first registration; once none, the watch is
  /// synced (a registration again after an owner was lost does not count).
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

bool synced(const kv_watch_state& st) {
  return st.missing_acks == 0;
}

void end(watch_pointer self) {
  self->state.ended = true;
  self->quit();
}

bool wanted(const kv_watch_state& st, const kv::event& ev) {
  auto is_put = ev.op == kv::operation::put;
  return st.pattern->matches(ev.key) && !(is_put && st.opts.no_put)
         && !(!is_put && st.opts.no_delete);
}

// The cursor token of `c`. One change goes to every watcher of its pattern
// one after another on this thread, and watchers that started together
// stand at the same position: the last token is reused while it fits.
const std::string& cursor_token(const kv::cursor& c) {
  thread_local kv::cursor last;
  thread_local std::string token;
  if (token.empty() || c != last) {
    last = c;
    token = kv::encode_cursor(c);
  }
  return token;
}

// Offers one event; false if the sink is full (the event becomes stalled).
bool offer(watch_pointer self, const kv::event& ev) {
  auto& st = self->state;
  if (ev.revision <= st.position[ev.shard]) {
    return true; // already delivered
  }
  auto prev = st.position[ev.shard];
  st.position[ev.shard] = ev.revision;
  if (st.sink->on_event(ev, cursor_token(st.position))) {
    return true;
  }
  st.position[ev.shard] = prev;
  st.stalled = ev;
  return false;
}

void schedule_retry(watch_pointer self) {
  if (!self->state.retry_scheduled) {
    self->state.retry_scheduled = true;
    self->delayed_send(self, retry_delay, tick_atom_v);
  }
}

void pump(watch_pointer self);
void attach(watch_pointer self, uint16_t shard);

// Ends the watch with `e` (the cursor it reports is where to resume).
void fail_watch(watch_pointer self, const error& e, const kv::cursor& at) {
  self->state.sink->on_error(e, kv::encode_cursor(at));
  end(self);
}

// The owner of `shard` is lost: its catch-up and held events are dropped
// (the next registration reads them again from the watch's position) and
// it is registered again once reachable. Before the watch was synced this
// ends the watch instead: it never started.
void detach(watch_pointer self, uint16_t shard, const error& why) {
  auto& st = self->state;
  auto& link = st.links[shard];
  if (st.ended || !link.remote) {
    return;
  }
  if (!synced(st)) {
    fail_watch(self, why, st.position);
    return;
  }
  if (link.actor) {
    self->demonitor(link.actor);
  }
  // Lost while attached, or a try to register again that failed.
  auto was_attached = link.attached;
  link.actor = nullptr;
  link.attached = false;
  ++link.generation;
  std::erase_if(st.catchups, [shard](const catchup& c) { return c.shard == shard; });
  std::erase_if(st.live, [&st, shard](const kv::event& ev) {
    if (ev.shard != shard) {
      return false;
    }
    st.live_bytes -= ev.value.size() + ev.key.size();
    return true;
  });
  if (was_attached) {
    spdlog::info("watch {}: shard {} detached ({}); resuming at revision {} "
                 "when its owner is back",
                 st.opts.pattern, shard, why.message, st.position[shard]);
    // A notice, not a change: when the consumer's buffer is full it is
    // dropped rather than held (the changes themselves are not).
    st.sink->on_detached(shard, why.message, kv::encode_cursor(st.position));
  } else {
    spdlog::debug("watch {}: shard {} still detached ({})", st.opts.pattern,
                  shard, why.message);
  }
  self->delayed_send(self, reattach_delay, watch_atom_v, shard);
  pump(self);
}

// Asks the owner of a remote catch-up for its next page.
void fetch(watch_pointer self, catchup& c) {
  auto& st = self->state;
  auto& link = st.links[c.shard];
  c.fetching = true;
  auto shard = c.shard;
  auto gen = link.generation;
  self
    ->request(caf::actor_cast<kv_shard_actor>(link.actor), st.dir->forward_timeout(),
              read_atom_v, c.next, c.to, static_cast<uint32_t>(catchup_page))
    .then(
      [self, shard, gen](std::vector<kv::event>& page) {
        auto& st = self->state;
        if (st.ended || st.links[shard].generation != gen || st.catchups.empty()
            || st.catchups.front().shard != shard) {
          return;
        }
        auto& c = st.catchups.front();
        c.fetching = false;
        // The owner reads up to `to` (durable): a short page ends the range.
        c.next = page.size() < catchup_page ? c.to + 1 : page.back().revision + 1;
        for (auto& ev : page) {
          c.fetched.push_back(std::move(ev));
        }
        pump(self);
      },
      [self, shard, gen](caf::error& err) {
        auto& st = self->state;
        if (st.ended || st.links[shard].generation != gen) {
          return;
        }
        auto e = from_caf_error(err);
        if (e.code == errc::timeout || e.code == errc::unavailable) {
          detach(self, shard, e);
        } else {
          fail_watch(self, e, st.position);
        }
      });
}

enum class step { progressed, full, waiting };

// Offers up to one page of the front catch-up. `full` when the sink is,
// `waiting` while a remote page is on its way.
step pump_catchup(watch_pointer self) {
  auto& st = self->state;
  auto& c = st.catchups.front();
  auto finish = [&] {
    st.position[c.shard] = std::max(st.position[c.shard], c.to);
    st.catchups.pop_front();
    return step::progressed;
  };
  if (st.links[c.shard].remote) {
    while (!c.fetched.empty()) {
      auto ev = std::move(c.fetched.front());
      c.fetched.pop_front();
      if (wanted(st, ev) && !offer(self, std::move(ev))) {
        return step::full;
      }
    }
    if (c.fetching) {
      return step::waiting;
    }
    if (c.next > c.to) {
      return finish();
    }
    fetch(self, c);
    return step::waiting;
  }
  auto store = local_reads{*st.dir, st.kv->store()}.storage_of(shard_kind::kv, c.shard);
  if (!store) {
    fail_watch(self, store.err(), st.position);
    return step::full;
  }
  auto page = read_changes(**store, c.shard, c.next, c.to, catchup_page);
  if (!page) {
    fail_watch(self, page.err(), st.position);
    return step::full;
  }
  if (page->empty()) {
    // No (more) changes in range: the shard's position moves to its end.
    return finish();
  }
  auto last = page->size() < catchup_page;
  for (auto& ev : *page) {
    c.next = ev.revision + 1;
    if (wanted(st, ev) && !offer(self, std::move(ev))) {
      return step::full;
    }
  }
  if (c.next > c.to || last) {
    return finish();
  }
  return step::progressed;
}

// Delivers as much as the consumer takes: a stalled event, then catch-up
// pages, then held live events (only once every catch-up is done, so that
// each shard's events stay in revision order).
void pump(watch_pointer self) {
  auto& st = self->state;
  if (st.ended || !synced(st)) {
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
    switch (pump_catchup(self)) {
      case step::progressed:
        continue;
      case step::full:
        if (!st.ended) {
          schedule_retry(self);
        }
        return;
      case step::waiting:
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

void on_live(watch_pointer self, const kv::event& ev) {
  auto& st = self->state;
  if (st.ended || ev.shard >= st.links.size() || !st.links[ev.shard].attached) {
    // A detached shard's changes are read again when it is back.
    return;
  }
  auto busy = !synced(st) || st.stalled || !st.catchups.empty() || !st.live.empty();
  if (!busy) {
    if (!offer(self, ev)) {
      schedule_retry(self);
    }
    return;
  }
  st.live_bytes += ev.value.size() + ev.key.size();
  st.live.push_back(ev);
  if (st.live_bytes > st.opts.max_backlog_bytes) {
    // Nothing is dropped silently: the consumer learns where to resume.
    st.sink->on_lagged(kv::encode_cursor(st.position));
    end(self);
  }
}

// A shard answered a registration: queue its catch-up (on a resume or a
// re-registration), or start at its revision.
void on_ack(watch_pointer self, kv::watch_ack& ack, bool resume) {
  auto& st = self->state;
  auto& link = st.links[ack.shard];
  link.attached = true;
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
  if (synced(st)) {
    // Registered again after its owner was lost (a notice, as above).
    st.sink->on_attached(ack.shard, kv::encode_cursor(st.position));
    pump(self);
    return;
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
}

// Registers with `shard`: at start, or again after its owner was lost
// (then from the watch's position, without initial values).
void attach(watch_pointer self, uint16_t shard) {
  auto& st = self->state;
  auto& link = st.links[shard];
  auto resume = synced(st) || !st.opts.cursor.empty();
  kv::watch_request req;
  req.watcher = caf::actor_cast<caf::actor>(self);
  req.pattern = st.opts.pattern;
  req.after = resume ? st.position[shard] : kv::any_revision;
  req.initial = st.opts.initial && !synced(st);
  req.no_put = st.opts.no_put;
  req.no_delete = st.opts.no_delete;
  auto target = shard_actor(*st.dir, shard_kind::kv, shard, st.kv->shards()[shard]);
  if (!target) {
    detach(self, shard, target.err()); // schedules the next try
    return;
  }
  link.actor = caf::actor_cast<caf::actor>(*target);
  auto gen = link.generation;
  auto timeout = link.remote ? caf::duration{st.dir->forward_timeout()}
                              : caf::duration{caf::infinite};
  if (link.remote) {
    self->monitor(link.actor);
  }
  self->request(*target, timeout, watch_atom_v, std::move(req))
    .then(
      [self, resume, shard, gen](kv::watch_ack& ack) {
        auto& st = self->state;
        if (st.ended || st.links[shard].generation != gen) {
          return;
        }
        on_ack(self, ack, resume);
      },
      [self, shard, gen](caf::error& err) {
        auto& st = self->state;
        if (st.ended || st.links[shard].generation != gen) {
          return;
        }
        auto e = from_caf_error(err);
        auto lost = st.links[shard].remote
                    && (e.code == errc::timeout || e.code == errc::unavailable);
        if (lost) {
          detach(self, shard, e);
          return;
        }
        auto oldest = st.position;
        if (e.code == errc::compacted && e.current) {
          oldest[shard] = std::max(oldest[shard], *e.current);
        }
        fail_watch(self, e, oldest);
      });
}

caf::behavior kv_watch_impl(caf::stateful_actor<kv_watch_state>* self,
                            const kv_service* kv, const directory* dir,
                            std::vector<uint16_t> indexes, kv_watch_options opts,
                            std::shared_ptr<kv_watch_sink> sink) {
  auto& st = self->state;
  auto shard_count = static_cast<uint32_t>(kv->shards().size());
  st.opts = std::move(opts);
  st.pattern = *key_pattern::parse(st.opts.pattern);
  st.sink = std::move(sink);
  st.kv = kv;
  st.dir = dir;
  st.position.assign(shard_count, 0);
  if (!st.opts.cursor.empty()) {
    st.position = *kv::decode_cursor(st.opts.cursor, shard_count);
  }
  st.links.resize(shard_count);
  for (auto i : indexes) {
    st.links[i].remote = !dir->is_local(i);
  }
  st.missing_acks = indexes.size();
  for (auto i : indexes) {
    attach(self, i);
    if (st.ended) {
      break;
    }
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (size_t i = 0; i < st.links.size(); ++i) {
      // The very proxy that went down, not a newer link's proxy of the
      // same owner actor (equal in address after a reconnection).
      if (st.links[i].actor
          && caf::actor_cast<caf::strong_actor_ptr>(st.links[i].actor).get()
               == dm.source.get()) {
        detach(self, static_cast<uint16_t>(i),
               error{errc::unavailable, "connection to the owner lost"});
      }
    }
  });
  // Watches opened together do not beat together: the first heartbeat
  // comes after 0.5–1.5 intervals, by the actor's id, which spreads a
  // burst of watches' heartbeats over the interval.
  auto phase = (self->id() * 2654435761u) % 1024;
  self->delayed_send(self, st.opts.progress_interval / 2
                             + st.opts.progress_interval * phase / 1024,
                     progress_atom_v);
  return {
    [self](const kv::event& ev) { on_live(self, ev); },
    [self](watch_atom, uint16_t shard) {
      auto& st = self->state;
      if (!st.ended && !st.links[shard].attached && !st.links[shard].actor) {
        attach(self, shard);
      }
    },
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
      if (idle && synced(st)) {
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

std::vector<uint16_t> watched_shards(const kv_service& kv, std::string_view pattern) {
  auto p = key_pattern::parse(pattern);
  std::vector<uint16_t> indexes;
  if (p && p->type() == key_pattern::kind::exact) {
    indexes.push_back(kv.shard_of(p->stem()));
  } else {
    for (size_t i = 0; i < kv.shards().size(); ++i) {
      indexes.push_back(static_cast<uint16_t>(i));
    }
  }
  return indexes;
}

result<void> watch_reachable(const kv_service& kv, const directory& dir,
                             std::string_view pattern) {
  for (auto shard : watched_shards(kv, pattern)) {
    if (auto a = shard_actor(dir, shard_kind::kv, shard, kv.shards()[shard]); !a) {
      return std::move(a).err();
    }
  }
  return {};
}

caf::actor spawn_kv_watch(caf::actor_system& sys, const kv_service& kv,
                          const directory& dir, kv_watch_options opts,
                          std::shared_ptr<kv_watch_sink> sink) {
  auto indexes = watched_shards(kv, opts.pattern);
  return sys.spawn(kv_watch_impl, &kv, &dir, std::move(indexes), std::move(opts),
                   std::move(sink));
}

} // namespace shoal
