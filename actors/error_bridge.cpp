#include "actors/error_bridge.hpp"

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "actors/type_ids.hpp"

namespace shoal {

caf::error to_caf_error(const error& e) {
  if (e.current) {
    return caf::make_error(e.code, e.message, *e.current);
  }
  return caf::make_error(e.code, e.message);
}

error from_caf_error(const caf::error& e) {
  if (e.category() == caf::atom("shoal")) {
    error out{static_cast<errc>(e.code())};
    const auto& ctx = e.context();
    if (ctx.match_elements<std::string>()) {
      out.message = ctx.get_as<std::string>(0);
    } else if (ctx.match_elements<std::string, uint64_t>()) {
      out.message = ctx.get_as<std::string>(0);
      out.current = ctx.get_as<uint64_t>(1);
    }
    return out;
  }
  if (e.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(e.code())) {
      case caf::sec::request_timeout:
        return error{errc::timeout, "request timed out"};
      case caf::sec::request_receiver_down:
      case caf::sec::cannot_connect_to_node:
      case caf::sec::remote_linking_failed:
      case caf::sec::no_route_to_receiving_node:
        return error{errc::unavailable, caf::to_string(e)};
      default:
        break;
    }
  }
  return error{errc::internal, caf::to_string(e)};
}

error forwarded_error(const caf::error& e, request_effect effect,
                      std::string_view owner) {
  if (e.category() == caf::atom("shoal")) {
    return from_caf_error(e);
  }
  auto timed_out = e.category() == caf::atom("system")
                   && static_cast<caf::sec>(e.code()) == caf::sec::request_timeout;
  auto what = timed_out ? " did not answer in time" : " was lost before it answered";
  if (effect == request_effect::read) {
    return error{errc::unavailable, std::string{owner} + what};
  }
  return error{errc::maybe_committed,
               std::string{owner} + what
                 + "; the write may have been applied: read before retrying it"};
}

} // namespace shoal
