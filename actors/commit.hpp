#pragma once

// Hands a shard's batch to the committer; once it is durable (or failed)
// the shard receives `(commit_atom, seq, code, message)` — code 0 on
// success — and passes it to its `durable_gate`. Used by the shard host
// (actors/shard/shard_host.hpp), the one place a shard persists.

#include <optional>
#include <string>
#include <vector>

#include <caf/send.hpp>

#include "actors/durable_gate.hpp"
#include "actors/type_ids.hpp"
#include "runtime/metrics.hpp"
#include "runtime/time.hpp"
#include "runtime/storage/committer.hpp"

namespace shoal {

template <class Handle>
void commit_async(storage::committer& committer, storage::write_batch batch,
                  Handle shard, uint64_t seq) {
  committer.submit(std::move(batch), [shard, seq](result<void> r) {
    caf::anon_send(shard, commit_atom_v, seq,
                   r ? uint8_t{0} : static_cast<uint8_t>(r.code()),
                   r ? std::string{} : r.err().message);
  });
}

/// Hands `batch` to the committer as the next change of `gate`. Once it is
/// durable, `acknowledge` (if any) runs at once on the committer's thread — a
/// write's answer skips the hop back through the shard's mailbox — and
/// then the shard gets its `commit_atom` report as usual. Commit callbacks
/// run in submission order, so every earlier change of the shard is durable
/// by then; after a failed commit of the shard, every later `acknowledge`
/// gets the failure, as the gate's waiters do. `acknowledge` must not block.
template <class Handle>
void commit_async(durable_gate& gate, storage::committer& committer,
                  storage::write_batch batch, Handle shard,
                  durable_gate::waiter acknowledge) {
  committer.submit(std::move(batch),
                   [shard, seq = gate.advance(), failed = gate.commit_failed(),
                    acknowledge = std::move(acknowledge)](result<void> r) {
                     acknowledge_commit(*failed, r, acknowledge);
                     caf::anon_send(shard, commit_atom_v, seq,
                                    r ? uint8_t{0} : static_cast<uint8_t>(r.code()),
                                    r ? std::string{} : r.err().message);
                   });
}

/// The error of a `(commit_atom, seq, code, message)` report, or nullopt.
inline std::optional<error> commit_failure(uint8_t code, std::string message) {
  if (code == 0) {
    return std::nullopt;
  }
  return error{static_cast<errc>(code), std::move(message)};
}

/// Passes a `(commit_atom, seq, code, message)` report to `gate`; a failure
/// is logged as critical, naming the primitive and shard. Returns the
/// failure, if any.
std::optional<error> on_commit_report(durable_gate& gate, const char* primitive,
                                      uint16_t shard, uint64_t seq, uint8_t code,
                                      std::string message);

} // namespace shoal
