#pragma once

// Every message type and atom shoal sends between actors, in one type-ID
// block. Every node registers the same block, so remote nodes agree on
// type names. Keep this header light: it is included by every actor TU.

#include <caf/error.hpp>
#include <caf/type_id.hpp>

#include "actors/node_info.hpp"
#include "runtime/errc.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(shoal, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(shoal, (shoal::node_info))

  CAF_ADD_ATOM(shoal, shoal, info_atom, "info")
  CAF_ADD_ATOM(shoal, shoal, tick_atom, "tick")
  CAF_ADD_ATOM(shoal, shoal, ping_atom, "ping")

CAF_END_TYPE_ID_BLOCK(shoal)

CAF_ERROR_CODE_ENUM(shoal::errc, "shoal")
