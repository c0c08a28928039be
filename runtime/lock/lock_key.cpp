#include "runtime/lock/lock_key.hpp"

#include <algorithm>

#include "runtime/codec.hpp"

namespace shoal::lock {

namespace {

constexpr uint8_t format_v1 = 1;

} // namespace

error not_held(std::string_view key) {
  return error{errc::lock_not_held,
               "lock " + std::string{key} + " is not held with this token"};
}

lock_key::lock_key(std::string name, std::string record_key,
                   const lock_config& cfg)
  : name_(std::move(name)),
    record_key_(std::move(record_key)),
    lock_delay_(cfg.lock_delay),
    max_waiters_(cfg.max_waiters) {
}

lock_info lock_key::info(bool with_token) const {
  lock_info out;
  out.key = name_;
  out.held = held_;
  if (with_token) {
    out.owner_token = owner_token_;
  }
  out.fence = fence_;
  out.acquired = acquired_;
  out.expires_at = expires_at_;
  out.lease = lease_;
  out.waiters = static_cast<uint32_t>(waiters_.size());
  out.free_at = free_at_;
  return out;
}

void lock_key::grant_to(std::string token, duration ttl, uint64_t lease,
                        uint64_t fence, time_point now, effects& out) {
  held_ = true;
  owner_token_ = std::move(token);
  fence_ = fence;
  acquired_ = now;
  expires_at_ = lease != 0 ? no_deadline : now + ttl;
  lease_ = lease;
  write_record(out);
}

void lock_key::write_record(effects& out) const {
  std::string value;
  codec::writer w{value};
  w.u8(format_v1);
  w.bytes(owner_token_);
  w.varint(fence_);
  w.i64(to_unix_nanos(acquired_));
  w.i64(to_unix_nanos(expires_at_));
  w.varint(lease_);
  out.records.push_back(record::put(record_key_, std::move(value)));
}

void lock_key::end_hold(effects& out) {
  held_ = false;
  owner_token_.clear();
  lease_ = 0;
  out.records.push_back(record::erase(record_key_));
}

void lock_key::hand_over(time_point now, effects& out) {
  while (!held_ && !waiters_.empty() && free_at_ <= now) {
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    if (w.deadline <= now) {
      out.events.push_back(event{event::kind::timed_out, w.id, {}});
      continue;
    }
    grant_to(std::move(w.token), w.ttl, w.lease, w.fence, now, out);
    out.events.push_back(event{event::kind::granted, w.id, info(true)});
  }
}

result<acquire_result> lock_key::acquire(const acquire_cmd& cmd, time_point now,
                                         effects& out) {
  // An expired hold and waits past their deadline end first.
  tick(now, out);
  if (!held_ && waiters_.empty() && free_at_ <= now) {
    grant_to(cmd.new_token, cmd.ttl, cmd.lease, cmd.fence, now, out);
    return acquire_result{true, info(true)};
  }
  if (cmd.wait == duration::zero()) {
    auto until = held_ && lease_ != 0
                   ? "bound to lease " + std::to_string(lease_)
                   : format_rfc3339(held_ ? expires_at_ : free_at_);
    return fail(errc::lock_held,
                "lock " + name_ + (held_ ? " is held until " : " is free again at ")
                  + until
                  + (waiters_.empty()
                       ? std::string{}
                       : ", " + std::to_string(waiters_.size()) + " waiting"));
  }
  if (waiters_.size() >= max_waiters_) {
    return fail(errc::overloaded, "too many waiters on lock " + name_);
  }
  waiters_.push_back(waiter_entry{cmd.waiter, cmd.new_token, cmd.ttl,
                                  now + cmd.wait, cmd.lease, cmd.fence});
  return acquire_result{false, info(false)};
}

result<void> lock_key::check_live(std::string_view token, time_point now) const {
  if (!held_ || owner_token_ != token) {
    return not_held(name_);
  }
  if (expires_at_ <= now) {
    return fail(errc::lock_expired,
                "lock " + name_ + " expired at " + format_rfc3339(expires_at_));
  }
  return {};
}

result<lock_info> lock_key::refresh(std::string_view token, duration ttl,
                                    time_point now, effects& out) {
  if (auto ok = check_live(token, now); !ok) {
    return std::move(ok).err();
  }
  if (lease_ != 0) {
    return fail(errc::invalid_argument,
                "lock " + name_ + " is bound to lease " + std::to_string(lease_)
                  + "; keep the lease alive instead");
  }
  // Same holder, same fence, a later deadline.
  expires_at_ = now + ttl;
  write_record(out);
  return info(true);
}

result<uint64_t> lock_key::release(std::string_view token, time_point now,
                                   effects& out) {
  if (auto ok = check_live(token, now); !ok) {
    return std::move(ok).err();
  }
  auto fence = fence_;
  end_hold(out);
  // An unlock is not a vanished holder: no lock-delay.
  free_at_ = now;
  delay_pending_ = false;
  hand_over(now, out);
  return fence;
}

void lock_key::cancel(uint64_t waiter, time_point now, effects& out) {
  std::erase_if(waiters_, [waiter](const waiter_entry& w) { return w.id == waiter; });
  hand_over(now, out);
}

bool lock_key::release_lease(uint64_t lease, time_point now, effects& out) {
  if (lease == 0) {
    return false;
  }
  std::erase_if(waiters_, [&](const waiter_entry& w) {
    if (w.lease == lease) {
      out.events.push_back(event{event::kind::lease_lost, w.id, {}});
      return true;
    }
    return false;
  });
  auto ended = held_ && lease_ == lease;
  if (ended) {
    end_hold(out);
    free_at_ = now;
    delay_pending_ = false;
  }
  hand_over(now, out);
  return ended;
}

void lock_key::tick(time_point now, effects& out) {
  if (held_ && expires_at_ <= now) {
    lock_info gone;
    gone.key = name_;
    out.events.push_back(event{event::kind::expired, 0, std::move(gone)});
    auto ended = expires_at_;
    end_hold(out);
    // The holder vanished: nobody else before the lock-delay passed.
    free_at_ = ended + lock_delay_;
    delay_pending_ = free_at_ > now;
  } else if (delay_pending_ && free_at_ <= now) {
    delay_pending_ = false;
  }
  // Waits past their deadline end, wherever they stand in line.
  std::erase_if(waiters_, [&](const waiter_entry& w) {
    if (w.deadline <= now) {
      out.events.push_back(event{event::kind::timed_out, w.id, {}});
      return true;
    }
    return false;
  });
  hand_over(now, out);
}

std::optional<time_point> lock_key::next_deadline() const {
  std::optional<time_point> next;
  auto consider = [&](time_point t) {
    if (!next || t < *next) {
      next = t;
    }
  };
  if (held_) {
    if (lease_ == 0) { // a lease-bound hold ends with its lease
      consider(expires_at_);
    }
  } else if (delay_pending_) {
    consider(free_at_);
  }
  for (const auto& w : waiters_) {
    consider(w.deadline);
  }
  return next;
}

lock_info lock_key::get(time_point now) const {
  auto out = info(false);
  if (out.held && out.expires_at <= now) {
    out.held = false;
  }
  return out;
}

bool lock_key::idle(time_point now) const {
  return !held_ && waiters_.empty() && free_at_ <= now;
}

void lock_key::leases(std::set<uint64_t>& out) const {
  if (held_ && lease_ != 0) {
    out.insert(lease_);
  }
  for (const auto& w : waiters_) {
    if (w.lease != 0) {
      out.insert(w.lease);
    }
  }
}

result<lock_key> lock_key::restore(std::string name, std::string record_key,
                                   const lock_config& cfg, std::string_view value) {
  lock_key out{std::move(name), std::move(record_key), cfg};
  codec::reader r{value};
  auto fmt = r.u8();
  out.held_ = true;
  out.owner_token_ = r.bytes();
  out.fence_ = r.varint();
  out.acquired_ = from_unix_nanos(r.i64());
  out.expires_at_ = from_unix_nanos(r.i64());
  out.lease_ = r.varint();
  if (fmt != format_v1 || !r.done()) {
    return fail(errc::storage_error, "corrupt lock holder record");
  }
  return out;
}

} // namespace shoal::lock
