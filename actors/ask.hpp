#pragma once

// Asking actors from any thread without blocking it: a short-lived actor
// sends the request(s) and hands the reply (or error) to a callback. Used by
// the HTTP routes and the asynchronous embedding API.

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/error_bridge.hpp"
#include "runtime/result.hpp"

namespace shoal {

/// Work for a bridge actor: it runs the job, which sends requests from the
/// bridge and handles their replies there. Local only (never serialized).
using bridge_job = std::function<void(caf::event_based_actor*)>;

} // namespace shoal

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(shoal::bridge_job)

namespace shoal {

/// Spawns a long-lived bridge actor. Asking through one avoids spawning an
/// actor per request; a node keeps a few (`node::bridge()`).
caf::actor spawn_bridge(caf::actor_system& sys);

/// Default time a request waits for an actor's reply.
inline constexpr std::chrono::milliseconds default_ask_timeout{10'000};

/// Sends `xs...` to `target` and calls `done` with the reply of type `T` or
/// the error (timeouts become `errc::timeout`). `done` runs on an actor
/// thread.
template <class T, class Handle, class... Ts>
void ask(const caf::actor& bridge, const Handle& target,
         std::chrono::milliseconds timeout,
         std::function<void(result<T>)> done, Ts... xs) {
  caf::anon_send(bridge, bridge_job{[target, timeout, done = std::move(done),
                                     xs...](caf::event_based_actor* self) mutable {
    self->request(target, caf::duration{timeout}, std::move(xs)...)
      .then([done](T value) { done(result<T>{std::move(value)}); },
            [done](caf::error& e) { done(result<T>{from_caf_error(e)}); });
  }});
}

} // namespace shoal

namespace shoal {

/// Sends `xs...` to every handle in `targets` and calls `done` once with all
/// replies in the order of `targets`, or with the first error.
template <class T, class Handle, class... Ts>
void gather(const caf::actor& bridge, std::vector<Handle> targets,
            std::chrono::milliseconds timeout,
            std::function<void(result<std::vector<T>>)> done, Ts... xs) {
  caf::anon_send(bridge, bridge_job{[targets = std::move(targets), timeout,
                                     done = std::move(done),
                                     xs...](caf::event_based_actor* self) mutable {
    struct state {
      std::vector<T> replies;
      size_t missing;
      bool finished = false;
    };
    auto st = std::make_shared<state>();
    st->replies.resize(targets.size());
    st->missing = targets.size();
    if (targets.empty()) {
      done(std::vector<T>{});
      return;
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      self->request(targets[i], caf::duration{timeout}, xs...)
        .then(
          [st, i, done](T value) {
            if (st->finished) {
              return;
            }
            st->replies[i] = std::move(value);
            if (--st->missing == 0) {
              st->finished = true;
              done(std::move(st->replies));
            }
          },
          [st, done](caf::error& e) {
            if (!st->finished) {
              st->finished = true;
              done(from_caf_error(e));
            }
          });
    }
  }});
}

} // namespace shoal

namespace shoal {

/// Runs an asynchronous call (`start(done)`) and blocks the calling thread
/// until `done` got the result. Never call it from inside an actor.
template <class T, class Start>
result<T> wait_for(Start start) {
  auto p = std::make_shared<std::promise<result<T>>>();
  auto f = p->get_future();
  start([p](result<T> r) { p->set_value(std::move(r)); });
  return f.get();
}

} // namespace shoal
