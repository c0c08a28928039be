#pragma once

// A real redis-server for tests, and a plain hiredis connection to look at
// what was written. Link hiredis where this is included.

#include <csignal>
#include <optional>
#include <string>

#include <hiredis/hiredis.h>

#include "tests/support/process.hpp"

namespace shoal::test {

// A redis-server on `port`, in memory only, stopped with the object.
class redis_server {
public:
  redis_server(const std::string& binary, uint16_t port, const std::string& dir)
    : proc_(binary,
            {"--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", dir}) {
    ready_ = proc_
               .wait_for_line(
                 [](const std::string& l) {
                   return l.find("Ready to accept connections") != std::string::npos;
                 },
                 std::chrono::seconds{10})
               .has_value();
  }

  bool ready() const {
    return ready_;
  }

  void kill() {
    proc_.signal(SIGKILL);
    proc_.wait(std::chrono::seconds{5});
  }

private:
  child_process proc_;
  bool ready_ = false;
};

// A plain hiredis connection for looking at what the mirror wrote.
class redis_peek {
public:
  explicit redis_peek(uint16_t port) : c_(redisConnect("127.0.0.1", port)) {
  }
  ~redis_peek() {
    if (c_ != nullptr) {
      redisFree(c_);
    }
  }

  // GET key (nullopt: missing); PTTL into `ttl_ms` if given.
  std::optional<std::string> get(const std::string& key, long long* ttl_ms = nullptr) {
    auto* r = static_cast<redisReply*>(redisCommand(c_, "GET %s", key.c_str()));
    std::optional<std::string> out;
    if (r != nullptr && r->type == REDIS_REPLY_STRING) {
      out = std::string{r->str, r->len};
    }
    freeReplyObject(r);
    if (ttl_ms != nullptr) {
      auto* t = static_cast<redisReply*>(redisCommand(c_, "PTTL %s", key.c_str()));
      *ttl_ms = t != nullptr && t->type == REDIS_REPLY_INTEGER ? t->integer : -3;
      freeReplyObject(t);
    }
    return out;
  }

  void command(const char* cmd) {
    freeReplyObject(redisCommand(c_, cmd));
  }

private:
  redisContext* c_;
};

} // namespace shoal::test
