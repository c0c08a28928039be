#include "runtime/storage/engine.hpp"

namespace shoal::storage {

std::string_view to_string(sync_mode m) {
  switch (m) {
    case sync_mode::always:
      return "always";
    case sync_mode::batch:
      return "batch";
    case sync_mode::none:
      return "none";
  }
  return "batch";
}

result<sync_mode> parse_sync_mode(std::string_view text) {
  if (text == "always") {
    return sync_mode::always;
  }
  if (text == "batch") {
    return sync_mode::batch;
  }
  if (text == "none") {
    return sync_mode::none;
  }
  return fail(errc::invalid_argument, "sync mode must be always, batch or none");
}

std::string prefix_successor(std::string_view prefix) {
  std::string out{prefix};
  while (!out.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(out.back());
    if (last != 0xff) {
      ++last;
      return out;
    }
    out.pop_back();
  }
  return out;
}

result<void> read_view::scan_prefix(column cf, std::string_view prefix,
                                    const scan_fn& fn, direction dir) const {
  auto end = prefix_successor(prefix);
  return scan(cf, prefix, end, fn, dir);
}

result<void> read_view::load_prefix(
  column cf, std::string_view prefix,
  const std::function<result<void>(std::string_view, std::string_view)>& fn)
  const {
  std::optional<error> bad;
  auto scanned = scan_prefix(cf, prefix,
                             [&](std::string_view k, std::string_view v) {
                               auto ok = fn(k, v);
                               if (!ok) {
                                 bad = std::move(ok).err();
                                 return false;
                               }
                               return true;
                             });
  if (!scanned) {
    return scanned;
  }
  if (bad) {
    return std::move(*bad);
  }
  return {};
}

} // namespace shoal::storage
