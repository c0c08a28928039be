#include "actors/aggregate/agg_hub.hpp"

#include <map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/directory.hpp"
#include "actors/error_bridge.hpp"
#include "actors/reply_to.hpp"
#include "actors/type_ids.hpp"

namespace shoal {

namespace {

// -- every member ------------------------------------------------------------------

struct hub_state {
  static inline const char* name = "shoal.aggregate.hub";
  merge_hooks* hooks = nullptr;
  mirror_slot* mirror = nullptr;
  std::string member;
  /// The hooks of each relay.
  std::multimap<caf::actor_addr, uint64_t> watches;

  hub_state() = default;
  hub_state(const hub_state&) = delete;
  hub_state& operator=(const hub_state&) = delete;
  ~hub_state() {
    for (const auto& [relay, id] : watches) {
      hooks->remove(id);
    }
  }
};

using hub_pointer = caf::stateful_actor<hub_state>*;

// Asks the node's mirror (`fn`); an error names the member without one.
template <class T>
caf::result<T> ask_mirror(hub_pointer self,
                          void (cell_mirror::*fn)(std::function<void(result<T>)>)) {
  auto m = self->state.mirror->get();
  if (!m) {
    return to_caf_error(error{errc::not_found,
                              self->state.member
                                + " has no Redis mirror (start every member with "
                                  "--cache-redis)"});
  }
  auto rp = self->make_response_promise<T>();
  ((*m).*fn)(deliver_to(rp));
  return rp;
}

caf::behavior hub_impl(hub_pointer self, merge_hooks* hooks, mirror_slot* mirror,
                       std::string member) {
  self->state.hooks = hooks;
  self->state.mirror = mirror;
  self->state.member = std::move(member);
  // A relay gone (its watch closed, or its node lost): its hooks go too.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto [lo, hi] = st.watches.equal_range(dm.source);
    for (auto i = lo; i != hi; ++i) {
      st.hooks->remove(i->second);
    }
    st.watches.erase(lo, hi);
  });
  return {
    [self](watch_atom, std::string& name, caf::actor& relay) {
      auto& st = self->state;
      // Runs on the shard that made the merge durable, in its commit
      // order; one connection carries every shard's sends in order.
      auto id = st.hooks->add(std::move(name), [relay](const merge_event& ev) {
        caf::anon_send(relay, merge_atom_v, ev);
      });
      if (st.watches.find(relay.address()) == st.watches.end()) {
        self->monitor(relay);
      }
      st.watches.emplace(relay.address(), id);
      return true;
    },
    [self](rebuild_atom) { return ask_mirror<uint64_t>(self, &cell_mirror::rebuild); },
    [self](check_atom) { return ask_mirror<mirror_report>(self, &cell_mirror::compare); },
  };
}

// -- the gateway ------------------------------------------------------------------

struct relay_state {
  static inline const char* name = "shoal.aggregate.relay";
  std::shared_ptr<merge_sink> sink;
  /// The member of each hub the relay registered with.
  std::map<caf::actor_addr, std::string> hubs;
  size_t pending = 0;
  bool ended = false;
};

using relay_pointer = caf::stateful_actor<relay_state>*;

void end(relay_pointer self, const error& e) {
  auto& st = self->state;
  if (st.ended) {
    return;
  }
  st.ended = true;
  st.sink->on_error(e);
  self->quit();
}

caf::behavior relay_impl(relay_pointer self, std::vector<member_hub> hubs,
                         std::chrono::milliseconds timeout, std::string name,
                         std::shared_ptr<merge_sink> sink) {
  auto& st = self->state;
  st.sink = std::move(sink);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto it = self->state.hubs.find(dm.source);
    if (it != self->state.hubs.end()) {
      end(self, error{errc::unavailable,
                      "lost " + it->second
                        + "; merges on its shards are no longer watched"});
    }
  });
  st.pending = hubs.size();
  auto me = caf::actor_cast<caf::actor>(self);
  for (auto& [hub, member] : hubs) {
    st.hubs.emplace(hub.address(), member);
    self->monitor(hub);
    self->request(hub, caf::duration{timeout}, watch_atom_v, name, me)
      .then(
        [self](bool) {
          auto& s = self->state;
          if (!s.ended && --s.pending == 0) {
            s.sink->on_ready();
          }
        },
        [self, member = member](caf::error& e) {
          auto err = from_caf_error(e);
          end(self, error{errc::unavailable,
                          member + " did not register the watch: " + err.message});
        });
  }
  return {
    [self](merge_atom, merge_event& ev) {
      if (!self->state.ended) {
        self->state.sink->on_merge(ev);
      }
    },
  };
}

} // namespace

caf::actor spawn_agg_hub(caf::actor_system& sys, merge_hooks& hooks, mirror_slot& mirror,
                         std::string member) {
  return sys.spawn(hub_impl, &hooks, &mirror, std::move(member));
}

result<std::vector<member_hub>> member_hubs(const directory& dir,
                                            const caf::actor& local_hub) {
  const auto& members = dir.identity().members;
  std::vector<member_hub> out;
  out.reserve(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    if (i == dir.self_index()) {
      out.push_back({local_hub, members[i].name});
      continue;
    }
    auto hub = dir.hub_of(i);
    if (!hub) {
      return std::move(hub).err();
    }
    out.push_back({caf::actor_cast<caf::actor>(*hub), members[i].name});
  }
  return out;
}

caf::actor spawn_merge_relay(caf::actor_system& sys, std::vector<member_hub> hubs,
                             std::chrono::milliseconds timeout, std::string name,
                             std::shared_ptr<merge_sink> sink) {
  return sys.spawn(relay_impl, std::move(hubs), timeout, std::move(name),
                   std::move(sink));
}

} // namespace shoal
