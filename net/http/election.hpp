#pragma once

// Leader election for embedding programs and the HTTP routes alike. It
// lives in shoal::net because the leader record is JSON (readable through
// kv GET and watch by any client).
//
// A campaign queues for the lock `_election.{name}` bound to the
// campaigner's lease (FIFO, so candidates lead in the order they asked).
// Once granted, the leader record — value, lease, fence, since — goes to the
// kv key of the same name, bound to the lease and fenced by the lock: when
// the lease ends the record is deleted and the lock passes to the next
// candidate, whose record (with a higher fence) a late write of the old
// leader can no longer overwrite.

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "actors/node.hpp"

namespace shoal {

/// Who leads an election.
struct leadership {
  std::string name;
  std::string value;
  uint64_t lease = 0;
  /// The lock's fence: strictly increasing from leader to leader; guard
  /// the leader's writes with it (`kv::fence{election_key(name), fence}`).
  uint64_t fence = 0;
  time_point since;
  /// The owner token of the election lock; only the campaigner gets it
  /// (it resigns with it).
  std::string token;
};

/// The kv key (and lock key) of election `name`.
std::string election_key(const std::string& name);
/// The same, or `invalid_key` if `name` does not make a valid key.
result<std::string> checked_election_key(const std::string& name);

/// Waits (up to `wait`) until this campaigner leads `name`, then writes its
/// leader record. `lease` must be alive (it bounds the leadership).
void campaign_async(node& n, std::string name, std::string value, uint64_t lease,
                    duration wait, std::function<void(result<leadership>)> done);
/// Ends the leadership held with `token`: the lock goes to the next
/// candidate and the record is deleted (unless the next leader already
/// wrote its own).
void resign_async(node& n, std::string name, std::string token,
                  std::function<void(result<void>)> done);
/// The current leader (without token), or `not_found`.
void leader_async(node& n, std::string name,
                  std::function<void(result<leadership>)> done);

/// Blocking forms (from plain threads, never inside an actor).
result<leadership> campaign(node& n, std::string name, std::string value,
                            uint64_t lease, duration wait = std::chrono::hours{1});
result<void> resign(node& n, std::string name, std::string token);
result<leadership> leader(node& n, std::string name);

/// The leader record (stored JSON) of `l`, and back.
std::string leader_record(const leadership& l);
result<leadership> parse_leader_record(std::string name, std::string_view record);

/// `l` as the JSON the HTTP API answers (`token` only if set).
nlohmann::json leadership_json(const leadership& l);

} // namespace shoal
