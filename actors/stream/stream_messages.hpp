#pragma once

// CAF inspection of the stream types of runtime/stream (which stays
// CAF-free), and the read and replay messages of stream shards.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>

#include "runtime/stream/entity.hpp"
#include "runtime/stream/stream_table.hpp"

namespace shoal::stream {

/// A read of one stream's events from storage.
struct read_query {
  std::string stream;
  /// Forward: the first seq to return (below the stream's first retained
  /// seq reads from there). Backward: the newest seq to return (0: the
  /// last).
  uint64_t from = 1;
  uint32_t limit = 100;
  bool backward = false;
  /// Forward only: stop after this seq (0: no bound).
  uint64_t to = 0;
};

/// Events of a read, with the stream's range when it was read.
struct event_page {
  std::vector<event> events;
  uint64_t first_seq = 1;
  uint64_t last_seq = 0;
  /// Where the next page starts (0: there is none).
  uint64_t next = 0;
};

/// The start of a replay to `target`: the newest checkpoint at or before
/// it (`has_checkpoint`), then the first page of events after it.
struct replay_page {
  bool has_checkpoint = false;
  checkpoint from;
  uint64_t target = 0;
  event_page page;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_data& x) {
  return f(x.type, x.payload, x.metadata, x.event_id, x.format);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(x.stream, x.seq, x.time, x.type, x.payload, x.metadata, x.event_id,
           x.format);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expectation& x) {
  return f(x.kind, x.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_cmd& x) {
  return f(x.stream, x.events, x.expected);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_result& x) {
  return f(x.stream, x.seqs, x.duplicate, x.last_seq, x.time);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retention& x) {
  return f(x.max_count, x.max_age);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entity_state& x) {
  return f(x.id, x.attributes, x.updated_at, x.updated_by, x.seq);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_info& x) {
  return f(x.name, x.created, x.updated, x.first_seq, x.last_seq, x.keep,
           x.truncate_before);
}

// CAF 0.17 has no inspector for std::optional: each field travels as a
// flag and a value.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, configure_cmd& x) {
  bool has_count = x.max_count.has_value();
  auto count = x.max_count.value_or(0);
  bool has_age = x.max_age.has_value();
  auto age = x.max_age.value_or(duration{0});
  bool has_before = x.truncate_before.has_value();
  auto before = x.truncate_before.value_or(0);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.max_count = has_count ? std::optional<uint64_t>{count} : std::nullopt;
    x.max_age = has_age ? std::optional<duration>{age} : std::nullopt;
    x.truncate_before = has_before ? std::optional<uint64_t>{before}
                                   : std::nullopt;
    return caf::none;
  });
  return f(x.stream, has_count, count, has_age, age, has_before, before, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkpoint& x) {
  return f(x.stream, x.seq, x.saved, x.state, x.format);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_query& x) {
  return f(x.stream, x.from, x.limit, x.backward, x.to);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_page& x) {
  return f(x.events, x.first_seq, x.last_seq, x.next);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replay_page& x) {
  return f(x.has_checkpoint, x.from, x.target, x.page);
}

} // namespace shoal::stream
