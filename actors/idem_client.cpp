#include "actors/idem_client.hpp"

#include <optional>

#include "actors/ask.hpp"
#include "actors/cluster/routing.hpp"
#include "actors/renewer.hpp"
#include "actors/reply_to.hpp"

namespace shoal {

idem_client::idem_client(node& n, std::chrono::milliseconds timeout)
  : node_(n), timeout_(timeout) {
}

namespace {

// Sends `cmd` to the shard of its key, wherever it lives.
template <class T, class Atom, class Command>
void to_shard(node& n, Atom atom, Command cmd,
              std::function<void(result<T>)> done) {
  auto key = cmd.key;
  call_keyed<T>(n.placement(), n.bridge(), shard_kind::idempotency, n.idempotency(),
                key, std::move(done), atom, std::move(cmd));
}

} // namespace

void idem_client::begin_async(
  idem::begin_cmd cmd, std::function<void(result<idem::begin_result>)> done) {
  to_shard<idem::begin_result>(node_, begin_atom_v, std::move(cmd), std::move(done));
}

void idem_client::touch_async(idem::touch_cmd cmd,
                              std::function<void(result<idem::record>)> done) {
  to_shard<idem::record>(node_, touch_atom_v, std::move(cmd), std::move(done));
}

void idem_client::complete_async(
  idem::complete_cmd cmd, std::function<void(result<idem::record>)> done) {
  to_shard<idem::record>(node_, complete_atom_v, std::move(cmd), std::move(done));
}

void idem_client::fail_async(idem::fail_cmd cmd,
                             std::function<void(result<idem::record>)> done) {
  to_shard<idem::record>(node_, fail_atom_v, std::move(cmd), std::move(done));
}

void idem_client::get_async(std::string key,
                            std::function<void(result<idem::record>)> done) {
  auto routed = key;
  call_keyed<idem::record>(node_.placement(), node_.bridge(), shard_kind::idempotency,
                           node_.idempotency(), routed, std::move(done), get_atom_v,
                           std::move(key));
}

result<idem::begin_result> idem_client::begin(std::string key,
                                              duration lease_ttl,
                                              std::string fingerprint,
                                              uint64_t fence) {
  idem::begin_cmd cmd{std::move(key), lease_ttl, std::move(fingerprint), {},
                      fence};
  return wait_for<idem::begin_result>(
    [&](auto done) { begin_async(std::move(cmd), std::move(done)); });
}

result<idem::record> idem_client::touch(std::string key, std::string token,
                                        duration lease_ttl) {
  idem::touch_cmd cmd{std::move(key), std::move(token), lease_ttl};
  return wait_for<idem::record>(
    [&](auto done) { touch_async(std::move(cmd), std::move(done)); });
}

result<idem::record> idem_client::complete(std::string key, std::string token,
                                           std::string result,
                                           duration retention, uint64_t fence) {
  idem::complete_cmd cmd{std::move(key), std::move(token), std::move(result),
                         retention, fence};
  return wait_for<idem::record>(
    [&](auto done) { complete_async(std::move(cmd), std::move(done)); });
}

result<idem::record> idem_client::fail(std::string key, std::string token,
                                       std::string code, std::string message,
                                       duration retention, uint64_t fence) {
  idem::fail_cmd cmd{std::move(key), std::move(token), std::move(code),
                     std::move(message), retention, fence};
  return wait_for<idem::record>(
    [&](auto done) { fail_async(std::move(cmd), std::move(done)); });
}

result<idem::record> idem_client::get(std::string key) {
  return wait_for<idem::record>(
    [&](auto done) { get_async(std::move(key), std::move(done)); });
}

void idem_client::erase_async(std::string key, std::function<void(result<bool>)> done) {
  // On another member, a silent owner makes the delete `maybe_committed`
  // after the forward timeout.
  auto shard = node_.idempotency().shard_of(key);
  ask_shard<bool>(node_.placement(), node_.bridge(), shard_kind::idempotency, shard,
                  node_.idempotency().shards()[shard], std::move(done), delete_atom_v,
                  std::move(key));
}

void idem_client::sweep_async(std::function<void(result<uint64_t>)> done) {
  auto shards = all_shards(node_.placement(), shard_kind::idempotency,
                           node_.idempotency().shards());
  if (!shards) {
    done(std::move(shards).err());
    return;
  }
  gather<uint64_t>(node_.bridge(), std::move(*shards), timeout_,
                   [done = std::move(done)](result<std::vector<uint64_t>> r) {
                     if (!r) {
                       done(std::move(r).err());
                       return;
                     }
                     uint64_t n = 0;
                     for (auto v : *r) {
                       n += v;
                     }
                     done(n);
                   },
                   sweep_atom_v);
}

result<bool> idem_client::erase(std::string key) {
  return wait_for<bool>([&](auto done) { erase_async(std::move(key), std::move(done)); });
}

result<uint64_t> idem_client::sweep() {
  return wait_for<uint64_t>([&](auto done) { sweep_async(std::move(done)); });
}

result<once_outcome> run_once(idem_client& client, const std::string& key,
                              const once_options& opts,
                              const std::function<result<std::string>()>& work) {
  auto begun = client.begin(key, opts.lease_ttl, opts.fingerprint);
  if (!begun) {
    return std::move(begun).err();
  }
  if (!begun->fresh) {
    return once_outcome{false, std::move(begun->rec)};
  }
  auto token = begun->rec.owner_token;
  auto outcome = [&] {
    // A lost lease shows in `complete`/`fail` (not_owner, lease_expired).
    std::optional<renewer> keeper;
    if (opts.keep_alive) {
      keeper.emplace(opts.lease_ttl / 3, [&] {
        return static_cast<bool>(client.touch(key, token, opts.lease_ttl));
      });
    }
    return work();
  }();
  constexpr size_t max_message = 512;
  auto stored = outcome
                  ? client.complete(key, token, std::move(*outcome), opts.retention)
                  : client.fail(key, token, std::string{to_string(outcome.code())},
                                outcome.err().message.substr(0, max_message),
                                opts.retention);
  if (!stored) {
    return std::move(stored).err();
  }
  return once_outcome{true, std::move(*stored)};
}

} // namespace shoal
