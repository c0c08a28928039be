// The baseline for HTTP benchmarks: the smallest keep-alive Beast server
// (every request gets a fixed JSON body), on the same number of io threads
// as shoald. shoal's gateway is measured as a ratio against it.
// usage: trivial-http-server PORT [THREADS]

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket s) : stream_(std::move(s)) {
  }

  void read() {
    req_ = {};
    bhttp::async_read(stream_, buffer_, req_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (!ec) {
                          self->write();
                        }
                      });
  }

private:
  void write() {
    res_ = bhttp::response<bhttp::string_body>{bhttp::status::ok, 11};
    res_.set(bhttp::field::content_type, "application/json");
    res_.body() = "{\"status\":\"ok\"}";
    res_.keep_alive(req_.keep_alive());
    res_.prepare_payload();
    bhttp::async_write(stream_, res_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (!ec) {
                           self->read();
                         }
                       });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::string_body> req_;
  bhttp::response<bhttp::string_body> res_;
};

void accept(tcp::acceptor& acc, asio::io_context& ioc) {
  acc.async_accept(asio::make_strand(ioc),
                   [&acc, &ioc](beast::error_code ec, tcp::socket s) {
                     if (!ec) {
                       std::make_shared<session>(std::move(s))->read();
                     }
                     accept(acc, ioc);
                   });
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: trivial-http-server PORT [THREADS]\n");
    return 2;
  }
  auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  auto threads = argc > 2 ? std::atoi(argv[2]) : 2;
  asio::io_context ioc{threads};
  tcp::acceptor acc{ioc, {asio::ip::make_address("127.0.0.1"), port}};
  accept(acc, ioc);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([&ioc] { ioc.run(); });
  }
  ioc.run();
}
