#include "net/http/target.hpp"

int main() {
  return shoal::http::parse_target("/healthz") ? 0 : 1;
}
