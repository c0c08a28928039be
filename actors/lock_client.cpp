#include "actors/lock_client.hpp"

#include <optional>

#include "actors/ask.hpp"
#include "actors/lease/live_lease.hpp"
#include "actors/renewer.hpp"
#include "actors/reply_to.hpp"

namespace shoal {

lock_client::lock_client(node& n) : node_(n) {
}

// -- locks ---------------------------------------------------------------------

void lock_client::acquire_async(
  lock::acquire_cmd cmd, std::function<void(result<lock::acquire_result>)> done) {
  // A queued acquire is answered up to its wait later.
  auto key = cmd.key;
  auto lease = cmd.lease;
  auto wait = cmd.wait;
  call_keyed_with_lease<lock::acquire_result>(
    node_.placement(), node_.bridge(), node_.leases(), lease, shard_kind::locks,
    node_.locks(), std::move(key), wait, std::move(done), acquire_atom_v,
    std::move(cmd));
}

void lock_client::refresh_async(std::string key, std::string token, duration ttl,
                                std::function<void(result<lock::lock_info>)> done) {
  auto routed = key;
  call_keyed<lock::lock_info>(node_.placement(), node_.bridge(), shard_kind::locks,
                              node_.locks(), routed, std::move(done), refresh_atom_v,
                              std::move(key), std::move(token), ttl);
}

void lock_client::release_async(std::string key, std::string token,
                                std::function<void(result<uint64_t>)> done) {
  auto routed = key;
  call_keyed<uint64_t>(node_.placement(), node_.bridge(), shard_kind::locks,
                       node_.locks(), routed, std::move(done), release_atom_v,
                       std::move(key), std::move(token));
}

void lock_client::get_async(std::string key,
                            std::function<void(result<lock::lock_info>)> done) {
  auto routed = key;
  call_keyed<lock::lock_info>(node_.placement(), node_.bridge(), shard_kind::locks,
                              node_.locks(), routed, std::move(done), get_atom_v,
                              std::move(key));
}

result<lock::lock_info> lock_client::acquire(std::string key, duration ttl,
                                             duration wait, uint64_t lease) {
  lock::acquire_cmd cmd;
  cmd.key = std::move(key);
  cmd.ttl = ttl;
  cmd.wait = wait;
  cmd.lease = lease;
  auto r = wait_for<lock::acquire_result>(
    [&](auto done) { acquire_async(std::move(cmd), std::move(done)); });
  if (!r) {
    return std::move(r).err();
  }
  return std::move(r->info);
}

result<lock::lock_info> lock_client::refresh(std::string key, std::string token,
                                             duration ttl) {
  return wait_for<lock::lock_info>([&](auto done) {
    refresh_async(std::move(key), std::move(token), ttl, std::move(done));
  });
}

result<uint64_t> lock_client::release(std::string key, std::string token) {
  return wait_for<uint64_t>([&](auto done) {
    release_async(std::move(key), std::move(token), std::move(done));
  });
}

result<lock::lock_info> lock_client::get(std::string key) {
  return wait_for<lock::lock_info>(
    [&](auto done) { get_async(std::move(key), std::move(done)); });
}

// -- leases --------------------------------------------------------------------

void lock_client::grant_async(duration ttl,
                              std::function<void(result<lease::lease_info>)> done) {
  call<lease::lease_info>(node_.leases().next_shard(), std::move(done),
                          grant_atom_v, ttl);
}

void lock_client::keepalive_async(
  uint64_t id, std::function<void(result<lease::lease_info>)> done) {
  call_lease(node_.placement(), node_.bridge(), node_.leases(), id, std::move(done),
             keepalive_atom_v);
}

void lock_client::revoke_async(uint64_t id,
                               std::function<void(result<lease::lease_info>)> done) {
  call_lease(node_.placement(), node_.bridge(), node_.leases(), id, std::move(done),
             revoke_atom_v);
}

void lock_client::lease_async(uint64_t id,
                              std::function<void(result<lease::lease_info>)> done) {
  call_lease(node_.placement(), node_.bridge(), node_.leases(), id, std::move(done),
             get_atom_v);
}

result<lease::lease_info> lock_client::grant(duration ttl) {
  return wait_for<lease::lease_info>(
    [&](auto done) { grant_async(ttl, std::move(done)); });
}

result<lease::lease_info> lock_client::keepalive(uint64_t id) {
  return wait_for<lease::lease_info>(
    [&](auto done) { keepalive_async(id, std::move(done)); });
}

result<lease::lease_info> lock_client::revoke(uint64_t id) {
  return wait_for<lease::lease_info>(
    [&](auto done) { revoke_async(id, std::move(done)); });
}

result<lease::lease_info> lock_client::lease(uint64_t id) {
  return wait_for<lease::lease_info>(
    [&](auto done) { lease_async(id, std::move(done)); });
}

// -- run_locked ----------------------------------------------------------------

result<void> run_locked(lock_client& client, const std::string& key,
                        const locked_options& opts,
                        const std::function<result<void>(const lock::lock_info&)>& work) {
  auto held = client.acquire(key, opts.ttl, opts.wait);
  if (!held) {
    return std::move(held).err();
  }
  bool lost = false;
  auto outcome = [&] {
    renewer keeper{opts.ttl / 3, [&] {
                     return static_cast<bool>(
                       client.refresh(key, held->owner_token, opts.ttl));
                   }};
    auto r = work(*held);
    lost = keeper.lost();
    return r;
  }();
  auto released = client.release(key, held->owner_token);
  auto ended = !released && (released.code() == errc::lock_not_held
                             || released.code() == errc::lock_expired);
  if (lost || ended) {
    return fail(errc::lock_expired, "lock " + key + " (fence "
                                      + std::to_string(held->fence)
                                      + ") ended while the work ran");
  }
  if (!released) {
    return std::move(released).err();
  }
  return outcome;
}

} // namespace shoal
