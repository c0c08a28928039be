#include "runtime/error.hpp"

namespace shoal {

std::string to_string(const error& e) {
  std::string out{to_string(e.code)};
  if (!e.message.empty()) {
    out += ": ";
    out += e.message;
  }
  return out;
}

} // namespace shoal
