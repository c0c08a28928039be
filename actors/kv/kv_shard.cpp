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

#include "actors/error_bridge.hpp"

namespace shoal {

result<std::vector<kv::event>> read_changes(const storage::read_view& store, uint16_t shard,
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

  std::optional<shard_host<kv::kv_table>> host;
  // Revision of the last durable change (watchers register at it).
  uint64_t durable_revision = 0;
  time_point last_trim;
  uint64_t next_watcher = 1;
  std::unordered_map<uint64_t, watcher> watchers;
  std::unordered_map<std::string, std::vector<uint64_t>> exact_watchers;
  std::vector<uint64_t> pattern_watchers;
  // The registrations of each watcher actor (found without a scan when it
  // registers again or goes down).
  std::map<caf::actor_addr, std::vector<uint64_t>> by_actor;
};

using shard_pointer = kv_shard_actor::stateful_pointer<kv_shard_state>;

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
  const auto& table = st.host->machine();
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
    ack.initial = table.snapshot(pattern, st.host->now());
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

// Applies a put or delete through the host: answered once its records are
// durable (an error or a no-op persists nothing but still waits, since its
// answer may describe pending state), its events published then.
template <class Command>
void write(shard_pointer self, const Command& cmd, write_reply reply,
           reply_thread thread = reply_thread::shard) {
  self->state.host->template submit<kv::write_result>(self, cmd, std::move(reply), thread);
}

// A read: answered from memory once the state it saw is durable.
void read(shard_pointer self, const std::string& key,
          std::function<void(result<kv::entry>)> reply) {
  auto& host = *self->state.host;
  host.read(host.machine().get(key, host.now()), std::move(reply));
}

// Expires what is due and, every 10 s, trims the change log.
void sweep(shard_pointer self) {
  auto& st = self->state;
  st.host->submit_until_done(self, kv::expire_cmd{});
  auto now = st.host->now();
  if (now - st.last_trim > std::chrono::seconds{10}) {
    (void) st.host->submit(self, kv::trim_log_cmd{});
    st.last_trim = now;
  }
}

kv_shard_actor::behavior_type kv_shard_impl(shard_pointer self,
                                            kv::kv_table table,
                                            kv_shard_env env) {
  auto& st = self->state;
  st.durable_revision = table.revision();
  st.host.emplace(std::move(table), env, storage::column::kv, "kv");
  st.host->on_events([self](std::vector<kv::event>&& events) {
    // Events are in revision order; the last is the shard's revision.
    self->state.durable_revision = events.back().revision;
    publish(self, events);
  });
  st.last_trim = st.host->now();
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
      write(self, cmd, std::move(reply.fn), thread_of(reply.any_thread));
    },
    [self](delete_atom, kv::delete_cmd& cmd,
           reply_to<kv::write_result>& reply) {
      write(self, cmd, std::move(reply.fn), thread_of(reply.any_thread));
    },
    [self](get_atom, std::string& key, reply_to<kv::entry>& reply) {
      read(self, key, std::move(reply.fn));
    },
    [self](list_atom,
           kv::list_query& q) -> caf::typed_response_promise<kv::list_page> {
      auto& host = *self->state.host;
      return promise_of<kv::list_page>(self, [&](auto reply) {
        host.read(host.machine().list(q, host.now()), std::move(reply));
      });
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
      auto scanned = st.host->env().store->scan_prefix(
        storage::column::kv,
        kv::kv_table::history_prefix(st.host->machine().shard(), key),
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
      if (st.host->failed()) {
        rp.deliver(to_caf_error(durable_gate::stopped_error()));
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
      auto page = read_changes(*st.host->env().store, st.host->machine().shard(), from,
                               std::min(to, st.durable_revision),
                               std::min<uint32_t>(limit, 1024));
      if (!page) {
        return to_caf_error(page.err());
      }
      return std::move(*page);
    },
    [self](leases_atom) { return self->state.host->machine().leases(); },
    [self](lease_end_atom, uint64_t lease, bool expired) {
      // The lease's end is durable: its keys go, with events.
      (void) self->state.host->submit(
        self, kv::end_lease_cmd{lease, expired ? kv::operation::expire : kv::operation::del});
    },
    [self](commit_atom, uint64_t seq, uint8_t code, std::string& message) {
      self->state.host->on_commit(self, seq, code, std::move(message));
    },
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, self->state.host->env().sweep_interval, tick_atom_v);
    },
  };
}

} // namespace

kv_shard_actor spawn_kv_shard(caf::actor_system& sys, kv::kv_table table,
                              kv_shard_env env) {
  return sys.spawn(kv_shard_impl, std::move(table), env);
}

} // namespace shoal
