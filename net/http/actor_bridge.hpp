#pragma once

// The HTTP routes ask actors through shoal::ask and shoal::gather (see
// actors/ask.hpp); include only in route files.

#include "actors/ask.hpp"
#include "actors/reply_to.hpp"

namespace shoal::http {

using shoal::ask;
using shoal::call;
using shoal::default_ask_timeout;
using shoal::gather;

} // namespace shoal::http
