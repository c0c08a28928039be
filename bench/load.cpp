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

using http_request = bhttp::request<bhttp::string_body>;

http_request make_request(const options& o, const std::string& method,
                          const std::string& path, const std::string& body,
                          size_t n, const std::string& token = {}) {
  http_request req{bhttp::string_to_verb(method), substitute(path, n, 8, token),
                   11};
  req.set(bhttp::field::host, o.url);
  auto b = substitute(body, n, 8, token);
  if (!b.empty()) {
    req.set(bhttp::field::content_type, o.content_type);
    req.body() = std::move(b);
  }
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

// The string value of "field":"..." in a JSON body (no escapes needed for
// tokens), or "".
std::string extract_field(const std::string& body, const std::string& field) {
  auto needle = "\"" + field + "\":\"";
  auto p = body.find(needle);
  if (p == std::string::npos) {
    return {};
  }
  p += needle.size();
  auto e = body.find('"', p);
  return e == std::string::npos ? std::string{} : body.substr(p, e - p);
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
             const options& o, const std::vector<http_request>& reqs,
             size_t id, steady::time_point record_from,
             steady::time_point until, stats& st)
    : stream_(ioc), ep_(ep), o_(o), reqs_(reqs), id_(id), next_(id * 7919),
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
    sent_ = steady::now();
    if (o_.unique) {
      // Keys of this connection: id, id + connections, ...
      current_n_ = id_ + unique_count_++ * 1'000'000;
      dynamic_ = make_request(o_, o_.method, o_.path, o_.body, current_n_);
      write(dynamic_);
    } else {
      current_n_ = next_ % reqs_.size();
      write(reqs_[next_++ % reqs_.size()]);
    }
  }

  void write(const http_request& req) {
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
    if (!o_.then_method.empty() && !second_) {
      // The first of a pair: send the second with the extracted field.
      auto status = res_->get().result_int();
      if (status < 200 || status >= 300 || !res_->get().keep_alive()) {
        st_.non2xx++;
        send();
        return;
      }
      second_ = true;
      dynamic_ = make_request(o_, o_.then_method, o_.then_path, o_.then_body,
                              current_n_,
                              extract_field(res_->get().body(), o_.extract));
      write(dynamic_);
      return;
    }
    second_ = false;
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
  const options& o_;
  const std::vector<http_request>& reqs_;
  size_t id_;
  size_t next_;
  size_t unique_count_ = 0;
  size_t current_n_ = 0;
  bool second_ = false;
  http_request dynamic_;
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
  std::vector<http_request> reqs;
  for (size_t i = 0; i < o.keys; ++i) {
    reqs.push_back(make_request(o, o.method, o.path, o.body, i));
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
    std::make_shared<connection>(*ctxs[t], ep, o, reqs, c, record_from, until,
                                 per_thread[t])
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
