// A storage load generator for the crash test: writer threads commit
// batches through the group committer and print "ack <id>" once a batch is
// acknowledged. The test kills this process with SIGKILL mid-load.
//
// usage: crash_writer DIR SYNC_MODE THREADS

#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "runtime/storage/committer.hpp"
#include "runtime/storage/engine.hpp"

using namespace shoal;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_writer DIR SYNC_MODE THREADS\n");
    return 2;
  }
  auto mode = storage::parse_sync_mode(argv[2]);
  auto opened = storage::open_rocksdb_engine({argv[1]});
  if (!mode || !opened) {
    std::fprintf(stderr, "cannot start\n");
    return 1;
  }
  auto store = std::move(opened).value();
  storage::committer committer{*store, *mode};
  auto threads = std::atoi(argv[3]);
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        auto id = std::to_string(t) + "-" + std::to_string(i);
        // Three keys per batch: after the crash all three or none exist.
        storage::write_batch b;
        for (int part = 0; part < 3; ++part) {
          b.put(storage::column::kv, id + "/" + std::to_string(part),
                std::string(100, static_cast<char>('a' + part)));
        }
        std::promise<bool> acked;
        committer.submit(std::move(b),
                         [&](result<void> r) { acked.set_value(bool(r)); });
        if (!acked.get_future().get()) {
          std::_Exit(3);
        }
        auto line = "ack " + id + "\n";
        // One write(2) per line: lines from different threads never mix.
        if (::write(STDOUT_FILENO, line.data(), line.size()) < 0) {
          std::_Exit(4);
        }
      }
    });
  }
  for (auto& w : writers) {
    w.join();
  }
}
