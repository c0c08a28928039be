#pragma once

// Hands a shard's batch to the committer; once it is durable (or failed)
// the shard receives `(commit_atom, seq, code, message)` — code 0 on
// success — and passes it to its `durable_gate`.

#include <string>

#include <caf/send.hpp>

#include "actors/type_ids.hpp"
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

/// The error of a `(commit_atom, seq, code, message)` report, or nullopt.
inline std::optional<error> commit_failure(uint8_t code, std::string message) {
  if (code == 0) {
    return std::nullopt;
  }
  return error{static_cast<errc>(code), std::move(message)};
}

} // namespace shoal
