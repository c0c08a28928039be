#pragma once

// A deterministic actor system for tests of actor shells (STYLE.md §6):
// CAF's test_coordinator runs queued messages only when the test asks, and
// timers fire only when it advances time. Messages sent from other threads
// (a committer's reports) are queued as they come; `run_until` waits for
// them with a deadline.

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/type_ids.hpp"

namespace shoal::test {

class actor_fixture {
public:
  actor_fixture()
    : sys_(configure(cfg_)),
      sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())) {
  }

  /// Kills every actor `keep` was given and runs until they are gone: a
  /// failed assertion must not leave `~actor_system` waiting (it would).
  ~actor_fixture() {
    for (auto& a : kept_) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    sched_.run();
  }

  actor_fixture(const actor_fixture&) = delete;
  actor_fixture& operator=(const actor_fixture&) = delete;

  caf::actor_system& system() {
    return sys_;
  }

  /// Registers `a` to be stopped with the fixture; returns it.
  template <class Handle>
  Handle keep(Handle a) {
    kept_.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }

  /// Runs every queued message (and what they queue).
  void run() {
    sched_.run();
  }

  /// Fires the timers due within `d` and runs what they queue.
  void advance(std::chrono::nanoseconds d) {
    sched_.advance_time(caf::timespan{d});
    sched_.run();
  }

  /// Runs queued messages until `done()` holds, waiting for messages from
  /// other threads; false if `timeout` passed first.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      sched_.run();
      if (done()) {
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      // A message from another thread is on its way: poll, with the
      // deadline above.
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }

private:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    cfg.add_message_types<caf::id_block::shoal>();
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.verbosity", caf::atom("quiet"));
    return cfg;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  std::vector<caf::actor> kept_;
};

} // namespace shoal::test
