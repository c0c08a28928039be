#include "actors/kv/kv_shard.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <spdlog/spdlog.h>

#include "actors/commit.hpp"
#include "actors/durable_gate.hpp"
#include "actors/error_bridge.hpp"

namespace shoal {

storage::write_batch to_batch(std::vector<kv::record> records) {
  storage::write_batch b;
  for (auto& r : records) {
    if (!r.range_end.empty()) {
      b.erase_range(storage::column::kv, std::move(r.key),
                    std::move(r.range_end));
    } else if (r.value) {
      b.put(storage::column::kv, std::move(r.key), std::move(*r.value));
    } else {
      b.erase(storage::column::kv, std::move(r.key));
    }
  }
  return b;
}

result<std::vector<kv::event>> read_changes(storage::engine& store, uint16_t shard,
                                            uint64_t from, uint64_t to, size_t limit) {
  std::vector<kv::event> page;
  if (from > to || limit == 0) {
    return page;
  }
  error bad;
  bool corrupt = false;
  auto scanned = store.scan(
    storage::column::kv, kv::kv_table::log_key(shard, from),
    kv::kv_table::log_key(shard, to + 1), [&](std::string_view, std::string_view v) {
      auto ev = kv::kv_table::decode_event(v);
      if (!ev) {
        bad = ev.err();
        corrupt = true;
        return false;
      }
      ev->shard = shard;
      page.push_back(std::move(*ev));
      return page.size() < limit;
    });
  if (!scanned) {
    return std::move(scanned).err();
  }
  if (corrupt) {
    return bad;
  }
  return page;
}

namespace {

using write_reply = std::function<void(result<kv::write_result>)>;

struct kv_shard_state {
  static inline const char* name = "shoal.kv.shard";

  // A registered watcher. Exact-key watchers are indexed by key, so a
  // change costs O(watchers of that key + pattern watchers of the shard).
  struct watcher {
    caf::actor handle;
    key_pattern pattern;
    bool no_put;
    bool no_delete;
  };

  std::optional<kv::kv_table> table;
  kv_shard_env env;
  // Revision of the last durable change (watchers register at it).
  uint64_t durable_revision = 0;
  durable_gate gate;
  time_point last_trim;
  uint64_t next_watcher = 1;
  std::unordered_map<uint64_t, watcher> watchers;
  std::unordered_map<std::string, std::vector<uint64_t>> exact_watchers;
  std::vector<uint64_t> pattern_watchers;
  // The registrations of each watcher actor (found without a scan when it
  // registers again or goes down).
  std::map<caf::actor_addr, std::vector<uint64_t>> by_actor;
  metrics::counter* commit_failures = nullptr;
};

using shard_pointer = kv_shard_actor::stateful_pointer<kv_shard_state>;

error failed_error() {
  return error{errc::storage_error,
               "kv shard stopped after a storage failure; restart the node"};
}

void publish(shard_pointer self, const std::vector<kv::event>& events);

// Hands `fx` to the committer; once durable, the shard's durable revision
// advances, `reply` (if any) gets `res` — from the commit thread if
// `any_thread` — and watchers get the events.
void submit(shard_pointer self, kv::effects fx, write_reply reply,
            kv::write_result res, bool any_thread) {
  auto& st = self->state;
  durable_gate::waiter acknowledge;
  if (reply && any_thread) {
    acknowledge = answer_with(result<kv::write_result>{std::move(res)},
                              std::move(reply));
    reply = nullptr;
  }
  commit_async(st.gate, *st.env.committer, to_batch(std::move(fx.records)),
               caf::actor_cast<kv_shard_actor>(self), std::move(acknowledge));
  st.gate.after_durable([self, revision = st.table->revision(),
                         reply = std::move(reply), res = std::move(res),
                         events = std::move(fx.events)](
                          const error* failure) mutable {
    if (failure != nullptr) {
      if (reply) {
        reply(*failure);
      }
      return;
    }
    self->state.durable_revision = revision;
    if (reply) {
      reply(std::move(res));
    }
    publish(self, events);
  });
}

void publish(shard_pointer self, const std::vector<kv::event>& events) {
  auto& st = self->state;
  if (st.watchers.empty()) {
    return;
  }
  // One message per event, shared by every watcher it goes to (their
  // handlers read it without copying).
  caf::message msg;
  const kv::event* in_msg = nullptr;
  auto send = [&](uint64_t id, const kv::event& ev) {
    auto it = st.watchers.find(id);
    if (it == st.watchers.end()) {
      return;
    }
    const auto& w = it->second;
    auto is_put = ev.op == kv::operation::put;
    if ((is_put && w.no_put) || (!is_put && w.no_delete)) {
      return;
    }
    if (w.pattern.matches(ev.key)) {
      if (in_msg != &ev) {
        msg = caf::make_message(ev);
        in_msg = &ev;
      }
      caf::anon_send(w.handle, msg);
    }
  };
  for (const auto& ev : events) {
    if (auto it = st.exact_watchers.find(ev.key); it != st.exact_watchers.end()) {
      for (auto id : it->second) {
        send(id, ev);
      }
    }
    for (auto id : st.pattern_watchers) {
      send(id, ev);
    }
  }
}

void unregister_watcher(shard_pointer self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto registered = st.by_actor.find(who);
  if (registered == st.by_actor.end()) {
    return;
  }
  for (auto id : registered->second) {
    auto it = st.watchers.find(id);
    if (it == st.watchers.end()) {
      continue;
    }
    if (it->second.pattern.type() == key_pattern::kind::exact) {
      auto& ids = st.exact_watchers[it->second.pattern.stem()];
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      if (ids.empty()) {
        st.exact_watchers.erase(it->second.pattern.stem());
      }
    } else {
      auto& ids = st.pattern_watchers;
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    }
    st.watchers.erase(it);
  }
  st.by_actor.erase(registered);
}

// Registers a watcher at the shard's durable revision D: the watcher reads
// catch-up events up to D from the change log itself (every change up to D
// is in storage, and the log still holds them: checked here), initial
// values are those whose last change is durable, and every change after D
// (including commits still pending now) is published live once durable.
// So the watcher sees neither a gap nor an overlap.
result<kv::watch_ack> register_watcher(shard_pointer self,
                                       const kv::watch_request& req,
                                       const key_pattern& pattern) {
  auto& st = self->state;
  auto& table = *st.table;
  auto durable = st.durable_revision;
  kv::watch_ack ack;
  ack.shard = table.shard();
  ack.revision = durable;
  if (req.after != kv::any_revision && req.after > durable) {
    return fail(errc::invalid_argument,
                "cursor is ahead of shard " + std::to_string(table.shard())
                  + " (revision " + std::to_string(durable)
                  + "): it belongs to other data");
  }
  if (req.after != kv::any_revision && req.after < durable
      && req.after + 1 < table.oldest_log_revision()) {
    return fail_at(errc::compacted, table.oldest_log_revision() - 1,
                   "changes after revision " + std::to_string(req.after)
                     + " of shard " + std::to_string(table.shard())
                     + " were compacted");
  }
  if (req.initial) {
    ack.initial = table.snapshot(pattern, st.env.clock->now());
    // A value changed by a pending commit arrives as a live event instead.
    std::erase_if(ack.initial,
                  [durable](const kv::entry& e) { return e.revision > durable; });
  }
  // A watcher that registers again (it lost sight of this node for a
  // while) replaces its registration: each change reaches it once.
  unregister_watcher(self, req.watcher.address());
  auto id = st.next_watcher++;
  st.by_actor[req.watcher.address()].push_back(id);
  st.watchers.emplace(id, kv_shard_state::watcher{req.watcher, pattern,
                                                  req.no_put, req.no_delete});
  if (pattern.type() == key_pattern::kind::exact) {
    st.exact_watchers[pattern.stem()].push_back(id);
  } else {
    st.pattern_watchers.push_back(id);
  }
  self->monitor(req.watcher);
  return ack;
}

// Applies a put or delete; answers once its records are durable. An error
// or a no-op (delete of an absent key) persists nothing, but its answer may
// still describe state that must be durable first (a conflict naming a
// pending revision), so it waits like a read.
template <class Command>
void write(shard_pointer self, const Command& cmd, write_reply reply,
           bool any_thread = false) {
  auto& st = self->state;
  if (st.gate.failed()) {
    reply(failed_error());
    return;
  }
  kv::effects fx;
  auto r = st.table->apply(cmd, st.env.clock->now(), fx);
  if (!r || fx.empty()) {
    answer_when_durable(st.gate, std::move(r), std::move(reply));
    return;
  }
  submit(self, std::move(fx), std::move(reply), std::move(*r), any_thread);
}

// A read: answered from memory once the state it saw is durable.
void read(shard_pointer self, const std::string& key,
          std::function<void(result<kv::entry>)> reply) {
  auto& st = self->state;
  if (st.gate.failed()) {
    reply(failed_error());
    return;
  }
  answer_when_durable(st.gate, st.table->get(key, st.env.clock->now()),
                      std::move(reply));
}

void on_commit(shard_pointer self, uint64_t seq, uint8_t code,
               std::string message) {
  auto& st = self->state;
  auto failure = on_commit_report(st.gate, "kv", st.table->shard(), seq, code,
                                  std::move(message));
  if (failure && st.commit_failures != nullptr) {
    st.commit_failures->inc();
  }
}

void sweep(shard_pointer self) {
  auto& st = self->state;
  if (st.gate.failed()) {
    return;
  }
  auto now = st.env.clock->now();
  kv::effects fx;
  st.table->expire(now, fx);
  if (now - st.last_trim > std::chrono::seconds{10}) {
    st.table->trim_log(now, fx);
    st.last_trim = now;
  }
  if (!fx.empty()) {
    submit(self, std::move(fx), {}, {}, false);
  }
}

kv_shard_actor::behavior_type kv_shard_impl(shard_pointer self,
                                            kv::kv_table table,
                                            kv_shard_env env) {
  auto& st = self->state;
  st.durable_revision = table.revision();
  st.table.emplace(std::move(table));
  st.env = env;
  st.last_trim = env.clock->now();
  if (env.metrics != nullptr) {
    st.commit_failures = &env.metrics->add_counter(
      "shoal_kv_commit_failures_total",
      "kv commits that failed (the shard stops serving).");
  }
  self->delayed_send(self, env.sweep_interval, tick_atom_v);
  self->set_down_handler([self](caf::down_msg& dm) {
    // Addresses compare by node and id: the proxy of a watch registered
    // again over a new connection equals the dead proxy of its old one,
    // whose down message may come after the new registration. Only the
    // registration of the very actor that went down goes.
    auto& st = self->state;
    auto registered = st.by_actor.find(dm.source);
    if (registered == st.by_actor.end() || registered->second.empty()) {
      return;
    }
    auto w = st.watchers.find(registered->second.front());
    if (w != st.watchers.end()
        && caf::actor_cast<caf::strong_actor_ptr>(w->second.handle).get()
             != dm.source.get()) {
      return;
    }
    unregister_watcher(self, dm.source);
  });
  return {
    [self](put_atom, kv::put_cmd& cmd) {
      auto rp = self->make_response_promise<kv::write_result>();
      write(self, cmd, deliver_to(rp));
      return rp;
    },
    [self](delete_atom, kv::delete_cmd& cmd) {
      auto rp = self->make_response_promise<kv::write_result>();
      write(self, cmd, deliver_to(rp));
      return rp;
    },
    [self](get_atom, std::string& key) {
      auto rp = self->make_response_promise<kv::entry>();
      read(self, key, deliver_to(rp));
      return rp;
    },
    [self](put_atom, kv::put_cmd& cmd, reply_to<kv::write_result>& reply) {
      write(self, cmd, std::move(reply.fn), reply.any_thread);
    },
    [self](delete_atom, kv::delete_cmd& cmd,
           reply_to<kv::write_result>& reply) {
      write(self, cmd, std::move(reply.fn), reply.any_thread);
    },
    [self](get_atom, std::string& key, reply_to<kv::entry>& reply) {
      read(self, key, std::move(reply.fn));
    },
    [self](list_atom,
           kv::list_query& q) -> caf::typed_response_promise<kv::list_page> {
      auto& st = self->state;
      auto rp = self->make_response_promise<kv::list_page>();
      if (st.gate.failed()) {
        rp.deliver(to_caf_error(failed_error()));
        return rp;
      }
      answer_when_durable(st.gate, st.table->list(q, st.env.clock->now()),
                          deliver_to(rp));
      return rp;
    },
    [self](history_atom, std::string& key, uint32_t limit)
      -> caf::result<std::vector<kv::version_record>> {
      auto& st = self->state;
      if (auto ok = validate_key(key); !ok) {
        return to_caf_error(ok.err());
      }
      // History records are only in storage, and only durable ones are
      // there: every acknowledged write is visible.
      std::vector<kv::version_record> out;
      error bad;
      bool corrupt = false;
      auto scanned = st.env.store->scan_prefix(
        storage::column::kv, kv::kv_table::history_prefix(st.table->shard(), key),
        [&](std::string_view, std::string_view v) {
          auto rec = kv::kv_table::decode_version(v);
          if (!rec) {
            bad = rec.err();
            corrupt = true;
            return false;
          }
          out.push_back(std::move(*rec));
          return true;
        });
      if (!scanned) {
        return to_caf_error(scanned.err());
      }
      if (corrupt) {
        return to_caf_error(bad);
      }
      if (limit > 0 && out.size() > limit) {
        out.erase(out.begin(), out.end() - limit);
      }
      return out;
    },
    [self](watch_atom,
           kv::watch_request& req) -> caf::typed_response_promise<kv::watch_ack> {
      auto& st = self->state;
      auto rp = self->make_response_promise<kv::watch_ack>();
      auto pattern = key_pattern::parse(req.pattern);
      if (!pattern) {
        rp.deliver(to_caf_error(pattern.err()));
        return rp;
      }
      if (st.gate.failed()) {
        rp.deliver(to_caf_error(failed_error()));
        return rp;
      }
      auto ack = register_watcher(self, req, *pattern);
      if (ack) {
        rp.deliver(std::move(*ack));
      } else {
        rp.deliver(to_caf_error(ack.err()));
      }
      return rp;
    },
    [self](read_atom, uint64_t from, uint64_t to,
           uint32_t limit) -> caf::result<std::vector<kv::event>> {
      // Bounded by the durable revision: nothing pending is read.
      auto& st = self->state;
      auto page = read_changes(*st.env.store, st.table->shard(), from,
                               std::min(to, st.durable_revision),
                               std::min<uint32_t>(limit, 1024));
      if (!page) {
        return to_caf_error(page.err());
      }
      return std::move(*page);
    },
    [self](leases_atom) { return self->state.table->leases(); },
    [self](lease_end_atom, uint64_t lease, bool expired) {
      // The lease's end is durable: its keys go, with events.
      auto& st = self->state;
      if (st.gate.failed()) {
        return;
      }
      kv::effects fx;
      st.table->end_lease(lease,
                          expired ? kv::operation::expire : kv::operation::del,
                          st.env.clock->now(), fx);
      if (!fx.empty()) {
        submit(self, std::move(fx), {}, {}, false);
      }
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, self->state.env.sweep_interval, tick_atom_v);
    },
  };
}

} // namespace

kv_shard_actor spawn_kv_shard(caf::actor_system& sys, kv::kv_table table,
                              kv_shard_env env) {
  return sys.spawn(kv_shard_impl, std::move(table), env);
}

} // namespace shoal
