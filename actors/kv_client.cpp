#include "actors/kv_client.hpp"

#include <caf/send.hpp>

#include "actors/ask.hpp"
#include "actors/lease/live_lease.hpp"
#include "actors/reply_to.hpp"

namespace shoal {

namespace {

// Forwards watch deliveries to a callback.
class callback_sink final : public kv_watch_sink {
public:
  using fn = std::function<void(const kv::event&, const std::string&)>;

  explicit callback_sink(fn f) : f_(std::move(f)) {
  }

  bool on_value(const kv::entry& e) override {
    kv::event ev;
    ev.key = e.key;
    ev.op = kv::operation::put;
    ev.revision = e.revision;
    ev.value = e.value;
    ev.at = e.modified;
    f_(ev, {});
    return true;
  }
  bool on_synced(const std::string&) override {
    return true;
  }
  bool on_event(const kv::event& ev, const std::string& c) override {
    f_(ev, c);
    return true;
  }
  bool on_progress(const std::string&) override {
    return true;
  }
  void on_lagged(const std::string&) override {
  }
  void on_error(const error&, const std::string&) override {
  }

private:
  fn f_;
};

} // namespace

kv_client::kv_client(node& n, std::chrono::milliseconds timeout)
  : node_(n), timeout_(timeout) {
}

void kv_client::put_async(kv::put_cmd cmd,
                          std::function<void(result<kv::write_result>)> done) {
  // A put bound to a lease goes in only while the lease is alive.
  auto key = cmd.key;
  auto lease = cmd.lease;
  call_keyed_with_lease<kv::write_result>(
    node_.placement(), node_.bridge(), node_.leases(), lease, shard_kind::kv,
    node_.kv(), std::move(key), duration::zero(), std::move(done), put_atom_v,
    std::move(cmd));
}

void kv_client::erase_async(kv::delete_cmd cmd,
                            std::function<void(result<kv::write_result>)> done) {
  auto key = cmd.key;
  call_keyed<kv::write_result>(node_.placement(), node_.bridge(), shard_kind::kv,
                               node_.kv(), key, std::move(done), delete_atom_v,
                               std::move(cmd));
}

void kv_client::get_async(std::string key,
                          std::function<void(result<kv::entry>)> done) {
  auto routed = key;
  call_keyed<kv::entry>(node_.placement(), node_.bridge(), shard_kind::kv, node_.kv(),
                        routed, std::move(done), get_atom_v, std::move(key));
}

void kv_client::history_async(
  std::string key, uint32_t limit,
  std::function<void(result<std::vector<kv::version_record>>)> done) {
  auto& dir = node_.placement();
  auto shard = keyed_shard_actor(dir, shard_kind::kv, node_.kv(), key);
  if (!shard) {
    done(std::move(shard).err());
    return;
  }
  ask<std::vector<kv::version_record>>(node_.bridge(), *shard,
                                       std::min(timeout_, dir.forward_timeout()),
                                       std::move(done), history_atom_v, std::move(key),
                                       limit);
}

void kv_client::list_async(kv::list_query q,
                           std::function<void(result<kv::list_page>)> done) {
  auto pattern = key_pattern::parse(q.pattern);
  if (!pattern) {
    done(std::move(pattern).err());
    return;
  }
  // An exact key lives on one shard; every other pattern asks them all,
  // wherever they live (all or nothing).
  auto& dir = node_.placement();
  std::vector<kv_shard_actor> targets;
  if (pattern->type() == key_pattern::kind::exact) {
    auto one = keyed_shard_actor(dir, shard_kind::kv, node_.kv(), pattern->stem());
    if (!one) {
      done(std::move(one).err());
      return;
    }
    targets.push_back(*one);
  } else {
    auto all = all_shards(dir, shard_kind::kv, node_.kv().shards());
    if (!all) {
      done(std::move(all).err());
      return;
    }
    targets = std::move(*all);
  }
  auto limit = q.limit;
  gather<kv::list_page>(
    node_.bridge(), std::move(targets), std::min(timeout_, dir.forward_timeout()),
    [done = std::move(done), limit](result<std::vector<kv::list_page>> pages) {
      if (!pages) {
        done(std::move(pages).err());
        return;
      }
      done(kv::merge_pages(std::move(*pages), limit));
    },
    list_atom_v, std::move(q));
}

result<kv::write_result> kv_client::put(kv::put_cmd cmd) {
  return wait_for<kv::write_result>(
    [&](auto done) { put_async(std::move(cmd), std::move(done)); });
}

result<kv::write_result> kv_client::put(std::string key, std::string value,
                                        duration ttl) {
  kv::put_cmd cmd;
  cmd.key = std::move(key);
  cmd.value = std::move(value);
  cmd.ttl = ttl;
  return put(std::move(cmd));
}

result<kv::write_result> kv_client::erase(std::string key,
                                          uint64_t if_revision) {
  return wait_for<kv::write_result>([&](auto done) {
    erase_async(kv::delete_cmd{std::move(key), if_revision}, std::move(done));
  });
}

result<kv::entry> kv_client::get(std::string key) {
  return wait_for<kv::entry>(
    [&](auto done) { get_async(std::move(key), std::move(done)); });
}

result<kv::list_page> kv_client::list(std::string pattern, uint32_t limit) {
  kv::list_query q;
  q.pattern = std::move(pattern);
  q.limit = limit;
  return wait_for<kv::list_page>(
    [&](auto done) { list_async(std::move(q), std::move(done)); });
}

caf::actor kv_client::watch(
  kv_watch_options opts,
  std::function<void(const kv::event&, const std::string&)> on_event) {
  return spawn_kv_watch(node_.system(), node_.kv(), node_.placement(), std::move(opts),
                        std::make_shared<callback_sink>(std::move(on_event)));
}

watch_guard::~watch_guard() {
  if (watch_) {
    caf::anon_send_exit(watch_, caf::exit_reason::user_shutdown);
  }
}

} // namespace shoal
