#include "runtime/cluster/membership.hpp"

#include <algorithm>

namespace shoal::cluster {

std::string_view to_string(member_state s) {
  switch (s) {
    case member_state::alive:
      return "alive";
    case member_state::suspect:
      return "suspect";
    case member_state::dead:
      return "dead";
    case member_state::left:
      return "left";
  }
  return "unknown";
}

membership::membership(std::string self, const std::vector<member_spec>& members,
                       membership_config cfg, uint64_t incarnation,
                       time_point now)
  : self_(std::move(self)), cfg_(cfg), next_probe_(now) {
  for (const auto& m : members) {
    member_view v;
    v.name = m.name;
    v.address = m.address;
    v.since = now;
    v.incarnation = m.name == self_ ? incarnation : 0;
    members_.push_back(std::move(v));
  }
  std::sort(members_.begin(), members_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

const member_view* membership::find(std::string_view name) const {
  auto i = std::lower_bound(
    members_.begin(), members_.end(), name,
    [](const member_view& m, std::string_view n) { return m.name < n; });
  return i != members_.end() && i->name == name ? &*i : nullptr;
}

member_view* membership::find_mut(std::string_view name) {
  return const_cast<member_view*>(std::as_const(*this).find(name));
}

bool membership::reachable(std::string_view name) const {
  auto m = find(name);
  return m != nullptr
         && (m->state == member_state::alive || m->state == member_state::suspect);
}

uint64_t membership::incarnation() const {
  return find(self_)->incarnation;
}

std::vector<member_change> membership::take_changes() {
  return std::exchange(changes_, {});
}

std::vector<gossip> membership::view() const {
  std::vector<gossip> out;
  out.reserve(members_.size());
  for (const auto& m : members_) {
    out.push_back({m.name, m.state, m.incarnation});
  }
  return out;
}

void membership::set_state(member_view& m, member_state s, uint64_t inc,
                           time_point now) {
  if (m.state != s) {
    changes_.push_back({m.name, m.state, s, inc});
    m.since = now;
  }
  m.state = s;
  m.incarnation = inc;
}

void membership::apply(const gossip& g, time_point now) {
  auto m = find_mut(g.name);
  if (m == nullptr) {
    return; // not in the initial cluster
  }
  if (g.name == self_) {
    // Anything but "alive" about this node at its incarnation or later is
    // refuted by raising the incarnation past it.
    if (g.state != member_state::alive && g.incarnation >= m->incarnation) {
      m->incarnation = g.incarnation + 1;
    }
    return;
  }
  auto i = g.incarnation;
  auto j = m->incarnation;
  bool wins = false;
  switch (g.state) {
    case member_state::alive:
      wins = i > j;
      break;
    case member_state::suspect:
      wins = m->state == member_state::alive ? i >= j : i > j;
      break;
    case member_state::dead:
    case member_state::left:
      if (m->state == member_state::alive || m->state == member_state::suspect) {
        wins = i >= j;
      } else {
        wins = i > j;
      }
      break;
  }
  if (wins) {
    set_state(*m, g.state, i, now);
  }
}

void membership::merge(const std::vector<gossip>& view, time_point now) {
  for (const auto& g : view) {
    apply(g, now);
  }
}

message membership::make(message::kind type, uint64_t seq,
                         std::string target) const {
  message m;
  m.type = type;
  m.seq = seq;
  m.from = self_;
  m.target = std::move(target);
  m.view = view();
  return m;
}

void membership::start_probe(time_point now, std::mt19937_64& rng,
                             std::vector<outgoing>& out) {
  // Every member but this one and those that left, in a shuffled order
  // that is renewed after each full round.
  for (size_t tries = 0; tries < 2; ++tries) {
    while (next_in_order_ < order_.size()) {
      auto name = order_[next_in_order_++];
      auto m = find(name);
      if (m == nullptr || m->state == member_state::left) {
        continue;
      }
      probe_ = probe{name, next_seq_++, now, false};
      out.push_back({name, make(message::kind::ping, probe_->seq)});
      return;
    }
    order_.clear();
    for (const auto& m : members_) {
      if (m.name != self_) {
        order_.push_back(m.name);
      }
    }
    std::shuffle(order_.begin(), order_.end(), rng);
    next_in_order_ = 0;
  }
}

std::vector<outgoing> membership::tick(time_point now, std::mt19937_64& rng) {
  std::vector<outgoing> out;
  auto self = find_mut(self_);
  if (self->state == member_state::left) {
    return out;
  }
  if (probe_) {
    auto target = find_mut(probe_->target);
    if (!probe_->indirect && now >= probe_->started + cfg_.probe_timeout) {
      probe_->indirect = true;
      std::vector<std::string> helpers;
      for (const auto& m : members_) {
        if (m.name != self_ && m.name != probe_->target
            && m.state == member_state::alive) {
          helpers.push_back(m.name);
        }
      }
      std::shuffle(helpers.begin(), helpers.end(), rng);
      helpers.resize(std::min(helpers.size(), cfg_.indirect_probes));
      for (auto& h : helpers) {
        out.push_back({h, make(message::kind::ping_req, probe_->seq,
                               probe_->target)});
      }
    }
    if (now >= probe_->started + cfg_.indirect_timeout) {
      if (target->state == member_state::alive) {
        set_state(*target, member_state::suspect, target->incarnation, now);
      }
      probe_.reset();
    }
  }
  for (auto& m : members_) {
    if (m.state == member_state::suspect && now >= m.since + cfg_.suspicion_timeout) {
      set_state(m, member_state::dead, m.incarnation, now);
    }
  }
  std::erase_if(relays_, [&](const auto& r) { return now >= r.second.expires; });
  if (!probe_ && now >= next_probe_) {
    start_probe(now, rng, out);
    next_probe_ = now + cfg_.probe_interval;
  }
  return out;
}

std::vector<outgoing> membership::receive(const message& m, time_point now) {
  std::vector<outgoing> out;
  auto self = find_mut(self_);
  if (self->state == member_state::left || find(m.from) == nullptr
      || m.from == self_) {
    return out;
  }
  merge(m.view, now);
  switch (m.type) {
    case message::kind::ping:
      out.push_back({m.from, make(message::kind::ack, m.seq, self_)});
      break;
    case message::kind::ack: {
      if (auto r = relays_.find(m.seq); r != relays_.end()) {
        // An ack for a probe made on someone's behalf: pass it on.
        out.push_back({r->second.requester,
                       make(message::kind::ack, r->second.requester_seq,
                            m.target)});
        relays_.erase(r);
      } else if (probe_ && probe_->seq == m.seq && m.target == probe_->target) {
        probe_.reset();
      }
      break;
    }
    case message::kind::ping_req: {
      if (find(m.target) == nullptr || m.target == self_) {
        break;
      }
      auto seq = next_seq_++;
      relays_[seq] = relay{m.from, m.seq, now + cfg_.indirect_timeout};
      out.push_back({m.target, make(message::kind::ping, seq)});
      break;
    }
    case message::kind::leave:
      // The view already said so: the sender is `left` at its incarnation.
      break;
  }
  return out;
}

std::vector<outgoing> membership::leave(time_point now) {
  std::vector<outgoing> out;
  auto self = find_mut(self_);
  set_state(*self, member_state::left, self->incarnation, now);
  for (const auto& m : members_) {
    if (m.name != self_ && m.state != member_state::left
        && m.state != member_state::dead) {
      out.push_back({m.name, make(message::kind::leave, 0)});
    }
  }
  probe_.reset();
  return out;
}

} // namespace shoal::cluster
