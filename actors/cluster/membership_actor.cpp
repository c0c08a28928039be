#include "actors/cluster/membership_actor.hpp"

#include <random>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/node_actor.hpp"

namespace shoal {

namespace {

using steady = std::chrono::steady_clock;

// The connection to one other member.
struct peer_link {
  std::string host;
  uint16_t port = 0;
  node_actor handle;
  bool connecting = false;
  steady::time_point next_attempt{};
  std::chrono::milliseconds backoff{0};
  uint32_t failures = 0;
};

struct membership_state {
  static inline const char* name = "shoal.membership";
  membership_env env;
  std::unique_ptr<cluster::membership> machine;
  std::mt19937_64 rng{std::random_device{}()};
  std::vector<peer_link> links;
  bool leaving = false;
};

using self_ptr = membership_actor::stateful_pointer<membership_state>;

time_point now() {
  return time_point{std::chrono::duration_cast<duration>(
    std::chrono::system_clock::now().time_since_epoch())};
}

size_t index_of(const membership_state& st, const std::string& name) {
  const auto& members = st.env.dir->identity().members;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].name == name) {
      return i;
    }
  }
  return members.size();
}

// Delivers the machine's messages to connected members; a message to a
// member without a connection is lost, as on a broken network.
void send_all(self_ptr self, std::vector<cluster::outgoing> out) {
  auto& st = self->state;
  for (auto& o : out) {
    auto i = index_of(st, o.to);
    if (i < st.links.size() && st.links[i].handle) {
      self->send(st.links[i].handle, gossip_atom_v, std::move(o.msg));
    }
  }
}

void publish_changes(self_ptr self) {
  auto& st = self->state;
  for (const auto& c : st.machine->take_changes()) {
    auto level = c.to == cluster::member_state::alive ? spdlog::level::info
                                                      : spdlog::level::warn;
    spdlog::log(level, "cluster member {}: {} -> {} (incarnation {})", c.name,
                cluster::to_string(c.from), cluster::to_string(c.to),
                c.incarnation);
  }
  // Incarnations also change without a change of state (a refutation, a
  // member's first word): the directory shows the current ones.
  const auto& members = st.machine->members();
  for (const auto& m : members) {
    auto i = index_of(st, m.name);
    if (i < st.links.size()) {
      st.env.dir->set_state(i, m.state, m.incarnation);
    }
  }
}

void retry_later(self_ptr self, size_t i, const std::string& why) {
  auto& link = self->state.links[i];
  auto& env = self->state.env;
  link.connecting = false;
  link.backoff = link.backoff.count() == 0
                   ? env.backoff_min
                   : std::min(link.backoff * 2, env.backoff_max);
  link.next_attempt = steady::now() + link.backoff;
  // The first failure in a row is worth a line; the retries are not.
  auto level = link.failures++ == 0 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "cluster: cannot reach {} at {}:{} ({}); retrying",
              env.dir->identity().members[i].name, link.host, link.port, why);
}

void connect(self_ptr self, size_t i) {
  auto& st = self->state;
  auto& link = st.links[i];
  link.connecting = true;
  auto mm = self->system().middleman().actor_handle();
  auto timeout = caf::duration{st.env.connect_timeout};
  self
    ->request(mm, timeout, caf::connect_atom::value, link.host, link.port)
    .then(
      [self, i, timeout](const caf::node_id&, caf::strong_actor_ptr& ptr,
                         const std::set<std::string>&) {
        if (!ptr) {
          retry_later(self, i, "no actor published there");
          return;
        }
        auto peer = caf::actor_cast<node_actor>(ptr);
        self->request(peer, timeout, shards_atom_v)
          .then(
            [self, i, peer](shard_table& t) {
              auto& st = self->state;
              const auto& id = st.env.dir->identity();
              if (t.cluster_id != id.cluster_id || t.member != id.members[i].name) {
                retry_later(self, i,
                            "it is " + t.member + " of cluster " + t.cluster_id
                              + ", expected " + id.members[i].name + " of "
                              + id.cluster_id);
                return;
              }
              auto& link = st.links[i];
              link.handle = peer;
              link.connecting = false;
              link.backoff = std::chrono::milliseconds{0};
              link.failures = 0;
              self->monitor(peer);
              st.env.dir->set_shards(i, std::make_shared<shard_table>(std::move(t)));
              spdlog::info("cluster: connected to {} at {}:{}",
                           id.members[i].name, link.host, link.port);
            },
            [self, i](caf::error& e) {
              retry_later(self, i, self->system().render(e));
            });
      },
      [self, i](caf::error& e) { retry_later(self, i, self->system().render(e)); });
}

membership_actor::behavior_type membership_impl(self_ptr self, membership_env env) {
  auto& st = self->state;
  st.env = std::move(env);
  const auto& id = st.env.dir->identity();
  // Incarnations grow across restarts: the start time in milliseconds.
  auto incarnation = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      now().time_since_epoch())
      .count());
  st.machine = std::make_unique<cluster::membership>(id.self, id.members,
                                                     st.env.config, incarnation,
                                                     now());
  for (size_t i = 0; i < id.members.size(); ++i) {
    peer_link link;
    auto hp = id.members[i].address;
    auto colon = hp.rfind(':');
    link.host = hp.substr(0, colon);
    if (link.host.size() > 2 && link.host.front() == '[') {
      link.host = link.host.substr(1, link.host.size() - 2);
    }
    link.port = static_cast<uint16_t>(std::stoul(hp.substr(colon + 1)));
    st.links.push_back(std::move(link));
    st.env.dir->set_state(i, cluster::member_state::alive,
                          i == id.self_index() ? incarnation : 0);
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (size_t i = 0; i < st.links.size(); ++i) {
      auto& link = st.links[i];
      if (link.handle && link.handle.address() == dm.source) {
        link.handle = nullptr;
        st.env.dir->set_shards(i, nullptr);
        spdlog::warn("cluster: lost the connection to {}",
                     st.env.dir->identity().members[i].name);
        retry_later(self, i, "connection lost");
      }
    }
  });
  self->send(self, tick_atom_v);
  return {
    [self](gossip_atom, cluster::message& m) {
      auto& st = self->state;
      send_all(self, st.machine->receive(m, now()));
      publish_changes(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (st.leaving) {
        return;
      }
      send_all(self, st.machine->tick(now(), st.rng));
      publish_changes(self);
      auto self_index = st.env.dir->identity().self_index();
      auto t = steady::now();
      for (size_t i = 0; i < st.links.size(); ++i) {
        auto& link = st.links[i];
        if (i != self_index && !link.handle && !link.connecting
            && t >= link.next_attempt) {
          connect(self, i);
        }
      }
      self->delayed_send(self, st.env.tick, tick_atom_v);
    },
    [self](leave_atom) {
      auto& st = self->state;
      st.leaving = true;
      send_all(self, st.machine->leave(now()));
      publish_changes(self);
      return true;
    },
  };
}

} // namespace

membership_actor spawn_membership(caf::actor_system& sys, membership_env env) {
  return sys.spawn(membership_impl, std::move(env));
}

} // namespace shoal
