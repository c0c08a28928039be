#include "actors/stream/stream_relay.hpp"

#include <atomic>
#include <deque>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/routing.hpp"
#include "actors/error_bridge.hpp"
#include "actors/stream/stream_service.hpp"
#include "actors/type_ids.hpp"

namespace shoal {

namespace {

// -- the owner's side ----------------------------------------------------------

// Called by the owner's feed; sends each delivery to the relay. Refuses an
// event while it has no credit, so the feed holds (and eventually lags)
// what the relay has not asked for.
class proxy_sink final : public stream_tail_sink {
public:
  proxy_sink(caf::actor relay, uint64_t generation, uint32_t credit)
    : relay_(std::move(relay)), generation_(generation), credit_(credit) {
  }

  void add_credit(uint32_t n) {
    credit_.fetch_add(n, std::memory_order_relaxed);
  }

  void close() {
    open_ = false;
  }

  bool on_event(const stream::event& ev) override {
    if (credit_.load(std::memory_order_relaxed) <= 0) {
      return false;
    }
    credit_.fetch_sub(1, std::memory_order_relaxed);
    caf::anon_send(relay_, tail_atom_v, generation_, ev);
    return true;
  }

  bool on_live(uint64_t seq) override {
    caf::anon_send(relay_, live_atom_v, generation_, seq);
    return true;
  }

  bool on_progress(uint64_t seq) override {
    caf::anon_send(relay_, progress_atom_v, generation_, seq);
    return true;
  }

  void on_lagged(uint64_t next) override {
    caf::anon_send(relay_, lagged_atom_v, generation_, next);
    open_ = false;
  }

  void on_error(const error& e) override {
    caf::anon_send(relay_, fail_atom_v, generation_, to_caf_error(e));
    open_ = false;
  }

  bool is_open() const override {
    return open_;
  }

private:
  caf::actor relay_;
  uint64_t generation_;
  std::atomic<int64_t> credit_;
  std::atomic<bool> open_{true};
};

// Lives as long as the relay does (a tail that ended here leaves it idle
// until then), so that the relay sees it go only when the owner is lost.
caf::behavior proxy_impl(caf::event_based_actor* self, caf::actor relay,
                         std::shared_ptr<proxy_sink> sink) {
  // The relay gone (its consumer left, or its node is lost): the feed
  // forgets the sink.
  self->monitor(relay);
  self->set_down_handler([self, sink](caf::down_msg&) {
    sink->close();
    self->quit();
  });
  return {
    [sink](credit_atom, uint32_t n) { sink->add_credit(n); },
  };
}

// -- the gateway's side --------------------------------------------------------

constexpr auto retry_delay = std::chrono::milliseconds{10};
constexpr auto reattach_delay = std::chrono::milliseconds{250};
constexpr auto check_interval = std::chrono::seconds{1};

// A delivery held until the consumer takes it, tagged with the
// registration it came through (only those return credit to the proxy).
struct held_item {
  enum class kind : uint8_t { event, live };
  kind what;
  uint64_t generation;
  uint64_t seq;
  stream::event ev;
};

struct relay_state {
  static inline const char* name = "shoal.stream.relay";
  std::string stream;
  std::shared_ptr<stream_tail_sink> sink;
  const directory* dir = nullptr;
  const stream_service* streams = nullptr;
  uint16_t shard = 0;
  /// The current registration; deliveries of older ones are ignored.
  uint64_t generation = 0;
  caf::actor proxy;
  bool attached = false;
  bool ever_attached = false;
  /// The next seq the owner is to send (0: not known yet; a tail of new
  /// events before the owner said where they start).
  uint64_t expect = 0;
  /// The next seq the consumer needs (0: not known yet).
  uint64_t delivered_next = 0;
  std::deque<held_item> held;
  size_t held_events = 0;
  bool live_sent = false;
  /// Events the consumer took since credit was last returned.
  uint32_t owed = 0;
  bool retry_scheduled = false;
  bool ended = false;
};

using relay_pointer = caf::stateful_actor<relay_state>*;

void end(relay_pointer self) {
  self->state.ended = true;
  self->quit();
}

bool current(relay_pointer self, uint64_t generation) {
  return !self->state.ended && generation == self->state.generation;
}

void return_credit(relay_pointer self) {
  auto& st = self->state;
  if (st.attached && st.owed >= relay_window / 2) {
    caf::anon_send(st.proxy, credit_atom_v, st.owed);
    st.owed = 0;
  }
}

void pump(relay_pointer self) {
  auto& st = self->state;
  while (!st.held.empty()) {
    if (!st.sink->is_open()) {
      end(self);
      return;
    }
    auto& item = st.held.front();
    if (item.what == held_item::kind::event) {
      if (!st.sink->on_event(item.ev)) {
        break;
      }
      st.delivered_next = item.seq + 1;
      --st.held_events;
      if (item.generation == st.generation) {
        ++st.owed;
      }
    } else {
      // A registration again after a loss says "live" again: the
      // consumer already had it and gets a heartbeat instead.
      auto ok = st.live_sent ? st.sink->on_progress(item.seq)
                             : st.sink->on_live(item.seq);
      if (!ok) {
        break;
      }
      st.live_sent = true;
      if (st.delivered_next == 0) {
        st.delivered_next = item.seq + 1;
      }
    }
    st.held.pop_front();
  }
  if (!st.held.empty() && !st.retry_scheduled) {
    st.retry_scheduled = true;
    self->delayed_send(self, retry_delay, tick_atom_v);
  }
  return_credit(self);
}

void attach(relay_pointer self);

// The owner is lost: keep what is held, register again once reachable.
// Before the first registration answered, the tail never started: the
// consumer gets the error.
void lost(relay_pointer self, const error& why) {
  auto& st = self->state;
  if (!st.ever_attached) {
    st.sink->on_error(why);
    end(self);
    return;
  }
  if (st.proxy) {
    self->demonitor(st.proxy);
  }
  st.proxy = nullptr;
  st.attached = false;
  ++st.generation;
  spdlog::info("tail of {}: owner lost ({}); resuming at seq {} when it is back",
               st.stream, why.message, st.expect);
  self->delayed_send(self, reattach_delay, tail_atom_v);
}

void attach(relay_pointer self) {
  auto& st = self->state;
  auto target = shard_actor(*st.dir, shard_kind::streams, st.shard,
                            st.streams->shards()[st.shard]);
  if (!target) {
    lost(self, target.err());
    return;
  }
  auto gen = ++st.generation;
  auto credit = static_cast<uint32_t>(relay_window - std::min<size_t>(
                                                       st.held_events, relay_window));
  self
    ->request(caf::actor_cast<caf::actor>(*target), st.dir->forward_timeout(),
              tail_atom_v, st.stream, st.expect, caf::actor_cast<caf::actor>(self),
              gen, credit)
    .then(
      [self, gen](caf::actor& proxy) {
        auto& st = self->state;
        if (!current(self, gen)) {
          caf::anon_send_exit(proxy, caf::exit_reason::user_shutdown);
          return;
        }
        st.proxy = std::move(proxy);
        st.attached = true;
        st.ever_attached = true;
        self->monitor(st.proxy);
        return_credit(self);
      },
      [self, gen](caf::error& err) {
        if (!current(self, gen)) {
          return;
        }
        auto e = from_caf_error(err);
        if (e.code == errc::timeout || e.code == errc::unavailable) {
          lost(self, e);
          return;
        }
        self->state.sink->on_error(e);
        end(self);
      });
}

caf::behavior relay_impl(caf::stateful_actor<relay_state>* self,
                         const directory* dir, const stream_service* streams,
                         std::string stream, uint64_t from,
                         std::shared_ptr<stream_tail_sink> sink) {
  auto& st = self->state;
  st.dir = dir;
  st.streams = streams;
  st.shard = streams->shard_of(stream);
  st.stream = std::move(stream);
  st.sink = std::move(sink);
  st.expect = from;
  st.delivered_next = from;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.proxy && dm.source == st.proxy.address()) {
      lost(self, error{errc::unavailable, "connection to the owner lost"});
    }
  });
  attach(self);
  self->delayed_send(self, check_interval, idle_atom_v);
  return {
    [self](tail_atom, uint64_t gen, stream::event& ev) {
      auto& st = self->state;
      if (!current(self, gen) || (st.expect != 0 && ev.seq < st.expect)) {
        return;
      }
      st.expect = ev.seq + 1;
      auto seq = ev.seq;
      st.held.push_back({held_item::kind::event, gen, seq, std::move(ev)});
      ++st.held_events;
      pump(self);
    },
    [self](live_atom, uint64_t gen, uint64_t seq) {
      auto& st = self->state;
      if (!current(self, gen)) {
        return;
      }
      if (st.expect == 0) {
        st.expect = seq + 1;
      }
      st.held.push_back({held_item::kind::live, gen, seq, {}});
      pump(self);
    },
    [self](progress_atom, uint64_t gen, uint64_t seq) {
      auto& st = self->state;
      if (current(self, gen) && st.held.empty() && st.live_sent) {
        st.sink->on_progress(seq);
      }
    },
    [self](lagged_atom, uint64_t gen, uint64_t next) {
      auto& st = self->state;
      if (!current(self, gen)) {
        return;
      }
      // Resume from what the consumer has not taken, held events included.
      st.sink->on_lagged(st.delivered_next != 0 ? st.delivered_next : next);
      end(self);
    },
    [self](fail_atom, uint64_t gen, caf::error& err) {
      if (!current(self, gen)) {
        return;
      }
      self->state.sink->on_error(from_caf_error(err));
      end(self);
    },
    [self](tail_atom) {
      if (!self->state.ended && !self->state.attached) {
        attach(self);
      }
    },
    [self](tick_atom) {
      self->state.retry_scheduled = false;
      pump(self);
    },
    [self](idle_atom) {
      if (!self->state.sink->is_open()) {
        end(self);
        return;
      }
      self->delayed_send(self, check_interval, idle_atom_v);
    },
  };
}

} // namespace

tail_proxy spawn_tail_proxy(caf::actor_system& sys, caf::actor relay,
                            uint64_t generation, uint32_t credit) {
  auto sink = std::make_shared<proxy_sink>(relay, generation, credit);
  auto proxy = sys.spawn(proxy_impl, std::move(relay), sink);
  return {std::move(proxy), std::move(sink)};
}

caf::actor spawn_stream_relay(caf::actor_system& sys, const directory& dir,
                              const stream_service& streams, std::string stream,
                              uint64_t from, std::shared_ptr<stream_tail_sink> sink) {
  return sys.spawn(relay_impl, &dir, &streams, std::move(stream), from,
                   std::move(sink));
}

} // namespace shoal
