#include "runtime/cluster/membership.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

using namespace shoal;
using namespace shoal::cluster;
using namespace std::chrono_literals;

namespace {

time_point t0() {
  return from_unix_nanos(1'700'000'000'000'000'000);
}

std::vector<member_spec> specs(size_t n) {
  std::vector<member_spec> out;
  for (size_t i = 1; i <= n; ++i) {
    out.push_back({"n" + std::to_string(i), "127.0.0.1:" + std::to_string(7700 + i)});
  }
  return out;
}

// A simulated network of membership machines: messages are delivered
// after a random delay, may be dropped, and never reach a node that is
// down or cut off. Time moves in fixed steps; every node ticks each step.
class sim {
public:
  sim(size_t n, uint64_t seed, membership_config cfg = {})
    : cfg_(cfg), rng_(seed), specs_(specs(n)) {
    for (const auto& s : specs_) {
      nodes_[s.name] = std::make_unique<membership>(s.name, specs_, cfg_, 1, now_);
      rngs_[s.name] = std::mt19937_64{seed ^ std::hash<std::string>{}(s.name)};
    }
  }

  void set_drop_rate(double p) {
    drop_ = p;
  }
  void set_max_delay(duration d) {
    max_delay_ = d;
  }

  // A node that is down neither sends nor receives, and does not tick.
  void down(const std::string& name) {
    down_.insert(name);
  }
  // Restarts a node with a fresh machine at a higher incarnation.
  void restart(const std::string& name, uint64_t incarnation) {
    down_.erase(name);
    nodes_[name] = std::make_unique<membership>(name, specs_, cfg_, incarnation, now_);
  }
  // A cut node runs but its messages to and from others are lost.
  void cut(const std::string& name) {
    cut_.insert(name);
  }
  void heal(const std::string& name) {
    cut_.erase(name);
  }

  void leave(const std::string& name) {
    send(nodes_[name]->leave(now_), name);
    down_.insert(name);
  }

  membership& node(const std::string& name) {
    return *nodes_[name];
  }

  time_point now() const {
    return now_;
  }

  // Runs until `d` has passed or `until` holds after a step.
  void run(duration d, const std::function<bool()>& until = nullptr) {
    auto end = now_ + d;
    while (now_ < end) {
      step();
      if (until && until()) {
        return;
      }
    }
  }

  member_state seen_by(const std::string& observer, const std::string& name) {
    return nodes_[observer]->find(name)->state;
  }

  // True when every member sees every member alive.
  bool all_alive() {
    for (const auto& o : specs_) {
      for (const auto& t : specs_) {
        if (seen_by(o.name, t.name) != member_state::alive) {
          return false;
        }
      }
    }
    return true;
  }

  // Every change any node observed, with the time.
  struct observed {
    time_point at;
    std::string observer;
    member_change change;
  };
  const std::vector<observed>& history() const {
    return history_;
  }

private:
  struct in_flight {
    time_point at;
    std::string from;
    std::string to;
    message msg;
  };

  void send(std::vector<outgoing> out, const std::string& from) {
    for (auto& o : out) {
      if (cut_.count(from) || cut_.count(o.to)) {
        continue;
      }
      if (std::uniform_real_distribution<double>{0, 1}(rng_) < drop_) {
        continue;
      }
      auto delay = duration{std::uniform_int_distribution<int64_t>{
        0, max_delay_.count()}(rng_)};
      queue_.push_back({now_ + delay, from, o.to, std::move(o.msg)});
    }
  }

  void record(const std::string& name) {
    for (auto& c : nodes_[name]->take_changes()) {
      history_.push_back({now_, name, c});
    }
  }

  void step() {
    now_ += step_;
    // Deliver what is due, in order of arrival time.
    auto due = std::move(queue_);
    queue_.clear();
    std::stable_sort(due.begin(), due.end(),
                     [](const auto& a, const auto& b) { return a.at < b.at; });
    for (auto& m : due) {
      if (m.at > now_) {
        queue_.push_back(std::move(m));
        continue;
      }
      if (down_.count(m.to) || cut_.count(m.to)) {
        continue;
      }
      send(nodes_[m.to]->receive(m.msg, now_), m.to);
      record(m.to);
    }
    for (auto& [name, n] : nodes_) {
      if (down_.count(name)) {
        continue;
      }
      send(n->tick(now_, rngs_[name]), name);
      record(name);
    }
  }

  membership_config cfg_;
  std::mt19937_64 rng_;
  std::vector<member_spec> specs_;
  std::map<std::string, std::unique_ptr<membership>> nodes_;
  std::map<std::string, std::mt19937_64> rngs_;
  std::set<std::string> down_;
  std::set<std::string> cut_;
  std::vector<in_flight> queue_;
  std::vector<observed> history_;
  time_point now_ = t0();
  duration step_ = 10ms;
  duration max_delay_ = 5ms;
  double drop_ = 0;
};

} // namespace

TEST(membership, a_healthy_cluster_never_suspects_anyone) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    sim s{5, seed};
    s.run(60s);
    EXPECT_TRUE(s.history().empty()) << "seed " << seed << ": "
                                     << s.history().front().change.name;
    EXPECT_TRUE(s.all_alive()) << "seed " << seed;
  }
}

TEST(membership, a_stopped_node_is_suspect_within_2s_and_dead_within_10s) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    sim s{3, seed};
    s.run(5s);
    auto stopped_at = s.now();
    s.down("n2");
    s.run(12s);
    for (auto o : {"n1", "n3"}) {
      time_point suspect_at{}, dead_at{};
      for (const auto& h : s.history()) {
        if (h.observer == o && h.change.name == "n2") {
          if (h.change.to == member_state::suspect && suspect_at == time_point{}) {
            suspect_at = h.at;
          }
          if (h.change.to == member_state::dead && dead_at == time_point{}) {
            dead_at = h.at;
          }
        }
      }
      ASSERT_NE(suspect_at, time_point{}) << o << " seed " << seed;
      ASSERT_NE(dead_at, time_point{}) << o << " seed " << seed;
      EXPECT_LE(suspect_at - stopped_at, 2s) << o << " seed " << seed;
      EXPECT_LE(dead_at - stopped_at, 10s) << o << " seed " << seed;
      EXPECT_EQ(s.seen_by(o, "n2"), member_state::dead);
      EXPECT_EQ(s.seen_by(o, o == std::string{"n1"} ? "n3" : "n1"),
                member_state::alive);
    }
  }
}

TEST(membership, lossy_links_do_not_kill_live_members) {
  // 10% loss and up to 40 ms delay: indirect probes and refutation keep
  // everyone alive, though some may be suspected for a while.
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    sim s{5, seed};
    s.set_drop_rate(0.10);
    s.set_max_delay(40ms);
    s.run(120s);
    for (const auto& h : s.history()) {
      EXPECT_NE(h.change.to, member_state::dead)
        << h.observer << " declared " << h.change.name << " dead, seed " << seed;
    }
  }
}

TEST(membership, a_suspected_node_refutes_with_a_higher_incarnation) {
  sim s{3, 7};
  s.run(3s);
  auto before = s.node("n3").incarnation();
  s.cut("n3");
  s.run(10s, [&] { return s.seen_by("n1", "n3") == member_state::suspect; });
  ASSERT_EQ(s.seen_by("n1", "n3"), member_state::suspect);
  s.heal("n3");
  s.run(3s, [&] {
    return s.seen_by("n1", "n3") == member_state::alive
           && s.seen_by("n2", "n3") == member_state::alive;
  });
  EXPECT_EQ(s.seen_by("n1", "n3"), member_state::alive);
  EXPECT_EQ(s.seen_by("n2", "n3"), member_state::alive);
  EXPECT_GT(s.node("n3").incarnation(), before);
  EXPECT_EQ(s.node("n1").find("n3")->incarnation, s.node("n3").incarnation());
}

TEST(membership, a_dead_node_that_restarts_is_alive_again_everywhere) {
  sim s{3, 11};
  s.run(2s);
  s.down("n2");
  s.run(12s);
  ASSERT_EQ(s.seen_by("n1", "n2"), member_state::dead);
  ASSERT_EQ(s.seen_by("n3", "n2"), member_state::dead);
  s.restart("n2", 100);
  s.run(3s, [&] { return s.all_alive(); });
  EXPECT_TRUE(s.all_alive());
}

TEST(membership, a_healed_partition_recovers_even_after_both_sides_declared_death) {
  sim s{3, 5};
  s.run(2s);
  s.cut("n1");
  s.run(12s);
  ASSERT_EQ(s.seen_by("n2", "n1"), member_state::dead);
  ASSERT_EQ(s.seen_by("n1", "n2"), member_state::dead);
  s.heal("n1");
  s.run(5s, [&] { return s.all_alive(); });
  for (auto o : {"n1", "n2", "n3"}) {
    for (auto t : {"n1", "n2", "n3"}) {
      EXPECT_EQ(s.seen_by(o, t), member_state::alive) << o << " sees " << t;
    }
  }
}

TEST(membership, a_leaving_node_is_left_at_once_and_not_suspected) {
  sim s{3, 3};
  s.run(2s);
  s.leave("n3");
  s.run(200ms);
  EXPECT_EQ(s.seen_by("n1", "n3"), member_state::left);
  EXPECT_EQ(s.seen_by("n2", "n3"), member_state::left);
  s.run(15s);
  EXPECT_EQ(s.seen_by("n1", "n3"), member_state::left);
  for (const auto& h : s.history()) {
    if (h.change.name == "n3") {
      EXPECT_EQ(h.change.to, member_state::left);
    }
  }
}

TEST(membership, an_indirect_probe_saves_a_member_behind_one_broken_link) {
  // n1 cannot reach n2 directly, but n3 can: n1 must never suspect n2.
  membership_config cfg;
  auto members = specs(3);
  auto now = t0();
  membership n1{"n1", members, cfg, 1, now};
  membership n2{"n2", members, cfg, 1, now};
  membership n3{"n3", members, cfg, 1, now};
  std::map<std::string, membership*> by_name{{"n1", &n1}, {"n2", &n2}, {"n3", &n3}};
  std::mt19937_64 rng{1};
  std::vector<std::pair<std::string, outgoing>> queue;
  auto post = [&](const std::string& from, std::vector<outgoing> out) {
    for (auto& o : out) {
      if ((from == "n1" && o.to == "n2") || (from == "n2" && o.to == "n1")) {
        continue;
      }
      queue.emplace_back(from, std::move(o));
    }
  };
  for (int i = 0; i < 2000; ++i) { // 20 s
    now += 10ms;
    auto batch = std::move(queue);
    queue.clear();
    for (auto& [from, o] : batch) {
      post(o.to, by_name[o.to]->receive(o.msg, now));
    }
    for (auto& [name, m] : by_name) {
      post(name, m->tick(now, rng));
    }
  }
  EXPECT_EQ(n1.find("n2")->state, member_state::alive);
  EXPECT_EQ(n2.find("n1")->state, member_state::alive);
  for (auto& c : n1.take_changes()) {
    EXPECT_NE(c.to, member_state::suspect) << c.name;
  }
}

TEST(membership, merge_rules_follow_incarnations) {
  auto members = specs(2);
  auto now = t0();
  membership m{"n1", members, {}, 1, now};
  auto say = [&](member_state s, uint64_t inc) {
    message msg;
    msg.type = message::kind::ack;
    msg.seq = 999; // matches no probe
    msg.from = "n2";
    msg.view = {{"n2", s, inc}};
    (void)m.receive(msg, now);
    return std::pair{m.find("n2")->state, m.find("n2")->incarnation};
  };
  using S = member_state;
  EXPECT_EQ(say(S::alive, 5), std::pair(S::alive, uint64_t{5}));
  EXPECT_EQ(say(S::alive, 4), std::pair(S::alive, uint64_t{5}));
  EXPECT_EQ(say(S::suspect, 5), std::pair(S::suspect, uint64_t{5}));
  EXPECT_EQ(say(S::alive, 5), std::pair(S::suspect, uint64_t{5}));
  EXPECT_EQ(say(S::suspect, 5), std::pair(S::suspect, uint64_t{5}));
  EXPECT_EQ(say(S::alive, 6), std::pair(S::alive, uint64_t{6}));
  EXPECT_EQ(say(S::dead, 6), std::pair(S::dead, uint64_t{6}));
  EXPECT_EQ(say(S::suspect, 6), std::pair(S::dead, uint64_t{6}));
  EXPECT_EQ(say(S::left, 6), std::pair(S::dead, uint64_t{6}));
  EXPECT_EQ(say(S::alive, 6), std::pair(S::dead, uint64_t{6}));
  EXPECT_EQ(say(S::alive, 7), std::pair(S::alive, uint64_t{7}));
  EXPECT_EQ(say(S::left, 7), std::pair(S::left, uint64_t{7}));
  EXPECT_EQ(say(S::dead, 7), std::pair(S::left, uint64_t{7}));
  // Gossip about this node itself is refuted, never applied.
  message about_me;
  about_me.type = message::kind::ack;
  about_me.from = "n2";
  about_me.view = {{"n1", S::dead, 3}};
  (void)m.receive(about_me, now);
  EXPECT_EQ(m.find("n1")->state, S::alive);
  EXPECT_EQ(m.incarnation(), 4u);
  // Unknown members and messages from strangers are ignored.
  message stranger;
  stranger.from = "n9";
  stranger.view = {{"n2", S::alive, 100}};
  EXPECT_TRUE(m.receive(stranger, now).empty());
  EXPECT_EQ(m.find("n2")->incarnation, 7u);
}

TEST(membership, a_ping_is_acked_with_the_same_seq_and_the_whole_view) {
  auto members = specs(3);
  membership m{"n1", members, {}, 42, t0()};
  message ping;
  ping.type = message::kind::ping;
  ping.seq = 17;
  ping.from = "n3";
  auto out = m.receive(ping, t0());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, "n3");
  EXPECT_EQ(out[0].msg.type, message::kind::ack);
  EXPECT_EQ(out[0].msg.seq, 17u);
  EXPECT_EQ(out[0].msg.target, "n1");
  ASSERT_EQ(out[0].msg.view.size(), 3u);
  EXPECT_EQ(out[0].msg.view[0], (gossip{"n1", member_state::alive, 42}));
}
