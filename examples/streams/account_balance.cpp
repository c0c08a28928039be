// An account as an event stream: deposits and withdrawals are appended with
// optimistic concurrency, and the balance at any past sequence is rebuilt
// by `shoal::replay` from the newest checkpoint before it.

#include <cstdio>
#include <string>

#include "actors/node.hpp"
#include "actors/stream_client.hpp"

namespace {

// Events carry the signed amount in cents as their payload.
shoal::stream::event_data movement(const char* type, int64_t cents) {
  return {type, std::to_string(cents), "", "", shoal::stream::payload_format::json};
}

// The fold: pure, as replay requires.
int64_t apply(int64_t balance, const shoal::stream::event& e) {
  auto cents = std::stoll(e.payload);
  return e.type == "withdrawn" ? balance - cents : balance + cents;
}

const shoal::state_codec<int64_t> balance_codec{
  [](const int64_t& b) { return std::to_string(b); },
  [](std::string_view bytes) -> shoal::result<int64_t> {
    return std::stoll(std::string{bytes});
  }};

} // namespace

int main() {
  shoal::node_config cfg; // in memory, no HTTP: an embedded node
  cfg.http_address.clear();
  auto n = shoal::node::start(cfg);
  if (!n) {
    std::fprintf(stderr, "start: %s\n", shoal::to_string(n.err()).c_str());
    return 1;
  }
  shoal::stream_client accounts{**n};
  const std::string acct = "account.42";

  // Opening the account: only if it has no history yet.
  auto opened = accounts.append(acct, {movement("deposited", 10'000)},
                                {shoal::stream::expect::no_stream, 0});
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", shoal::to_string(opened.err()).c_str());
    return 1;
  }
  // A month of movements; each append states the seq it saw, so two
  // tellers cannot both spend the same balance.
  uint64_t last = opened->last_seq;
  for (int day = 1; day <= 30; ++day) {
    auto e = day % 3 == 0 ? movement("withdrawn", 2'500) : movement("deposited", 1'000);
    auto r = accounts.append(acct, {e}, shoal::stream::expectation::exactly(last));
    if (!r) {
      std::fprintf(stderr, "append: %s\n", shoal::to_string(r.err()).c_str());
      return 1;
    }
    last = r->last_seq;
  }
  // A stale writer is refused with the seq to retry from.
  auto stale = accounts.append(acct, {movement("withdrawn", 99'999)},
                               shoal::stream::expectation::exactly(5));
  std::printf("stale append: %s (stream at %llu)\n",
              shoal::to_string(stale.code()).data(),
              static_cast<unsigned long long>(stale.err().current.value_or(0)));

  // The balance now, saving a checkpoint every 10 events on the way.
  auto now = shoal::replay<int64_t>(accounts, acct, 0, 0, apply,
                                    {.checkpoint_every = 10}, &balance_codec);
  // And at past sequences: each starts from the newest checkpoint at or
  // before it and folds only the events after it.
  for (uint64_t at : {1, 12, 25}) {
    auto then = shoal::replay<int64_t>(accounts, acct, at, 0, apply, {},
                                       &balance_codec);
    if (!then) {
      std::fprintf(stderr, "replay: %s\n", shoal::to_string(then.err()).c_str());
      return 1;
    }
    std::printf("balance at seq %2llu: %7.2f (from checkpoint %llu, %llu events folded)\n",
                static_cast<unsigned long long>(at), then->state / 100.0,
                static_cast<unsigned long long>(then->from_checkpoint),
                static_cast<unsigned long long>(then->applied));
  }
  if (!now) {
    std::fprintf(stderr, "replay: %s\n", shoal::to_string(now.err()).c_str());
    return 1;
  }
  std::printf("balance now (seq %llu): %.2f\n",
              static_cast<unsigned long long>(now->seq), now->state / 100.0);
  (*n)->stop();
  return now->state == 10'000 + 20 * 1'000 - 10 * 2'500 ? 0 : 1;
}
