#include "actors/error_bridge.hpp"

#include <string>

#include <caf/error.hpp>
#include <caf/sec.hpp>
#include <gtest/gtest.h>

#include "actors/cluster/routing.hpp"

namespace shoal {
namespace {

// A forwarded write whose owner fell silent may still be applied: only a
// request that never left this node may be called unavailable.
TEST(forwarded_error, a_silent_owner_makes_a_write_maybe_committed_and_a_read_unavailable) {
  for (auto sec : {caf::sec::request_timeout, caf::sec::request_receiver_down,
                   caf::sec::no_route_to_receiving_node}) {
    auto e = caf::make_error(sec);
    auto w = forwarded_error(e, request_effect::write, "n2");
    EXPECT_EQ(w.code, errc::maybe_committed) << caf::to_string(e);
    EXPECT_NE(w.message.find("n2"), std::string::npos);
    auto r = forwarded_error(e, request_effect::read, "n2");
    EXPECT_EQ(r.code, errc::unavailable) << caf::to_string(e);
  }
}

TEST(forwarded_error, the_owners_own_answer_passes_through) {
  for (auto effect : {request_effect::read, request_effect::write}) {
    auto e = forwarded_error(to_caf_error(error{errc::conflict, "taken"}), effect, "n2");
    EXPECT_EQ(e.code, errc::conflict);
    EXPECT_EQ(e.message, "taken");
    // The owner saying it is unavailable (shutting down, say) is certain.
    e = forwarded_error(to_caf_error(error{errc::unavailable, "stopping"}), effect, "n2");
    EXPECT_EQ(e.code, errc::unavailable);
  }
}

static_assert(effect_of<get_atom, std::string> == request_effect::read);
static_assert(effect_of<read_atom, std::string, uint64_t> == request_effect::read);
static_assert(effect_of<history_atom, std::string> == request_effect::read);
static_assert(effect_of<put_atom, kv::put_cmd> == request_effect::write);
static_assert(effect_of<append_atom> == request_effect::write);
static_assert(effect_of<merge_atom> == request_effect::write);
static_assert(effect_of<bind_atom, uint64_t> == request_effect::write);
static_assert(effect_of<> == request_effect::write);

} // namespace
} // namespace shoal
