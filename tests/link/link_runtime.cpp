#include "runtime/key.hpp"

int main() {
  return shoal::validate_key("a.b") ? 0 : 1;
}
