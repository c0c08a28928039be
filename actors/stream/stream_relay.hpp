#pragma once

// Stream tails across nodes. A tail opened on a node that does not own the
// stream is served by a relay actor on that node, fed by the owner's feed
// through a proxy sink on the owner:
//
//   owner:   feed --on_event--> proxy sink --message--> (middleman)
//   gateway: relay --on_event--> the caller's sink
//
// The relay registers with the owner's shard (`tail_atom`, stream, from,
// relay, generation, credit) and gets the proxy actor back. The proxy sink
// takes an event only while it has credit; the relay returns credit as
// its own sink takes events, so at most one window of events is in
// flight and a slow consumer slows the owner's feed down (and is told
// `lagged` there, as a local one would be). When the owner is lost the
// relay keeps what it holds and registers again, from the next seq it
// needs, once the owner is reachable: the consumer sees no gap and no
// repeat.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "actors/stream/stream_feed.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace shoal {

class directory;
class stream_service;

/// Events a relay lets the owner send before it returns credit.
constexpr uint32_t relay_window = 256;

/// The sink and proxy actor of one remote tail, on the owner: deliveries
/// go to `relay` tagged with `generation`; the proxy adds the credit the
/// relay returns and closes the sink when the relay goes down.
struct tail_proxy {
  caf::actor proxy;
  std::shared_ptr<stream_tail_sink> sink;
};

tail_proxy spawn_tail_proxy(caf::actor_system& sys, caf::actor relay,
                            uint64_t generation, uint32_t credit);

/// Spawns the relay of a tail of `stream` (from `from`, 0: new events only)
/// whose shard another member owns; it delivers to `sink` exactly as a
/// local tail does. The owner must be reachable when it starts (else the
/// sink gets `unavailable`); later losses of the owner are bridged.
caf::actor spawn_stream_relay(caf::actor_system& sys, const directory& dir,
                              const stream_service& streams, std::string stream,
                              uint64_t from, std::shared_ptr<stream_tail_sink> sink);

} // namespace shoal
