#pragma once

#include <map>
#include <string>

namespace shoal::test {

/// Applies a table's writes (`{key, optional value}`, nullopt: delete) to a
/// map, as a store would: restart tests rebuild a table from it.
template <class Writes>
void apply_writes(std::map<std::string, std::string>& store, const Writes& writes) {
  for (const auto& w : writes) {
    if (w.value) {
      store[w.key] = *w.value;
    } else {
      store.erase(w.key);
    }
  }
}

} // namespace shoal::test
