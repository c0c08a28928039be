// shoal-load: an HTTP load driver. N keep-alive connections send requests
// built from method/path/body templates for a fixed duration, then it
// prints requests/s and latency percentiles (one JSON object with --json).
//
// Templates: {key} is a key from a key space of --keys keys ("k000042"),
// {n} its index. Example:
//   shoal-load --url 127.0.0.1:7700 -c 64 -d 10s --method PUT
//              --path '/v1/kv/{key}' --body 'value-{n}'

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <CLI/CLI.hpp>

#include "actors/node.hpp"
#include "runtime/time.hpp"

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
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
};

std::string substitute(std::string tpl, size_t n, size_t keylen) {
  char key[64];
  std::snprintf(key, sizeof(key), "k%0*zu", static_cast<int>(keylen - 1), n);
  for (std::string var : {"{key}", "{n}"}) {
    auto value = var == "{key}" ? std::string{key} : std::to_string(n);
    for (auto p = tpl.find(var); p != std::string::npos;
         p = tpl.find(var, p + value.size())) {
      tpl.replace(p, var.size(), value);
    }
  }
  return tpl;
}

struct stats {
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
  uint64_t non2xx = 0;
};

// One keep-alive connection sending requests back to back.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(asio::io_context& ioc, const tcp::resolver::results_type& ep,
             const std::vector<bhttp::request<bhttp::string_body>>& reqs,
             size_t offset, steady::time_point record_from,
             steady::time_point until, stats& st)
    : stream_(ioc), ep_(ep), reqs_(reqs), next_(offset),
      record_from_(record_from), until_(until), st_(st) {
  }

  void start() {
    stream_.async_connect(ep_, [self = shared_from_this()](
                                 beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        self->st_.errors++;
        return;
      }
      self->send();
    });
  }

private:
  void send() {
    if (steady::now() >= until_) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      return;
    }
    const auto& req = reqs_[next_++ % reqs_.size()];
    sent_ = steady::now();
    bhttp::async_write(stream_, req, [self = shared_from_this()](
                                       beast::error_code ec, size_t) {
      if (ec) {
        self->st_.errors++;
        return;
      }
      self->res_.emplace();
      bhttp::async_read(self->stream_, self->buffer_, *self->res_,
                        [self](beast::error_code ec, size_t) {
                          self->on_read(ec);
                        });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      st_.errors++;
      return;
    }
    auto now = steady::now();
    if (now >= record_from_) {
      st_.latencies_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - sent_)
          .count()));
      auto status = res_->get().result_int();
      if (status < 200 || status >= 300) {
        st_.non2xx++;
      }
    }
    if (!res_->get().keep_alive()) {
      st_.errors++;
      return;
    }
    send();
  }

  beast::tcp_stream stream_;
  tcp::resolver::results_type ep_;
  const std::vector<bhttp::request<bhttp::string_body>>& reqs_;
  size_t next_;
  steady::time_point record_from_;
  steady::time_point until_;
  stats& st_;
  steady::time_point sent_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> res_;
};

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
  CLI11_PARSE(app, argc, argv);

  auto hp = shoal::parse_host_port(o.url);
  auto duration = shoal::parse_duration(o.duration);
  auto warmup = shoal::parse_duration(o.warmup);
  if (!hp || !duration || !warmup || o.connections == 0 || o.keys == 0) {
    std::fprintf(stderr, "shoal-load: invalid arguments\n");
    return 2;
  }
  std::vector<bhttp::request<bhttp::string_body>> reqs;
  for (size_t i = 0; i < o.keys; ++i) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(o.method),
                                           substitute(o.path, i, 8), 11};
    req.set(bhttp::field::host, o.url);
    auto body = substitute(o.body, i, 8);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, o.content_type);
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    reqs.push_back(std::move(req));
  }
  auto threads = std::max<size_t>(1, std::min(o.threads, o.connections));
  std::vector<std::unique_ptr<asio::io_context>> ctxs;
  std::vector<stats> per_thread(threads);
  auto start = steady::now();
  auto record_from = start + *warmup;
  auto until = record_from + *duration;
  for (size_t t = 0; t < threads; ++t) {
    ctxs.push_back(std::make_unique<asio::io_context>(1));
  }
  tcp::resolver resolver{*ctxs[0]};
  auto ep = resolver.resolve(hp->first, std::to_string(hp->second));
  for (size_t c = 0; c < o.connections; ++c) {
    auto t = c % threads;
    std::make_shared<connection>(*ctxs[t], ep, reqs, c * 7919, record_from,
                                 until, per_thread[t])
      ->start();
  }
  std::vector<std::thread> runners;
  for (size_t t = 0; t < threads; ++t) {
    runners.emplace_back([&ctx = *ctxs[t]] { ctx.run(); });
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
