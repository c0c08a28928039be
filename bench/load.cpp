// shoal-load: an HTTP load driver. N keep-alive connections send requests
// built from method/path/body templates for a fixed duration, then it
// prints requests/s and latency percentiles (one JSON object with --json).
//
// Templates: {key} is a key from a key space of --keys keys ("k000042"),
// {n} its index, {entity} one of 1000 names ("e42", from n). Example:
//   shoal-load --url 127.0.0.1:7700 -c 64 -d 10s --method PUT
//              --path '/v1/kv/{key}' --body 'value-{n}'
//
// --unique gives every request a key never used before. --then-* adds a
// second request after each first one, with {token} replaced by the string
// field --extract of the first response; the pair is then what is counted
// and timed. Example (idempotency begin + complete pairs):
//   shoal-load -c 64 --unique --method POST --path '/v1/idempotency/{key}/begin'
//     --body '{}' --then-method POST --then-path '/v1/idempotency/{key}/complete'
//     --then-body '{"token":"{token}","result":"b2s="}'

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "actors/node.hpp"
#include "bench/plain_socket.hpp"
#include "runtime/time.hpp"

using steady = std::chrono::steady_clock;

namespace {

struct options {
  std::string url = "127.0.0.1:7700";
  size_t connections = 64;
  size_t threads = 2;
  std::string duration = "10s";
  std::string warmup = "1s";
  std::string method = "GET";
  std::string path = "/healthz";
  std::string body;
  std::string content_type = "application/octet-stream";
  size_t keys = 10000;
  std::string name = "load";
  bool json = false;
  bool unique = false;
  std::string then_method;
  std::string then_path;
  std::string then_body;
  std::string extract = "token";
};

void replace_all(std::string& text, const std::string& var,
                 const std::string& value) {
  for (auto p = text.find(var); p != std::string::npos;
       p = text.find(var, p + value.size())) {
    text.replace(p, var.size(), value);
  }
}

std::string substitute(std::string tpl, size_t n, size_t keylen,
                       const std::string& token = {}) {
  char key[64];
  std::snprintf(key, sizeof(key), "k%0*zu", static_cast<int>(keylen - 1), n);
  replace_all(tpl, "{key}", key);
  replace_all(tpl, "{n}", std::to_string(n));
  replace_all(tpl, "{entity}", "e" + std::to_string(n % 1000));
  replace_all(tpl, "{token}", token);
  return tpl;
}

// One HTTP/1.1 keep-alive request, serialized.
std::string make_request(const options& o, const std::string& method,
                         const std::string& path, const std::string& body,
                         size_t n, const std::string& token = {}) {
  std::string out = method;
  out += ' ';
  out += substitute(path, n, 8, token);
  out += " HTTP/1.1\r\nHost: ";
  out += o.url;
  out += "\r\n";
  auto b = substitute(body, n, 8, token);
  if (!b.empty()) {
    out += "Content-Type: ";
    out += o.content_type;
    out += "\r\n";
  }
  if (!b.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    out += "Content-Length: ";
    out += std::to_string(b.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += b;
  return out;
}

// The string value of "field":"..." in a JSON body (no escapes needed for
// tokens), or "".
std::string extract_field(std::string_view body, const std::string& field) {
  auto needle = "\"" + field + "\":\"";
  auto p = body.find(needle);
  if (p == std::string_view::npos) {
    return {};
  }
  p += needle.size();
  auto e = body.find('"', p);
  return e == std::string_view::npos ? std::string{}
                                     : std::string{body.substr(p, e - p)};
}

struct stats {
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
  uint64_t non2xx = 0;
};

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = line[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != name[i]) {
      return false;
    }
  }
  return true;
}

// A parsed response head: status, body length, whether the server closes.
struct response_head {
  int status = 0;
  size_t header_bytes = 0;
  size_t content_length = 0;
  bool close = false;
};

// Parses the head at the start of `in` once it is complete; nullopt while
// more bytes are needed; status 0 when it is malformed or not sized by
// Content-Length (the load driver does not read chunked bodies).
std::optional<response_head> parse_head(std::string_view in) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  response_head h;
  h.header_bytes = end + 4;
  if (in.size() < 12 || in.substr(0, 5) != "HTTP/") {
    return h;
  }
  h.status = std::atoi(std::string{in.substr(9, 3)}.c_str());
  bool sized = false;
  size_t pos = in.find("\r\n") + 2;
  while (pos < end) {
    auto eol = in.find("\r\n", pos);
    auto line = in.substr(pos, eol - pos);
    if (iequals_prefix(line, "content-length:")) {
      h.content_length = std::strtoull(std::string{line.substr(15)}.c_str(),
                                       nullptr, 10);
      sized = true;
    } else if (iequals_prefix(line, "connection:")) {
      h.close = line.find("close") != std::string_view::npos;
    }
    pos = eol + 2;
  }
  if (!sized && h.status != 204 && h.status != 304) {
    h.status = 0;
  }
  return h;
}

// One keep-alive connection sending requests back to back; driven by its
// thread's epoll loop (plain sockets: the driver shares the machine with
// the server and should cost it as little as possible).
class connection {
public:
  connection(int fd, const options& o, const std::vector<std::string>& reqs,
             size_t id, steady::time_point record_from,
             steady::time_point until, stats& st)
    : fd_(fd), o_(o), reqs_(reqs), id_(id), next_(id * 7919),
      record_from_(record_from), until_(until), st_(st) {
    in_.reserve(4096);
  }

  ~connection() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  int fd() const {
    return fd_;
  }

  bool done() const {
    return done_;
  }

  bool wants_write() const {
    return out_off_ < out_.size();
  }

  /// Sends the next request, or finishes once the run is over.
  void send() {
    auto now = steady::now();
    if (now >= until_) {
      finish();
      return;
    }
    sent_ = now;
    if (o_.unique) {
      current_n_ = id_ + unique_count_++ * 1'000'000;
      out_ = make_request(o_, o_.method, o_.path, o_.body, current_n_);
    } else {
      current_n_ = next_ % reqs_.size();
      out_ = reqs_[next_++ % reqs_.size()];
    }
    out_off_ = 0;
    flush();
  }

  /// Writes what is pending; false on a broken connection.
  void flush() {
    while (out_off_ < out_.size()) {
      auto n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_,
                      MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return; // the loop waits for EPOLLOUT
        }
        fail();
        return;
      }
      out_off_ += static_cast<size_t>(n);
    }
  }

  /// Reads what arrived and handles a complete response.
  void on_readable() {
    char buf[16384];
    for (;;) {
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof(buf)) {
          break;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      }
      fail(); // closed by the server, or an error
      return;
    }
    auto head = parse_head(in_);
    if (!head) {
      return;
    }
    if (head->status == 0) {
      fail();
      return;
    }
    auto total = head->header_bytes + head->content_length;
    if (in_.size() < total) {
      return;
    }
    std::string_view body{in_.data() + head->header_bytes, head->content_length};
    on_response(*head, body); // consumes the response from in_
  }

private:
  void on_response(const response_head& head, std::string_view body) {
    if (!o_.then_method.empty() && !second_) {
      // The first of a pair: send the second with the extracted field.
      if (head.status < 200 || head.status >= 300 || head.close) {
        st_.non2xx++;
        if (head.close) {
          fail();
          return;
        }
        in_.clear();
        send();
        return;
      }
      second_ = true;
      out_ = make_request(o_, o_.then_method, o_.then_path, o_.then_body,
                          current_n_, extract_field(body, o_.extract));
      out_off_ = 0;
      in_.clear();
      flush();
      return;
    }
    second_ = false;
    auto now = steady::now();
    if (now >= record_from_) {
      st_.latencies_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - sent_)
          .count()));
      if (head.status < 200 || head.status >= 300) {
        st_.non2xx++;
      }
    }
    if (head.close) {
      fail();
      return;
    }
    in_.erase(0, head.header_bytes + head.content_length);
    send();
  }

  void fail() {
    st_.errors++;
    finish();
  }

  void finish() {
    done_ = true;
    out_.clear();
    out_off_ = 0;
    ::shutdown(fd_, SHUT_RDWR);
  }

  int fd_;
  const options& o_;
  const std::vector<std::string>& reqs_;
  size_t id_;
  size_t next_;
  size_t unique_count_ = 0;
  size_t current_n_ = 0;
  bool second_ = false;
  bool done_ = false;
  steady::time_point record_from_;
  steady::time_point until_;
  stats& st_;
  steady::time_point sent_;
  std::string out_;
  size_t out_off_ = 0;
  std::string in_;
};

// Runs `conns` to the end of the run on one epoll instance.
void run_loop(std::vector<std::unique_ptr<connection>>& conns) {
  int ep = ::epoll_create1(0);
  auto watch = [&](connection& c, int op) {
    epoll_event ev{};
    ev.events = EPOLLIN | (c.wants_write() ? EPOLLOUT : 0u);
    ev.data.ptr = &c;
    ::epoll_ctl(ep, op, c.fd(), &ev);
  };
  size_t active = 0;
  for (auto& c : conns) {
    c->send();
    if (!c->done()) {
      watch(*c, EPOLL_CTL_ADD);
      ++active;
    }
  }
  std::vector<epoll_event> events(conns.size() + 1);
  while (active > 0) {
    auto n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()),
                          1000);
    for (int i = 0; i < n; ++i) {
      auto& c = *static_cast<connection*>(events[i].data.ptr);
      if (c.done()) {
        continue;
      }
      bool had_output = c.wants_write();
      if ((events[i].events & EPOLLOUT) != 0) {
        c.flush();
      }
      if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        c.on_readable();
      }
      if (c.done()) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd(), nullptr);
        --active;
      } else if (had_output != c.wants_write()) {
        watch(c, EPOLL_CTL_MOD);
      }
    }
  }
  ::close(ep);
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  auto idx = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[idx];
}

} // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"shoal-load — HTTP load driver"};
  app.add_option("--url", o.url, "host:port")->capture_default_str();
  app.add_option("-c,--connections", o.connections)->capture_default_str();
  app.add_option("-t,--threads", o.threads)->capture_default_str();
  app.add_option("-d,--duration", o.duration)->capture_default_str();
  app.add_option("--warmup", o.warmup, "not measured")->capture_default_str();
  app.add_option("--method", o.method)->capture_default_str();
  app.add_option("--path", o.path, "template with {key} and {n}")
    ->capture_default_str();
  app.add_option("--body", o.body, "template with {key} and {n}");
  app.add_option("--content-type", o.content_type)->capture_default_str();
  app.add_option("--keys", o.keys, "key space size")->capture_default_str();
  app.add_option("--name", o.name, "label in the output")->capture_default_str();
  app.add_flag("--json", o.json, "print one JSON object");
  app.add_flag("--unique", o.unique, "a new key for every request");
  app.add_option("--then-method", o.then_method, "second request of a pair");
  app.add_option("--then-path", o.then_path, "template, also with {token}");
  app.add_option("--then-body", o.then_body, "template, also with {token}");
  app.add_option("--extract", o.extract,
                 "string field of the first response that becomes {token}")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto hp = shoal::parse_host_port(o.url);
  auto duration = shoal::parse_duration(o.duration);
  auto warmup = shoal::parse_duration(o.warmup);
  if (!hp || !duration || !warmup || o.connections == 0 || o.keys == 0) {
    std::fprintf(stderr, "shoal-load: invalid arguments\n");
    return 2;
  }
  std::vector<std::string> reqs;
  for (size_t i = 0; i < o.keys; ++i) {
    reqs.push_back(make_request(o, o.method, o.path, o.body, i));
  }
  auto addr = shoal::bench::resolve(hp->first, hp->second);
  if (!addr) {
    std::fprintf(stderr, "shoal-load: cannot resolve %s\n", o.url.c_str());
    return 2;
  }
  auto threads = std::max<size_t>(1, std::min(o.threads, o.connections));
  std::vector<stats> per_thread(threads);
  std::vector<std::vector<std::unique_ptr<connection>>> groups(threads);
  auto start = steady::now();
  auto record_from = start + *warmup;
  auto until = record_from + *duration;
  for (size_t c = 0; c < o.connections; ++c) {
    auto t = c % threads;
    int fd = shoal::bench::dial(*addr, true);
    if (fd < 0) {
      per_thread[t].errors++;
      continue;
    }
    groups[t].push_back(std::make_unique<connection>(
      fd, o, reqs, c, record_from, until, per_thread[t]));
  }
  std::vector<std::thread> runners;
  for (size_t t = 0; t < threads; ++t) {
    runners.emplace_back([&group = groups[t]] { run_loop(group); });
  }
  for (auto& r : runners) {
    r.join();
  }
  std::vector<uint32_t> all;
  uint64_t errors = 0;
  uint64_t non2xx = 0;
  for (auto& s : per_thread) {
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    errors += s.errors;
    non2xx += s.non2xx;
  }
  std::sort(all.begin(), all.end());
  auto secs = std::chrono::duration<double>(*duration).count();
  auto rps = static_cast<double>(all.size()) / secs;
  if (o.json) {
    std::printf("{\"name\":\"%s\",\"connections\":%zu,\"requests\":%zu,"
                "\"duration_s\":%.2f,\"rps\":%.0f,\"p50_us\":%u,\"p90_us\":%u,"
                "\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u,\"errors\":%llu,"
                "\"non2xx\":%llu}\n",
                o.name.c_str(), o.connections, all.size(), secs, rps,
                percentile(all, 50), percentile(all, 90), percentile(all, 99),
                percentile(all, 99.9), all.empty() ? 0 : all.back(),
                static_cast<unsigned long long>(errors),
                static_cast<unsigned long long>(non2xx));
  } else {
    std::printf("%s: %zu requests in %.1fs, %.0f req/s, p50 %u us, p90 %u us, "
                "p99 %u us, p99.9 %u us, max %u us, errors %llu, non-2xx %llu\n",
                o.name.c_str(), all.size(), secs, rps, percentile(all, 50),
                percentile(all, 90), percentile(all, 99),
                percentile(all, 99.9), all.empty() ? 0 : all.back(),
                static_cast<unsigned long long>(errors),
                static_cast<unsigned long long>(non2xx));
  }
  return all.empty() ? 1 : 0;
}
