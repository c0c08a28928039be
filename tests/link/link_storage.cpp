#include "runtime/storage/engine.hpp"

int main() {
  auto e = shoal::storage::make_memory_engine();
  shoal::storage::write_batch b;
  b.put(shoal::storage::column::kv, "k", "v");
  return e->write(b, shoal::storage::durability::sync) ? 0 : 1;
}
