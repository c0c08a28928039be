// Kills a writer process with SIGKILL in the middle of a write load and
// proves that every batch it acknowledged is present, whole, after the
// database is reopened.

#include <csignal>
#include <map>
#include <set>
#include <string>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "runtime/storage/engine.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace shoal::storage {
namespace {

using namespace std::chrono_literals;

class storage_crash : public testing::TestWithParam<const char*> {};

TEST_P(storage_crash, every_acknowledged_batch_survives_sigkill) {
  test::temp_dir dir{"shoal-crash"};
  std::set<std::string> acked;
  for (int round = 0; round < 3; ++round) {
    test::child_process writer{SHOAL_CRASH_WRITER, {dir / "db", GetParam(), "8"}};
    ASSERT_TRUE(writer.wait_for_line([](auto& l) { return l == "ready"; }, 10s));
    // Let it acknowledge a good number of batches, then kill it mid-load.
    size_t seen = 0;
    auto line = writer.wait_for_line(
      [&](const std::string& l) {
        if (l.rfind("ack ", 0) == 0) {
          acked.insert(l.substr(4) + "#" + std::to_string(round));
        }
        return ++seen >= 400;
      },
      20s);
    ASSERT_TRUE(line) << "writer acknowledged too little";
    writer.signal(SIGKILL);
    auto status = writer.wait(10s);
    ASSERT_TRUE(status);
    ASSERT_TRUE(WIFSIGNALED(*status));
    for (auto& l : writer.drain_lines()) {
      if (l.rfind("ack ", 0) == 0) {
        acked.insert(l.substr(4) + "#" + std::to_string(round));
      }
    }

    // Reopen: every acknowledged id of this round must be there, and every
    // batch that is there at all must be whole.
    auto opened = open_rocksdb_engine({dir / "db"});
    ASSERT_TRUE(opened) << to_string(opened.err());
    auto store = std::move(opened).value();
    std::map<std::string, int> parts;
    ASSERT_TRUE(store->scan(column::kv, "", "",
                            [&](std::string_view k, std::string_view v) {
                              auto slash = k.rfind('/');
                              EXPECT_EQ(v.size(), 100u);
                              parts[std::string{k.substr(0, slash)}]++;
                              return true;
                            }));
    for (const auto& [id, n] : parts) {
      EXPECT_EQ(n, 3) << "torn batch " << id;
    }
    size_t checked = 0;
    for (const auto& entry : acked) {
      if (entry.ends_with("#" + std::to_string(round))) {
        auto id = entry.substr(0, entry.find('#'));
        // Later rounds restart ids at 0 and overwrite; the keys still exist.
        EXPECT_TRUE(parts.contains(id)) << "lost acknowledged batch " << id;
        ++checked;
      }
    }
    EXPECT_GE(checked, 400u);
    store->close();
  }
}

INSTANTIATE_TEST_SUITE_P(sync, storage_crash,
                         testing::Values("always", "batch"));

} // namespace
} // namespace shoal::storage
