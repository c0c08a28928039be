#pragma once

// Sending a command to the shard that owns it, wherever it lives: the
// local actor through `reply_to` (no extra hop), or the owner's actor over
// the middleman through a bridge, with the directory's forward timeout.

#include <functional>
#include <type_traits>
#include <vector>

#include <caf/actor_cast.hpp>

#include "actors/ask.hpp"
#include "actors/cluster/directory.hpp"
#include "actors/error_bridge.hpp"
#include "actors/reply_to.hpp"
#include "actors/type_ids.hpp"
#include "runtime/time.hpp"

namespace shoal {

/// A forwarded command is a read if its first element is one of these
/// atoms; every other command counts as a write (see `request_effect`): a
/// new command is treated as a write until it is listed here.
template <class... Ts>
inline constexpr request_effect effect_of = request_effect::write;

template <class Atom, class... Ts>
inline constexpr request_effect effect_of<Atom, Ts...>
  = std::is_same_v<Atom, get_atom> || std::is_same_v<Atom, list_atom>
        || std::is_same_v<Atom, history_atom> || std::is_same_v<Atom, read_atom>
        || std::is_same_v<Atom, load_atom> || std::is_same_v<Atom, replay_atom>
        || std::is_same_v<Atom, scan_atom> || std::is_same_v<Atom, info_atom>
        || std::is_same_v<Atom, leases_atom>
      ? request_effect::read
      : request_effect::write;

namespace detail {

// A forwarded request that timed out is `unavailable`: the owner did not
// answer, no other node may. For requests that only read (a scatter over
// every shard); a single forwarded command uses `ask_forwarded`.
template <class T>
std::function<void(result<T>)> owner_unavailable_on_silence(
  std::function<void(result<T>)> done, std::string owner) {
  return [done = std::move(done), owner = std::move(owner)](result<T> r) {
    if (!r && r.err().code == errc::timeout) {
      done(error{errc::unavailable, owner + " did not answer in time"});
      return;
    }
    done(std::move(r));
  };
}

// Sends `xs...` to `target` on member `owner` and calls `done` with the
// answer; a failed exchange is `forwarded_error` for the command's effect:
// a write whose owner fell silent is `maybe_committed`, never the
// `unavailable` that tells a client the write certainly did not happen.
template <class T, class Handle, class... Ts>
void ask_forwarded(const caf::actor& bridge, const Handle& target,
                   std::chrono::milliseconds timeout, std::string owner,
                   std::function<void(result<T>)> done, Ts... xs) {
  caf::anon_send(bridge, bridge_job{[target, timeout, owner = std::move(owner),
                                     done = std::move(done),
                                     xs...](caf::event_based_actor* self) mutable {
    self->request(target, caf::duration{timeout}, std::move(xs)...)
      .then([done](T value) { done(result<T>{std::move(value)}); },
            [done, owner](caf::error& e) {
              done(result<T>{forwarded_error(e, effect_of<Ts...>, owner)});
            });
  }});
}

// Asks the owner of `shard` (another member) over the middleman, waiting
// the forward timeout plus `longer`; `unavailable` when it is not
// reachable (nothing was sent), else as `ask_forwarded`.
template <class T, class Handle, class... Ts>
void ask_owner(const directory& dir, const caf::actor& bridge, shard_kind kind,
               uint16_t shard, duration longer, std::function<void(result<T>)> done,
               Ts... xs) {
  auto remote = dir.remote(kind, shard);
  if (!remote) {
    done(std::move(remote).err());
    return;
  }
  auto timeout = dir.forward_timeout()
                 + std::chrono::duration_cast<std::chrono::milliseconds>(longer);
  ask_forwarded<T>(bridge, caf::actor_cast<Handle>(*remote), timeout,
                   dir.owner_of(shard), std::move(done), std::move(xs)...);
}

} // namespace detail

/// Sends `xs...` to shard `shard` of `kind` and calls `done` once with its
/// answer: `local` (this node's actor of that shard) when this node owns
/// it, the owner's actor otherwise; `unavailable` at once when the owner
/// is not reachable. An owner silent for the forward timeout plus `longer`
/// (the time the command itself may take, such as a lock's wait in line)
/// makes a write `maybe_committed` and a read `unavailable`.
template <class T, class Handle, class... Ts>
void call_shard_within(const directory& dir, const caf::actor& bridge,
                       shard_kind kind, uint16_t shard, const Handle& local,
                       duration longer, std::function<void(result<T>)> done,
                       Ts... xs) {
  if (dir.is_local(shard)) {
    call<T>(local, std::move(done), std::move(xs)...);
    return;
  }
  detail::ask_owner<T, Handle>(dir, bridge, kind, shard, longer, std::move(done),
                               std::move(xs)...);
}

/// For requests a shard takes only in request/response form (no
/// `reply_to`): asks `local` when this node owns `shard` (with
/// `default_ask_timeout`), else its owner as `call_shard` does.
template <class T, class Handle, class... Ts>
void ask_shard(const directory& dir, const caf::actor& bridge, shard_kind kind,
               uint16_t shard, const Handle& local,
               std::function<void(result<T>)> done, Ts... xs) {
  if (dir.is_local(shard)) {
    ask<T>(bridge, local, default_ask_timeout, std::move(done), std::move(xs)...);
    return;
  }
  detail::ask_owner<T, Handle>(dir, bridge, kind, shard, duration::zero(),
                               std::move(done), std::move(xs)...);
}

/// `call_shard_within` for commands that answer at once.
template <class T, class Handle, class... Ts>
void call_shard(const directory& dir, const caf::actor& bridge, shard_kind kind,
                uint16_t shard, const Handle& local,
                std::function<void(result<T>)> done, Ts... xs) {
  call_shard_within<T>(dir, bridge, kind, shard, local, duration::zero(),
                       std::move(done), std::move(xs)...);
}

/// The actor of one shard of `kind` for a request/response exchange
/// (`ask`, `gather`): local or remote; `unavailable` if not reachable.
template <class Handle>
result<Handle> shard_actor(const directory& dir, shard_kind kind, uint16_t shard,
                           const Handle& local) {
  if (dir.is_local(shard)) {
    return local;
  }
  auto remote = dir.remote(kind, shard);
  if (!remote) {
    return std::move(remote).err();
  }
  return caf::actor_cast<Handle>(*remote);
}

/// The actor of every shard of `kind`, local or remote, for a scatter; or
/// `unavailable` if any owner is not reachable (a scatter never answers
/// with part of the shards).
template <class Handle>
result<std::vector<Handle>> all_shards(const directory& dir, shard_kind kind,
                                       const std::vector<Handle>& local) {
  if (dir.single()) {
    return local;
  }
  std::vector<Handle> out;
  out.reserve(local.size());
  for (size_t s = 0; s < local.size(); ++s) {
    auto one = shard_actor(dir, kind, static_cast<uint16_t>(s), local[s]);
    if (!one) {
      return std::move(one).err();
    }
    out.push_back(std::move(*one));
  }
  return out;
}

/// `call_shard` for the shard of `key` in `service` (any primitive's
/// service with `shard_of` and `shards`).
template <class T, class Service, class... Ts>
void call_keyed(const directory& dir, const caf::actor& bridge, shard_kind kind,
                const Service& service, std::string_view key,
                std::function<void(result<T>)> done, Ts... xs) {
  auto shard = service.shard_of(key);
  call_shard<T>(dir, bridge, kind, shard, service.shards()[shard], std::move(done),
                std::move(xs)...);
}

/// `call_shard_within` for the shard of `key` in `service`.
template <class T, class Service, class... Ts>
void call_keyed_within(const directory& dir, const caf::actor& bridge,
                       shard_kind kind, const Service& service, std::string_view key,
                       duration longer, std::function<void(result<T>)> done,
                       Ts... xs) {
  auto shard = service.shard_of(key);
  call_shard_within<T>(dir, bridge, kind, shard, service.shards()[shard], longer,
                       std::move(done), std::move(xs)...);
}

/// `shard_actor` for the shard of `key` in `service`.
template <class Service>
auto keyed_shard_actor(const directory& dir, shard_kind kind,
                       const Service& service, std::string_view key) {
  auto shard = service.shard_of(key);
  return shard_actor(dir, kind, shard, service.shards()[shard]);
}

} // namespace shoal
