#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "actors/node.hpp"

namespace shoal {

/// The idempotency primitive for C++ programs that embed a node. Blocking
/// calls (from plain threads, never inside an actor) and `*_async` forms
/// that call `done` on an actor thread (a change's on the storage commit
/// thread; `done` must not block). They send the same messages as the
/// HTTP gateway to the key's shard (`node.idempotency().shard_for(key)`).
class idem_client {
public:
  explicit idem_client(node& n,
                       std::chrono::milliseconds timeout = std::chrono::seconds{10});

  /// Takes the lease of `key` (fresh, with the owner token in
  /// `rec.owner_token`), or returns the stored outcome (not fresh). Fails
  /// with `conflict` while another owner's lease is live.
  result<idem::begin_result> begin(std::string key, duration lease_ttl,
                                   std::string fingerprint = {},
                                   uint64_t fence = 0);
  result<idem::record> touch(std::string key, std::string token,
                             duration lease_ttl);
  result<idem::record> complete(std::string key, std::string token,
                                std::string result,
                                duration retention = duration::zero(),
                                uint64_t fence = 0);
  result<idem::record> fail(std::string key, std::string token,
                            std::string code, std::string message,
                            duration retention = duration::zero(),
                            uint64_t fence = 0);
  result<idem::record> get(std::string key);
  /// Removes the record; returns whether there was one.
  result<bool> erase(std::string key);
  /// Removes every expired record on every shard now; returns how many.
  result<uint64_t> sweep();

  void begin_async(idem::begin_cmd cmd,
                   std::function<void(result<idem::begin_result>)> done);
  void touch_async(idem::touch_cmd cmd,
                   std::function<void(result<idem::record>)> done);
  void complete_async(idem::complete_cmd cmd,
                      std::function<void(result<idem::record>)> done);
  void fail_async(idem::fail_cmd cmd,
                  std::function<void(result<idem::record>)> done);
  void get_async(std::string key, std::function<void(result<idem::record>)> done);
  void erase_async(std::string key, std::function<void(result<bool>)> done);
  /// Sweeps every shard, wherever it lives (`unavailable` if an owner is
  /// not reachable): the records removed in all.
  void sweep_async(std::function<void(result<uint64_t>)> done);

private:
  node& node_;
  std::chrono::milliseconds timeout_;
};

/// How `run_once` runs a piece of work.
struct once_options {
  duration lease_ttl = std::chrono::seconds{30};
  /// Identifies the request; a repeat with another one is refused
  /// (`fingerprint_mismatch`).
  std::string fingerprint;
  /// How long the outcome is kept (0: the node's default, 24 h).
  duration retention = duration::zero();
  /// Touch the lease every `lease_ttl / 3` while the work runs, so long
  /// work does not lose it.
  bool keep_alive = true;
};

/// What `run_once` did.
struct once_outcome {
  /// True: this call ran the work; false: an earlier call had, and `rec`
  /// is its stored outcome.
  bool ran = false;
  /// The completed record (`rec.result`) or the failed one
  /// (`rec.error_code`, `rec.error_message`).
  idem::record rec;
};

/// Runs `work` at most once per `key` across every caller of the node:
/// the first caller takes the lease, runs `work` and stores its result (or
/// its error, as code and message: `work`'s error code by name); every
/// later caller gets the stored outcome without running anything. Fails
/// with `conflict` while another caller's work is in progress (retry
/// later), and with `not_owner`/`lease_expired` if the lease was lost while
/// `work` ran (its result is then not stored).
result<once_outcome> run_once(idem_client& client, const std::string& key,
                              const once_options& opts,
                              const std::function<result<std::string>()>& work);

} // namespace shoal
