#include "actors/reply_to.hpp"

#include <future>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

namespace shoal {
namespace {

TEST(reply_to, the_callback_gets_the_answer_or_unavailable_once) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto doubler = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int x, reply_to<int>& reply) { reply.fn(2 * x); }};
  });
  std::promise<result<int>> answered;
  call<int>(doubler, [&](result<int> r) { answered.set_value(std::move(r)); }, 21);
  auto r = answered.get_future().get();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);

  // An actor that is gone: the request is dropped and the callback says so.
  auto gone = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->quit();
    return {[](int, reply_to<int>&) {}};
  });
  {
    caf::scoped_actor waiter{sys};
    waiter->wait_for(gone);
  }
  std::promise<result<int>> dropped;
  call<int>(gone, [&](result<int> r) { dropped.set_value(std::move(r)); }, 1);
  auto d = dropped.get_future().get();
  EXPECT_EQ(d.code(), errc::unavailable);
  caf::anon_send_exit(doubler, caf::exit_reason::user_shutdown);
}

} // namespace
} // namespace shoal
