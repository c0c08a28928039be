#include "net/http/router.hpp"

#include <gtest/gtest.h>

namespace shoal::http {
namespace {

handler noop() {
  return [](request&, respond_fn) {};
}

TEST(router, literal_capture_and_tail_routes) {
  router r;
  r.add(method::get, "/healthz", noop());
  r.add(method::get, "/v1/kv/{key...}", noop());
  r.add(method::put, "/v1/kv/{key...}", noop());
  r.add(method::get, "/v1/locks/{key}/holder", noop());
  r.add(method::get, "/v1/kv", noop());

  auto m = r.match(method::get, "/healthz");
  ASSERT_EQ(m.result, router::outcome::found);
  EXPECT_EQ(m.matched->pattern, "/healthz");

  m = r.match(method::get, "/v1/kv/a/b%2Fc.d");
  ASSERT_EQ(m.result, router::outcome::found);
  EXPECT_EQ(m.params["key"], "a/b/c.d");

  m = r.match(method::get, "/v1/kv");
  ASSERT_EQ(m.result, router::outcome::found);
  EXPECT_EQ(m.matched->pattern, "/v1/kv");

  m = r.match(method::get, "/v1/locks/x%20y/holder");
  ASSERT_EQ(m.result, router::outcome::found);
  EXPECT_EQ(m.params["key"], "x y");
}

TEST(router, unknown_path_is_not_found_and_wrong_method_lists_allowed) {
  router r;
  r.add(method::get, "/v1/kv/{key...}", noop());
  r.add(method::put, "/v1/kv/{key...}", noop());
  EXPECT_EQ(r.match(method::get, "/nope").result, router::outcome::not_found);
  EXPECT_EQ(r.match(method::get, "/v1/kv/").result,
            router::outcome::not_found);
  auto m = r.match(method::post, "/v1/kv/a");
  ASSERT_EQ(m.result, router::outcome::method_not_allowed);
  EXPECT_EQ(m.allowed, (std::vector<method>{method::get, method::put}));
}

TEST(router, head_is_served_by_get) {
  router r;
  r.add(method::get, "/healthz", noop());
  EXPECT_EQ(r.match(method::head, "/healthz").result, router::outcome::found);
}

TEST(router, single_capture_does_not_span_segments_or_match_empty) {
  router r;
  r.add(method::get, "/a/{x}", noop());
  EXPECT_EQ(r.match(method::get, "/a/b/c").result, router::outcome::not_found);
  EXPECT_EQ(r.match(method::get, "/a/").result, router::outcome::not_found);
  EXPECT_EQ(r.match(method::get, "/a/b").result, router::outcome::found);
}

TEST(router, literal_route_wins_over_capture) {
  router r;
  r.add(method::post, "/v1/idempotency/{key}", noop());
  r.add(method::post, "/v1/idempotency/sweep", noop());
  auto m = r.match(method::post, "/v1/idempotency/sweep");
  ASSERT_EQ(m.result, router::outcome::found);
  EXPECT_EQ(m.matched->pattern, "/v1/idempotency/sweep");
}

TEST(router, bad_patterns_are_start_up_errors) {
  router r;
  EXPECT_THROW(r.add(method::get, "nope", noop()), std::invalid_argument);
  EXPECT_THROW(r.add(method::get, "/{a...}/b", noop()), std::invalid_argument);
  r.add(method::get, "/x", noop());
  EXPECT_THROW(r.add(method::get, "/x", noop()), std::invalid_argument);
}

} // namespace
} // namespace shoal::http
