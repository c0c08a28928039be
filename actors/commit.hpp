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
#include "runtime/metrics.hpp"
#include "runtime/time.hpp"
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

/// The same, taking the keys and values out of `writes`.
template <class Write>
storage::write_batch to_batch(storage::column column,
                              std::vector<Write>&& writes) {
  storage::write_batch b;
  for (auto& w : writes) {
    if (w.value) {
      b.put(column, std::move(w.key), std::move(*w.value));
    } else {
      b.erase(column, std::move(w.key));
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

/// A shard's writes as one more change of `gate`, handed to the
/// committer (nothing if there are none).
template <class Handle, class Writes>
void persist(durable_gate& gate, storage::committer& committer,
             storage::column column, Writes&& writes, Handle shard) {
  if (writes.empty()) {
    return;
  }
  commit_async(gate, committer, to_batch(column, std::forward<Writes>(writes)),
               std::move(shard), {});
}

/// Persists `writes` as `persist` does and calls `deliver` with `value`
/// once they are durable, from the committer's thread (`commit_async`);
/// with no writes, once everything applied so far is durable (the answer
/// may describe a change whose commit is pending).
template <class T, class Handle, class Writes>
void persist_and_answer(durable_gate& gate, storage::committer& committer,
                        storage::column column, Writes&& writes, Handle shard,
                        result<T> value, std::function<void(result<T>)> deliver) {
  if (writes.empty()) {
    answer_when_durable(gate, std::move(value), std::move(deliver));
    return;
  }
  commit_async(gate, committer, to_batch(column, std::forward<Writes>(writes)),
               std::move(shard), answer_with(std::move(value), std::move(deliver)));
}

/// Removes everything expired from `table` at `now`, in rounds of the
/// table's sweep limit: each round's effects go to `persist` (its own
/// batch). Counts the removed records into `swept` (if any) and returns
/// how many. A failed gate sweeps nothing: memory is ahead of the disk.
template <class Effects, class Table, class Persist>
uint64_t sweep_expired(const durable_gate& gate, Table& table, time_point now,
                       metrics::counter* swept, Persist persist) {
  if (gate.failed()) {
    return 0;
  }
  uint64_t total = 0;
  for (;;) {
    Effects fx;
    auto n = table.sweep(now, fx);
    if (n == 0) {
      break;
    }
    total += n;
    persist(fx);
  }
  if (swept != nullptr && total > 0) {
    swept->inc(total);
  }
  return total;
}

} // namespace shoal
