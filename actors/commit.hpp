#pragma once

// Hands a shard's batch to the committer; once it is durable (or failed)
// the shard receives `(commit_atom, seq, code, message)` — code 0 on
// success — and passes it to its `durable_gate`.

#include <optional>
#include <string>
#include <vector>

#include <caf/send.hpp>

#include "actors/durable_gate.hpp"
#include "actors/type_ids.hpp"
#include "runtime/storage/committer.hpp"

namespace shoal {

/// A table's writes (`{key, optional value}`, nullopt: delete) as a batch
/// on `column`.
template <class Write>
storage::write_batch to_batch(storage::column column,
                              const std::vector<Write>& writes) {
  storage::write_batch b;
  for (const auto& w : writes) {
    if (w.value) {
      b.put(column, w.key, *w.value);
    } else {
      b.erase(column, w.key);
    }
  }
  return b;
}

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

/// Passes a `(commit_atom, seq, code, message)` report to `gate`; a failure
/// is logged as critical, naming the primitive and shard. Returns the
/// failure, if any.
std::optional<error> on_commit_report(durable_gate& gate, const char* primitive,
                                      uint16_t shard, uint64_t seq, uint8_t code,
                                      std::string message);

/// A shard's writes as one more change of `gate`, handed to the
/// committer (nothing if there are none).
template <class Handle, class Write>
void persist(durable_gate& gate, storage::committer& committer,
             storage::column column, const std::vector<Write>& writes,
             Handle shard) {
  if (writes.empty()) {
    return;
  }
  commit_async(committer, to_batch(column, writes), std::move(shard),
               gate.advance());
}

} // namespace shoal
