#include "net/redis/redis_mirror.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <variant>

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include "actors/ask.hpp"
#include "net/http/agg_json.hpp"

namespace shoal::cache {

namespace {

constexpr uint32_t scan_page = 1000;

struct reply_deleter {
  void operator()(redisReply* r) const {
    freeReplyObject(r);
  }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

struct context_deleter {
  void operator()(redisContext* c) const {
    redisFree(c);
  }
};
using context_ptr = std::unique_ptr<redisContext, context_deleter>;

std::string value_text(const agg::value& v) {
  return http::to_text(http::value_json(v));
}

// Jobs for the mirror's thread.
struct cells_job {
  std::vector<agg::cell_snapshot> cells;
};
struct drop_job {
  std::string name;
};
struct repopulate_job {
  std::function<void(result<uint64_t>)> done;
};
struct check_job {
  std::function<void(result<mirror_report>)> done;
};
// One page of a rebuild's scan, queued by the shard that read it: behind
// every update that shard queued before, ahead of every later one.
struct page_job {
  uint16_t shard = 0;
  result<std::vector<agg::cell_snapshot>> cells;
};
using job = std::variant<cells_job, drop_job, repopulate_job, check_job, page_job>;

} // namespace

struct redis_mirror::core : cell_mirror, std::enable_shared_from_this<redis_mirror::core> {
  core(node& n, redis_mirror_config c) : node_(n), cfg(std::move(c)) {
    auto& m = n.metrics();
    written = &m.add_counter("shoal_cache_redis_writes_total",
                             "Cells written to the Redis mirror.");
    dropped_updates = &m.add_counter(
      "shoal_cache_redis_dropped_total",
      "Cell updates dropped (server unreachable or queue full; repopulated later).");
    errors = &m.add_counter("shoal_cache_redis_errors_total",
                            "Failed Redis connections and commands.");
    repopulations = &m.add_counter("shoal_cache_redis_repopulations_total",
                                   "Times the Redis mirror was rebuilt from shoal.");
    connected_gauge = &m.add_gauge("shoal_cache_redis_connected",
                                   "1 while the Redis mirror is connected.");
  }

  // -- cell_mirror (shard threads) ------------------------------------------------

  void updated(std::vector<agg::cell_snapshot> cells) override {
    std::lock_guard guard{mtx};
    if (queued_cells + cells.size() > cfg.max_queue) {
      dropped_updates->inc(cells.size());
      stale = true;
      return;
    }
    queued_cells += cells.size();
    jobs.emplace_back(cells_job{std::move(cells)});
    cv.notify_one();
  }

  void dropped(const std::string& name) override {
    push(drop_job{name});
  }

  void rebuild(std::function<void(result<uint64_t>)> done) override {
    push(repopulate_job{std::move(done)});
  }

  void compare(std::function<void(result<mirror_report>)> done) override {
    push(check_job{std::move(done)});
  }

  void push(job j) {
    std::unique_lock lock{mtx};
    if (stopping) {
      lock.unlock();
      error e{errc::shutting_down, "the Redis mirror stopped"};
      if (auto* r = std::get_if<repopulate_job>(&j)) {
        r->done(e);
      } else if (auto* c = std::get_if<check_job>(&j)) {
        c->done(e);
      }
      return;
    }
    jobs.push_back(std::move(j));
    cv.notify_one();
  }

  // -- the mirror's thread -------------------------------------------------------

  void run() {
    std::unique_lock lock{mtx};
    while (!stopping) {
      if (!ctx) {
        lock.unlock();
        auto up = connect();
        lock.lock();
        if (!up) {
          fail_requests(lock);
          cv.wait_for(lock, cfg.retry, [this] { return stopping; });
          continue;
        }
        // The server may have restarted empty, or missed updates: rebuild.
        stale = true;
      }
      if (stale && !rebuilding) {
        stale = false;
        lock.unlock();
        start_rebuild({});
        lock.lock();
        continue;
      }
      if (jobs.empty()) {
        cv.wait(lock,
                [this] { return stopping || !jobs.empty() || (stale && !rebuilding); });
        continue;
      }
      auto j = std::move(jobs.front());
      jobs.pop_front();
      if (auto* c = std::get_if<cells_job>(&j)) {
        queued_cells -= c->cells.size();
      }
      lock.unlock();
      handle(std::move(j));
      lock.lock();
    }
    fail_requests(lock);
    lock.unlock();
    if (rebuilding) {
      finish_rebuild(error{errc::shutting_down, "the Redis mirror stopped"});
    }
    lock.lock();
  }

  // Answers waiting requests with `unavailable` (no server, or stopping).
  void fail_requests(std::unique_lock<std::mutex>& lock) {
    std::vector<job> failed;
    for (auto it = jobs.begin(); it != jobs.end();) {
      if (std::holds_alternative<repopulate_job>(*it)
          || std::holds_alternative<check_job>(*it)) {
        failed.push_back(std::move(*it));
        it = jobs.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    error e{errc::unavailable, "the Redis mirror cannot reach " + cfg.address};
    for (auto& j : failed) {
      if (auto* r = std::get_if<repopulate_job>(&j)) {
        r->done(e);
      } else if (auto* c = std::get_if<check_job>(&j)) {
        c->done(e);
      }
    }
    lock.lock();
  }

  bool connect() {
    auto hp = parse_host_port(cfg.address);
    if (!hp) {
      return false;
    }
    timeval tv{1, 0};
    context_ptr c{redisConnectWithTimeout(hp->first.c_str(), hp->second, tv)};
    if (!c || c->err != 0) {
      if (!was_down) {
        spdlog::warn("redis mirror: cannot connect to {}: {}", cfg.address,
                     c ? c->errstr : "out of memory");
        was_down = true;
      }
      errors->inc();
      return false;
    }
    redisSetTimeout(c.get(), timeval{5, 0});
    ctx = std::move(c);
    was_down = false;
    connected_gauge->set(1);
    spdlog::info("redis mirror: connected to {}", cfg.address);
    return true;
  }

  void disconnect(const char* what) {
    spdlog::warn("redis mirror: {} failed: {}", what, ctx ? ctx->errstr : "");
    errors->inc();
    ctx.reset();
    connected_gauge->set(0);
  }

  // Reads the replies of `n` pipelined commands; false (disconnected) on
  // a connection error. Error replies are counted, not fatal.
  bool replies(size_t n, std::vector<reply_ptr>* out = nullptr) {
    for (size_t i = 0; i < n; ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx.get(), &raw) != REDIS_OK) {
        disconnect("reading a reply");
        return false;
      }
      reply_ptr r{static_cast<redisReply*>(raw)};
      if (r->type == REDIS_REPLY_ERROR) {
        errors->inc();
      }
      if (out != nullptr) {
        out->push_back(std::move(r));
      }
    }
    return true;
  }

  std::string key_of(const agg::cell_snapshot& c) const {
    return cfg.prefix + c.name + ":" + c.entity + ":" + std::to_string(c.bucket);
  }

  void append_set(const agg::cell_snapshot& c) {
    auto key = key_of(c);
    auto text = value_text(c.v);
    if (c.expires_at == time_point::max()) {
      redisAppendCommand(ctx.get(), "SET %b %b", key.data(), key.size(), text.data(),
                         text.size());
    } else {
      auto ms = static_cast<long long>(to_unix_nanos(c.expires_at) / 1'000'000);
      redisAppendCommand(ctx.get(), "SET %b %b PXAT %lld", key.data(), key.size(),
                         text.data(), text.size(), ms);
    }
  }

  bool write_cells(const std::vector<agg::cell_snapshot>& cells) {
    for (const auto& c : cells) {
      append_set(c);
    }
    if (!replies(cells.size())) {
      return false;
    }
    written->inc(cells.size());
    return true;
  }

  // Calls `fn` with every page of keys that start with `key_prefix` (a
  // SCAN array reply); `fn` returns false to stop with `unavailable`.
  result<void> scan_keys(const std::string& key_prefix,
                         const std::function<bool(const redisReply& keys)>& fn) {
    auto pattern = key_prefix + "*";
    std::string cursor = "0";
    do {
      reply_ptr r{static_cast<redisReply*>(redisCommand(
        ctx.get(), "SCAN %b MATCH %b COUNT 1000", cursor.data(), cursor.size(),
        pattern.data(), pattern.size()))};
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        disconnect("SCAN");
        return fail(errc::unavailable, "redis SCAN failed");
      }
      cursor.assign(r->element[0]->str, r->element[0]->len);
      if (!fn(*r->element[1])) {
        return fail(errc::unavailable, "the Redis mirror lost its server");
      }
    } while (cursor != "0");
    return {};
  }

  // Whose key `key` (under the prefix) is: its cell's shard is local
  // (`here`) or another member's, or it names no defined aggregate. The
  // aggregate name may hold `:`, so the first split that names a defined
  // aggregate wins.
  enum class key_owner : uint8_t { here, elsewhere, no_aggregate };

  key_owner owner_of_key(std::string_view key) const {
    auto& svc = node_.aggregates();
    auto rest = key.substr(cfg.prefix.size());
    auto last = rest.rfind(':');
    if (last == std::string_view::npos) {
      return key_owner::no_aggregate;
    }
    auto cell = rest.substr(0, last);
    for (auto colon = cell.find(':'); colon != std::string_view::npos;
         colon = cell.find(':', colon + 1)) {
      auto name = cell.substr(0, colon);
      if (svc.find(name)) {
        return svc.is_local(svc.shard_of(name, cell.substr(colon + 1)))
                 ? key_owner::here
                 : key_owner::elsewhere;
      }
    }
    return key_owner::no_aggregate;
  }

  // True if `key` is this node's to rebuild and count. A key of no defined
  // aggregate is the catalog keeper's.
  bool owns(std::string_view key) const {
    auto o = owner_of_key(key);
    return o == key_owner::here
           || (o == key_owner::no_aggregate && node_.aggregates().keeps_catalog());
  }

  // A key left by a dropped aggregate (deleted by the catalog's keeper).
  bool orphaned(std::string_view key) const {
    return owner_of_key(key) == key_owner::no_aggregate
           && node_.aggregates().keeps_catalog();
  }

  // Deletes every key that starts with `key_prefix` and passes `mine`.
  result<void> delete_prefix(const std::string& key_prefix,
                             bool (core::*mine)(std::string_view) const) {
    return scan_keys(key_prefix, [this, mine](const redisReply& keys) {
      size_t sent = 0;
      for (size_t i = 0; i < keys.elements; ++i) {
        std::string_view key{keys.element[i]->str, keys.element[i]->len};
        if ((this->*mine)(key)) {
          redisAppendCommand(ctx.get(), "UNLINK %b", key.data(), key.size());
          ++sent;
        }
      }
      return replies(sent);
    });
  }

  // Starts rebuilding the mirror (or joins the rebuild under way): deletes
  // the keys under the prefix, then writes every live cell, shard by shard,
  // page by page, each page in queue order with the updates.
  void start_rebuild(std::function<void(result<uint64_t>)> done) {
    if (done) {
      rebuild_waiters.push_back(std::move(done));
    }
    if (rebuilding) {
      return;
    }
    rebuilding = true;
    rebuilt = 0;
    if (auto gone = delete_prefix(cfg.prefix, &core::owns); !gone) {
      finish_rebuild(std::move(gone).err());
      return;
    }
    if (auto first = next_local_shard(0)) {
      request_page(*first, std::nullopt);
    } else {
      finish_rebuild(uint64_t{0});
    }
  }

  // The first shard from `from` on that this node owns.
  std::optional<uint16_t> next_local_shard(size_t from) const {
    auto& svc = node_.aggregates();
    for (auto s = from; s < svc.shards().size(); ++s) {
      if (svc.is_local(static_cast<uint16_t>(s))) {
        return static_cast<uint16_t>(s);
      }
    }
    return std::nullopt;
  }

  void request_page(uint16_t shard, std::optional<agg::cell_snapshot> after) {
    node_.aggregates().scan(
      shard, std::move(after), scan_page,
      [self = shared_from_this(), shard](result<std::vector<agg::cell_snapshot>> r) {
        self->push(page_job{shard, std::move(r)});
      });
  }

  void on_page(page_job& p) {
    if (!rebuilding) {
      return;
    }
    if (!p.cells) {
      finish_rebuild(std::move(p.cells).err());
      return;
    }
    if (!ctx || !write_cells(*p.cells)) {
      finish_rebuild(error{errc::unavailable, "the Redis mirror lost its server"});
      return;
    }
    rebuilt += p.cells->size();
    if (p.cells->size() == scan_page) {
      request_page(p.shard, p.cells->back());
    } else if (auto next = next_local_shard(p.shard + 1)) {
      request_page(*next, std::nullopt);
    } else {
      repopulations->inc();
      spdlog::info("redis mirror: repopulated {} cells", rebuilt);
      finish_rebuild(rebuilt);
    }
  }

  void finish_rebuild(result<uint64_t> r) {
    rebuilding = false;
    if (!r) {
      // Try again once the server (or the shard) is back.
      std::lock_guard guard{mtx};
      stale = true;
    }
    for (auto& w : std::exchange(rebuild_waiters, {})) {
      w(r);
    }
  }

  // Calls `page_fn` with every live cell, shard by shard, page by page.
  result<void>
  each_page(const std::function<bool(const std::vector<agg::cell_snapshot>&)>& page_fn) {
    auto& svc = node_.aggregates();
    for (uint16_t s = 0; s < svc.shards().size(); ++s) {
      if (!svc.is_local(s)) {
        continue;
      }
      std::optional<agg::cell_snapshot> after;
      for (;;) {
        auto page = wait_for<std::vector<agg::cell_snapshot>>(
          [&](auto done) { svc.scan(s, after, scan_page, std::move(done)); });
        if (!page) {
          return std::move(page).err();
        }
        if (!page->empty() && !page_fn(*page)) {
          return fail(errc::unavailable, "the Redis mirror lost its server");
        }
        if (page->size() < scan_page) {
          break;
        }
        after = page->back();
      }
    }
    return {};
  }

  result<mirror_report> compare() {
    mirror_report rep;
    auto ok = each_page([&](const std::vector<agg::cell_snapshot>& page) {
      for (const auto& c : page) {
        auto key = key_of(c);
        redisAppendCommand(ctx.get(), "GET %b", key.data(), key.size());
      }
      std::vector<reply_ptr> got;
      if (!replies(page.size(), &got)) {
        return false;
      }
      for (size_t i = 0; i < page.size(); ++i) {
        ++rep.cells;
        if (got[i]->type != REDIS_REPLY_STRING) {
          ++rep.missing;
        } else if (std::string_view{got[i]->str, got[i]->len} == value_text(page[i].v)) {
          ++rep.matching;
        } else {
          ++rep.different;
        }
      }
      return true;
    });
    if (!ok) {
      return std::move(ok).err();
    }
    auto counted = scan_keys(cfg.prefix, [this, &rep](const redisReply& keys) {
      for (size_t i = 0; i < keys.elements; ++i) {
        if (owns({keys.element[i]->str, keys.element[i]->len})) {
          ++rep.redis_keys;
        }
      }
      return true;
    });
    if (!counted) {
      return std::move(counted).err();
    }
    return rep;
  }

  void handle(job j) {
    if (auto* c = std::get_if<cells_job>(&j)) {
      if (!ctx || !write_cells(c->cells)) {
        dropped_updates->inc(c->cells.size());
        std::lock_guard guard{mtx};
        stale = true;
      }
    } else if (auto* d = std::get_if<drop_job>(&j)) {
      // Only keys of no defined aggregate: with `:` in names, `a:` is
      // also the start of the keys of an aggregate `a:b`.
      if (!ctx || !delete_prefix(cfg.prefix + d->name + ":", &core::orphaned)) {
        std::lock_guard guard{mtx};
        stale = true;
      }
    } else if (auto* r = std::get_if<repopulate_job>(&j)) {
      if (ctx) {
        start_rebuild(std::move(r->done));
      } else {
        r->done(fail(errc::unavailable, "no Redis"));
      }
    } else if (auto* p = std::get_if<page_job>(&j)) {
      on_page(*p);
    } else if (auto* k = std::get_if<check_job>(&j)) {
      k->done(ctx ? compare() : result<mirror_report>{fail(errc::unavailable, "no Redis")});
    }
  }

  node& node_;
  redis_mirror_config cfg;
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<job> jobs;
  size_t queued_cells = 0;
  bool stale = false;
  bool stopping = false;
  // Rebuild state: touched on the mirror's thread only.
  bool rebuilding = false;
  uint64_t rebuilt = 0;
  std::vector<std::function<void(result<uint64_t>)>> rebuild_waiters;
  bool was_down = false;
  context_ptr ctx;
  std::thread thread;
  metrics::counter* written = nullptr;
  metrics::counter* dropped_updates = nullptr;
  metrics::counter* errors = nullptr;
  metrics::counter* repopulations = nullptr;
  metrics::gauge* connected_gauge = nullptr;
};

redis_mirror::redis_mirror(node& n, redis_mirror_config cfg)
  : node_(n), core_(std::make_shared<core>(n, std::move(cfg))) {
}

redis_mirror::~redis_mirror() {
  stop();
}

result<void> redis_mirror::start() {
  if (auto hp = parse_host_port(core_->cfg.address); !hp) {
    return std::move(hp).err();
  }
  node_.aggregates().set_mirror(core_);
  core_->thread = std::thread{[c = core_] { c->run(); }};
  return {};
}

void redis_mirror::stop() {
  if (!core_->thread.joinable()) {
    return;
  }
  node_.aggregates().set_mirror(nullptr);
  {
    std::lock_guard guard{core_->mtx};
    core_->stopping = true;
    core_->cv.notify_all();
  }
  core_->thread.join();
}

std::function<std::unique_ptr<node_service>(node&)>
redis_mirror_service(redis_mirror_config cfg) {
  return [cfg](node& n) -> std::unique_ptr<node_service> {
    if (cfg.address.empty()) {
      return nullptr;
    }
    return std::make_unique<redis_mirror>(n, cfg);
  };
}

} // namespace shoal::cache
