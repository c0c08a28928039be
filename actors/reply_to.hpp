#pragma once

// A request sent straight to a local shard actor from any thread, answered
// through a callback rather than a response message: no bridge actor and
// no extra mailbox hop. Shards accept `(atom, command, reply_to<T>)`
// beside their request/response form. Local only: never serialized.

#include <atomic>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/error_bridge.hpp"

#include "runtime/result.hpp"

namespace shoal {

/// Called exactly once with the shard's answer; it must not block. If the
/// shard is gone, it is destroyed uncalled. With `any_thread`, a write's
/// answer may come straight from the storage commit thread once the write
/// is durable (see `commit_async`); otherwise always from the shard's own
/// thread (a response promise's `deliver_to` needs that).
template <class T>
struct reply_to {
  std::function<void(result<T>)> fn;
  bool any_thread = false;
};

namespace detail {

// Calls `fn` at most once; if nobody did, its destructor calls it with
// `unavailable` (the shard stopped with the request in its mailbox).
template <class T>
class once_reply {
public:
  explicit once_reply(std::function<void(result<T>)> fn) : fn_(std::move(fn)) {
  }
  once_reply(const once_reply&) = delete;
  once_reply& operator=(const once_reply&) = delete;
  ~once_reply() {
    if (fn_) {
      fn_(error{errc::unavailable, "the shard stopped before answering"});
    }
  }
  void operator()(result<T> r) {
    if (fn_) {
      auto fn = std::move(fn_);
      fn_ = nullptr;
      fn(std::move(r));
    }
  }

private:
  std::function<void(result<T>)> fn_;
};

} // namespace detail

/// Sends `xs..., reply_to<T>{done}` to `shard`. `done` is called exactly
/// once: with the answer, or with `unavailable` if the shard stopped
/// before answering. There is no timeout: a live shard always answers.
template <class T, class Handle, class... Ts>
void call(const Handle& shard, std::function<void(result<T>)> done, Ts&&... xs) {
  auto once = std::make_shared<detail::once_reply<T>>(std::move(done));
  caf::anon_send(shard, std::forward<Ts>(xs)...,
                 reply_to<T>{[once](result<T> r) { (*once)(std::move(r)); }, true});
}

/// Sends `xs..., reply_to<T>` to every handle of `shards` and calls `done`
/// once with all answers, in the order of `shards` (each a value or that
/// shard's error). `done` runs on the thread of the last shard to answer.
template <class T, class Handle, class... Ts>
void call_all(const std::vector<Handle>& shards,
              std::function<void(std::vector<result<T>>)> done, Ts... xs) {
  struct gather {
    std::vector<result<T>> answers;
    std::atomic<size_t> pending;
    std::function<void(std::vector<result<T>>)> done;
  };
  if (shards.empty()) {
    done({});
    return;
  }
  auto g = std::make_shared<gather>();
  g->answers.resize(shards.size(), result<T>{error{errc::unavailable, ""}});
  g->pending = shards.size();
  g->done = std::move(done);
  for (size_t i = 0; i < shards.size(); ++i) {
    call<T>(shards[i],
            std::function<void(result<T>)>{[g, i](result<T> r) {
              // Each slot has one writer; the last decrement sees them all.
              g->answers[i] = std::move(r);
              if (g->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                g->done(std::move(g->answers));
              }
            }},
            xs...);
  }
}

/// A callback that delivers a result to a response promise (so one shard
/// function can serve both the message and the `reply_to` form).
template <class T>
std::function<void(result<T>)> deliver_to(caf::typed_response_promise<T> rp) {
  return [rp](result<T> r) mutable {
    if (r) {
      rp.deliver(std::move(*r));
    } else {
      rp.deliver(to_caf_error(r.err()));
    }
  };
}

/// Serves a request (from another node, which cannot send a `reply_to`)
/// through the shard's own `reply_to` form of the same command: sends
/// `xs..., reply_to<T>` to `self` (one more trip through its mailbox) and
/// returns the promise that the answer is delivered to.
template <class T, class Self, class... Ts>
caf::typed_response_promise<T> via_reply_to(Self* self, Ts&&... xs) {
  auto rp = self->template make_response_promise<T>();
  caf::anon_send(caf::actor_cast<typename Self::actor_hdl>(self),
                 std::forward<Ts>(xs)..., reply_to<T>{deliver_to(rp)});
  return rp;
}

} // namespace shoal

namespace caf {

template <class T>
struct allowed_unsafe_message_type<shoal::reply_to<T>> : std::true_type {};

} // namespace caf
