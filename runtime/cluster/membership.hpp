#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cluster/topology.hpp"
#include "runtime/time.hpp"

namespace shoal::cluster {

/// What a member believes about another. `suspect` is reversible by the
/// member itself (it refutes with a higher incarnation); `dead` and `left`
/// end only when the member comes back with a higher incarnation.
enum class member_state : uint8_t { alive, suspect, dead, left };

std::string_view to_string(member_state s);

/// One piece of gossip: `name` is in `state` at `incarnation`.
struct gossip {
  std::string name;
  member_state state = member_state::alive;
  uint64_t incarnation = 0;

  friend bool operator==(const gossip&, const gossip&) = default;
};

/// A membership message between nodes. Every message carries the sender's
/// whole view (a handful of members: cheap, and it makes every exchange an
/// anti-entropy round).
struct message {
  enum class kind : uint8_t {
    /// Are you there? Answered with `ack` and the same `seq`.
    ping,
    /// The answer to `ping`, or an indirect answer relayed for `ping_req`.
    ack,
    /// Please ping `target` for me and relay its ack with my `seq`.
    ping_req,
    /// The sender leaves the cluster (graceful shutdown).
    leave,
  };
  kind type = kind::ping;
  uint64_t seq = 0;
  std::string from;
  /// `ping_req`: the member to probe; `ack`: the member that answered.
  std::string target;
  std::vector<gossip> view;

  friend bool operator==(const message&, const message&) = default;
};

/// A message to send to member `to`.
struct outgoing {
  std::string to;
  message msg;
};

/// A member's state as this node sees it.
struct member_view {
  std::string name;
  std::string address;
  member_state state = member_state::alive;
  uint64_t incarnation = 0;
  /// When this node last changed the member's state.
  time_point since{};
};

/// A state change this node observed (for logs, metrics and routing).
struct member_change {
  std::string name;
  member_state from = member_state::alive;
  member_state to = member_state::alive;
  uint64_t incarnation = 0;
};

struct membership_config {
  /// One probe round starts this often.
  duration probe_interval = std::chrono::milliseconds{500};
  /// A direct ping unanswered this long goes indirect.
  duration probe_timeout = std::chrono::milliseconds{250};
  /// Members asked to probe indirectly.
  size_t indirect_probes = 2;
  /// An unanswered probe (direct and indirect) ends this long after it
  /// started, and the target becomes suspect.
  duration indirect_timeout = std::chrono::milliseconds{750};
  /// A suspect not refuted for this long is declared dead.
  duration suspicion_timeout = std::chrono::seconds{6};
};

/// SWIM-style failure detection and gossip for a fixed member list (the
/// initial cluster). Pure: time and randomness are passed in, messages go
/// out as values. One probe at a time: every `probe_interval` the next
/// member in a shuffled round-robin order is pinged; without an ack within
/// `probe_timeout`, `indirect_probes` other members ping it on this node's
/// behalf; without any ack by `indirect_timeout` it becomes suspect, and
/// dead after `suspicion_timeout` unless it refutes. A member that learns
/// it is suspected or dead refutes by raising its incarnation.
///
/// Merge rules for gossip about another member at incarnation i (current
/// state s at incarnation j): alive wins if i > j; suspect wins over alive
/// if i >= j and over anything else if i > j; dead and left win over alive
/// and suspect if i >= j, and over each other only if i > j.
class membership {
public:
  /// `incarnation` must grow across restarts of this node (the shell uses
  /// the start time in milliseconds).
  membership(std::string self, const std::vector<member_spec>& members,
             membership_config cfg, uint64_t incarnation, time_point now);

  /// Starts due probes, escalates or ends the current one, and declares
  /// suspects dead. Call at least every `probe_timeout / 2`.
  std::vector<outgoing> tick(time_point now, std::mt19937_64& rng);

  /// Handles a message from another member.
  std::vector<outgoing> receive(const message& m, time_point now);

  /// Announces that this node leaves: a `leave` to every other member.
  std::vector<outgoing> leave(time_point now);

  /// Every member, this node included, sorted by name.
  const std::vector<member_view>& members() const {
    return members_;
  }

  const member_view* find(std::string_view name) const;

  /// True if `name` is alive or suspect (reachable as far as we know).
  bool reachable(std::string_view name) const;

  const std::string& self() const {
    return self_;
  }

  uint64_t incarnation() const;

  /// The state changes since the last call.
  std::vector<member_change> take_changes();

  /// This node's view, as carried by every message.
  std::vector<gossip> view() const;

private:
  struct probe {
    std::string target;
    uint64_t seq = 0;
    time_point started{};
    bool indirect = false;
  };
  struct relay {
    std::string requester;
    uint64_t requester_seq = 0;
    time_point expires{};
  };

  member_view* find_mut(std::string_view name);
  void set_state(member_view& m, member_state s, uint64_t inc, time_point now);
  void merge(const std::vector<gossip>& view, time_point now);
  void apply(const gossip& g, time_point now);
  message make(message::kind type, uint64_t seq, std::string target = {}) const;
  void start_probe(time_point now, std::mt19937_64& rng,
                   std::vector<outgoing>& out);

  std::string self_;
  membership_config cfg_;
  std::vector<member_view> members_;
  std::vector<std::string> order_;
  size_t next_in_order_ = 0;
  time_point next_probe_{};
  std::optional<probe> probe_;
  std::map<uint64_t, relay> relays_;
  uint64_t next_seq_ = 1;
  std::vector<member_change> changes_;
};

} // namespace shoal::cluster
