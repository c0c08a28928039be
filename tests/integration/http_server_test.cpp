// The gateway over real sockets: node routes, error handling for bad input,
// limits and timeouts, pipelining, graceful stop and WebSockets.

#include <array>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/node.hpp"
#include "net/http/client.hpp"
#include "net/http/gateway.hpp"
#include "net/http/http_error.hpp"
#include "net/http/json.hpp"
#include "net/http/server.hpp"
#include "tests/support/raw_socket.hpp"

namespace shoal::http {
namespace {

using namespace std::chrono_literals;

// Echoes every text message; "close:<code>" closes with that code.
class echo_handler final : public ws_handler {
public:
  void on_open(std::shared_ptr<ws_connection> conn) override {
    conn_ = std::move(conn);
    conn_->send_text("hello");
  }
  void on_text(std::string_view msg) override {
    if (msg.starts_with("burst:")) {
      // Four other threads send N messages each, as watch actors do; then
      // a final message and a close with 4002.
      auto n = std::stoi(std::string{msg.substr(6)});
      std::vector<std::thread> senders;
      for (int t = 0; t < 4; ++t) {
        senders.emplace_back([this, t, n] {
          for (int i = 0; i < n; ++i) {
            conn_->send_text(std::to_string(t) + ":" + std::to_string(i));
          }
        });
      }
      for (auto& s : senders) {
        s.join();
      }
      conn_->send_final("final", 4002, "burst over");
      return;
    }
    if (msg.starts_with("close:")) {
      conn_->close(static_cast<uint16_t>(std::stoi(std::string{msg.substr(6)})),
                   "asked");
      return;
    }
    conn_->send_text("echo:" + std::string{msg});
  }
  void on_close(uint16_t) override {
    conn_.reset();
  }

private:
  std::shared_ptr<ws_connection> conn_;
};

class http_server_test : public testing::Test {
protected:
  void SetUp() override {
    node_config cfg;
    cfg.http_address = ""; // the test runs its own server with test routes
    cfg.worker_threads = 2;
    auto n = node::start(cfg);
    ASSERT_TRUE(n) << to_string(n.err());
    node_ = std::move(n).value();
    add_node_routes(routes_, *node_);
    routes_.add(method::post, "/test/json", [](request& req, respond_fn respond) {
      auto body = parse_json_object(req);
      if (!body) {
        respond(error_response(body.err()));
        return;
      }
      respond(json_response(200, json{{"got", *body}}));
    });
    routes_.add(method::get, "/test/slow", [this](request&, respond_fn respond) {
      // Answer later from another thread, as actor replies do: once the
      // test opens the gate.
      slow_started_ = true;
      std::thread{[respond, gate = gate_] {
        gate.wait();
        respond(json_response(200, json{{"slow", true}}));
      }}.detach();
    });
    routes_.add(method::get, "/test/forgets", [](request&, respond_fn) {});
    routes_.add(method::get, "/test/throws", [](request&, respond_fn) -> void {
      throw std::runtime_error("boom");
    });
    routes_.add_ws("/test/ws", [](const request& req)
                                 -> result<std::unique_ptr<ws_handler>> {
      if (req.query_param("deny") != nullptr) {
        return fail(errc::forbidden, "denied");
      }
      return std::unique_ptr<ws_handler>{std::make_unique<echo_handler>()};
    });
    server_config sc;
    sc.port = 0;
    sc.max_body_bytes = 4096;
    sc.max_header_bytes = 2048;
    sc.read_timeout = 400ms;
    sc.idle_timeout = 2s;
    sc.ws_idle_timeout = 600ms;
    sc.ws_max_message_bytes = 1024;
    sc.shutdown_grace = 3s;
    server_ = std::make_unique<server>(sc, routes_, node_->metrics());
    ASSERT_TRUE(server_->start());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    open_gate();
    if (server_) {
      server_->stop();
    }
    if (node_) {
      node_->stop();
    }
  }

  client make_client() {
    return client{"127.0.0.1", port_, 5s};
  }

  void expect_still_serving() {
    auto c = make_client();
    auto r = c.get("/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
  }

  static std::string error_code_of(const client_response& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) {
      return "<no error body: " + r.body + ">";
    }
    return j["error"]["code"].get<std::string>();
  }

  std::unique_ptr<node> node_;
  router routes_;
  std::unique_ptr<server> server_;
  uint16_t port_ = 0;
  void open_gate() {
    if (!gate_opened_) {
      gate_opened_ = true;
      gate_promise_.set_value();
    }
  }

  std::atomic<bool> slow_started_{false};
  std::promise<void> gate_promise_;
  std::shared_future<void> gate_ = gate_promise_.get_future().share();
  bool gate_opened_ = false;
};

TEST_F(http_server_test, health_ready_node_and_metrics) {
  auto c = make_client();
  auto h = c.get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200u);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  auto r = c.get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  auto n = c.get("/v1/node");
  ASSERT_TRUE(n);
  ASSERT_EQ(n->status, 200u) << n->body;
  auto info = json::parse(n->body);
  EXPECT_EQ(info["node_id"], node_->id());
  EXPECT_EQ(info["storage"], "memory");
  EXPECT_EQ(info["sync_mode"], "batch");
  EXPECT_EQ(info["shard_count"], 64);
  EXPECT_GE(info["uptime_seconds"].get<double>(), 0.0);
  auto m = c.get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200u);
  EXPECT_NE(m->header("content-type")->find("text/plain"), std::string::npos);
  EXPECT_NE(m->body.find("shoal_http_requests_total{method=\"GET\",route=\"/"
                         "healthz\",status=\"200\"} 1"),
            std::string::npos)
    << m->body;
  EXPECT_NE(m->body.find("shoal_http_request_duration_seconds_bucket{method="
                         "\"GET\",route=\"/v1/node\",status=\"200\""),
            std::string::npos);
  EXPECT_NE(m->body.find("shoal_storage_commit_seconds"), std::string::npos);
  EXPECT_NE(m->body.find("shoal_uptime_seconds"), std::string::npos);
}

TEST_F(http_server_test, unknown_route_is_404_and_wrong_method_is_405) {
  auto c = make_client();
  auto r = c.get("/v1/nothing-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404u);
  EXPECT_EQ(error_code_of(*r), "not_found");
  auto m = c.request("DELETE", "/healthz");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405u);
  ASSERT_NE(m->header("allow"), nullptr);
  EXPECT_EQ(*m->header("allow"), "GET");
  EXPECT_EQ(error_code_of(*m), "invalid_argument");
}

TEST_F(http_server_test, invalid_json_is_400_with_position) {
  auto c = make_client();
  for (std::string body : {"{", "[1,2]", "not json", "{\"a\":}"}) {
    auto r = c.request("POST", "/test/json", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400u) << body;
    EXPECT_EQ(error_code_of(*r), "invalid_argument");
  }
  auto ok = c.request("POST", "/test/json", R"({"a":1})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200u);
  EXPECT_EQ(json::parse(ok->body)["got"]["a"], 1);
}

TEST_F(http_server_test, oversized_body_is_413_and_others_keep_being_served) {
  auto c = make_client();
  auto r = c.request("POST", "/test/json", std::string(10'000, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
  EXPECT_EQ(error_code_of(*r), "too_large");
  expect_still_serving();
}

TEST_F(http_server_test, oversized_header_is_431) {
  test::raw_socket s{port_};
  ASSERT_TRUE(s.connected());
  s.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a')
         + "\r\n\r\n");
  auto out = s.read_until_closed(3s);
  EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 80);
  EXPECT_NE(out.find("too_large"), std::string::npos);
  expect_still_serving();
}

TEST_F(http_server_test, garbage_request_line_is_400_then_closed) {
  for (const std::string& garbage : std::vector<std::string>{"HELLO\r\n\r\n", "GET\r\n\r\n", std::string("\x16\x03\x01\x02\x00", 5),
        "GET /healthz HTTP/9.9\r\n\r\n", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /test/json HTTP/1.1\r\nContent-Length: -5\r\n\r\n"}) {
    test::raw_socket s{port_};
    ASSERT_TRUE(s.connected());
    s.send(garbage);
    auto out = s.read_until_closed(3s);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u)
      << "for " << garbage << " got " << out.substr(0, 60);
    EXPECT_TRUE(s.wait_closed(1s));
  }
  expect_still_serving();
}

TEST_F(http_server_test, a_transfer_encoding_other_than_chunked_is_400_then_closed) {
  // Read as "no body", the chunk bytes would be taken for a second request
  // (`GET /healthz` here): only one answer may come, and it is 400.
  for (const char* te : {"chunked, gzip", "xchunked", "gzip"}) {
    test::raw_socket s{port_};
    ASSERT_TRUE(s.connected());
    s.send(std::string{"POST /test/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "}
           + te + "\r\n\r\n1d\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto out = s.read_until_closed(3s);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << te << ": " << out.substr(0, 60);
    EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << te;
    EXPECT_NE(out.find("Transfer-Encoding"), std::string::npos) << out;
  }
  test::raw_socket s{port_};
  s.send("POST /test/json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
         "Connection: close\r\n\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n");
  auto out = s.read_until_closed(3s);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out.substr(0, 60);
  expect_still_serving();
}

TEST_F(http_server_test, a_nul_byte_or_trailing_bytes_after_the_json_body_is_400) {
  auto c = make_client();
  for (auto body : {std::string{"{\"ttl\":\"1s\"}\0{\"garbage", 22},
                    std::string{"{\"a\":1} {\"b\":2}"}}) {
    auto r = c.request("POST", "/test/json", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400u);
    EXPECT_EQ(error_code_of(*r), "invalid_argument");
  }
}

TEST_F(http_server_test, json_nested_past_the_limit_is_400_and_the_server_stays_up) {
  auto c = make_client();
  // Far below the body limit of a default node (58,000 levels in 117 KB
  // used to overflow the stack when serialised back).
  auto r = c.request("POST", "/test/json",
                     "{\"a\":" + std::string(2000, '[') + std::string(2000, ']') + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u) << r->body;
  auto deep = "{\"a\":" + std::string(max_json_depth, '[')
              + std::string(max_json_depth, ']') + "}";
  r = c.request("POST", "/test/json", deep);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_NE(r->body.find("64 levels"), std::string::npos) << r->body;
  auto fits = "{\"a\":" + std::string(max_json_depth - 1, '[')
              + std::string(max_json_depth - 1, ']') + "}";
  r = c.request("POST", "/test/json", fits);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  expect_still_serving();
}

TEST_F(http_server_test, connections_over_the_limit_get_503_and_the_rest_are_served) {
  server_->stop();
  server_config sc;
  sc.port = 0;
  sc.max_connections = 3;
  server_ = std::make_unique<server>(sc, routes_, node_->metrics());
  ASSERT_TRUE(server_->start());
  port_ = server_->port();
  std::vector<std::unique_ptr<test::raw_socket>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<test::raw_socket>(port_));
    ASSERT_TRUE(idle.back()->connected());
  }
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server_->connections() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(server_->connections(), 3u);
  {
    test::raw_socket extra{port_};
    ASSERT_TRUE(extra.connected());
    extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto out = extra.read_until_closed(3s);
    EXPECT_EQ(out.rfind("HTTP/1.1 503", 0), 0u) << out.substr(0, 80);
    EXPECT_NE(out.find("too many connections"), std::string::npos) << out;
  }
  // The connections within the limit are served.
  idle[0]->send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto out = idle[0]->read_until_closed(3s);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out.substr(0, 80);
  idle.clear();
  deadline = std::chrono::steady_clock::now() + 5s;
  while (server_->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  expect_still_serving();
}

TEST_F(http_server_test, slowloris_connection_is_dropped_after_read_timeout) {
  test::raw_socket slow{port_};
  ASSERT_TRUE(slow.connected());
  slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // never finishes
  // Another client is served meanwhile.
  expect_still_serving();
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.wait_closed(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  // An idle connection that never sends anything is dropped as well.
  test::raw_socket idle{port_};
  EXPECT_TRUE(idle.wait_closed(5s));
}

TEST_F(http_server_test, pipelined_requests_are_answered_in_order) {
  test::raw_socket s{port_};
  ASSERT_TRUE(s.connected());
  s.send("GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  // Nothing may come back while the first request is unanswered, even
  // though the later two are ready at once.
  auto early = s.read_until("HTTP/1.1", 1, 300ms);
  EXPECT_EQ(early, "");
  open_gate();
  auto out = s.read_until_closed(5s);
  auto a = out.find("\"slow\":true");
  auto b = out.find("not_found");
  auto c = out.find("\"status\":\"ok\"");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  ASSERT_NE(c, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST_F(http_server_test, keep_alive_connection_serves_many_requests) {
  test::raw_socket s{port_};
  std::string reqs;
  for (int i = 0; i < 50; ++i) {
    reqs += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  s.send(reqs);
  auto out = s.read_until("\"status\":\"ok\"", 50, 5s);
  size_t n = 0;
  for (auto p = out.find("HTTP/1.1 200"); p != std::string::npos;
       p = out.find("HTTP/1.1 200", p + 1)) {
    ++n;
  }
  EXPECT_EQ(n, 50u);
}

TEST_F(http_server_test, handler_that_never_answers_or_throws_gives_500) {
  auto c = make_client();
  auto r = c.get("/test/forgets");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500u);
  EXPECT_EQ(error_code_of(*r), "internal");
  auto t = c.get("/test/throws");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 500u);
  expect_still_serving();
}

TEST_F(http_server_test, head_returns_headers_only) {
  auto c = make_client();
  auto r = c.request("HEAD", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_TRUE(r->body.empty());
}

TEST_F(http_server_test, stop_lets_in_flight_requests_finish) {
  std::optional<result<client_response>> slow;
  std::thread t{[&] {
    auto c = make_client();
    slow = c.get("/test/slow");
  }};
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!slow_started_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(slow_started_);
  std::thread stopper{[this] { server_->stop(); }};
  // Once stop closed the listener, release the in-flight request.
  while (std::chrono::steady_clock::now() < deadline) {
    test::raw_socket probe{port_};
    if (!probe.connected()) {
      break;
    }
  }
  open_gate();
  stopper.join();
  t.join();
  ASSERT_TRUE(slow.has_value());
  ASSERT_TRUE(*slow);
  EXPECT_EQ((**slow).status, 200u);
  // New connections are refused after stop.
  test::raw_socket after{port_};
  EXPECT_FALSE(after.connected() && after.send("GET /healthz HTTP/1.1\r\n\r\n")
               && !after.wait_closed(2s));
}

TEST_F(http_server_test, websocket_echo_and_normal_close) {
  auto ws = ws_client::connect("127.0.0.1", port_, "/test/ws");
  ASSERT_TRUE(ws) << to_string(ws.err());
  auto hello = ws->read(2s);
  ASSERT_TRUE(hello);
  EXPECT_EQ(*hello, "hello");
  ASSERT_TRUE(ws->send_text("abc"));
  auto echo = ws->read(2s);
  ASSERT_TRUE(echo);
  EXPECT_EQ(*echo, "echo:abc");
  EXPECT_TRUE(ws->close(close_code::normal));
}

// Several sockets at once ask for bursts: their messages share the way to the
// io threads. Each sender's messages arrive in order, none is lost, and the
// final message comes after all of them, then the close.
void expect_bursts_in_order(uint16_t port, int sockets, int per_sender) {
  std::vector<ws_client> clients;
  for (int c = 0; c < sockets; ++c) {
    auto ws = ws_client::connect("127.0.0.1", port, "/test/ws");
    ASSERT_TRUE(ws) << to_string(ws.err());
    ASSERT_TRUE(ws->read(2s)); // hello
    clients.push_back(std::move(*ws));
  }
  for (auto& ws : clients) {
    ASSERT_TRUE(ws.send_text("burst:" + std::to_string(per_sender)));
  }
  for (auto& ws : clients) {
    std::array<int, 4> next{};
    for (int got = 0; got < 4 * per_sender; ++got) {
      auto m = ws.read(5s);
      ASSERT_TRUE(m) << "after " << got << " messages";
      auto colon = m->find(':');
      ASSERT_NE(colon, std::string::npos) << *m;
      auto sender = std::stoi(m->substr(0, colon));
      ASSERT_GE(sender, 0);
      ASSERT_LT(sender, 4);
      auto seq = std::stoi(m->substr(colon + 1));
      EXPECT_EQ(seq, next[sender]) << *m;
      next[sender] = seq + 1;
    }
    auto last = ws.read(5s);
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, "final");
    EXPECT_FALSE(ws.read(5s));
    EXPECT_EQ(ws.close_code(), 4002);
  }
}

TEST_F(http_server_test, websocket_messages_from_other_threads_keep_their_order) {
  expect_bursts_in_order(port_, 6, 300);
}

TEST_F(http_server_test, websocket_messages_keep_their_order_with_several_io_threads) {
  server_config sc;
  sc.port = 0;
  sc.io_threads = 4;
  server many{sc, routes_, node_->metrics()};
  ASSERT_TRUE(many.start());
  expect_bursts_in_order(many.port(), 12, 1000);
  many.stop();
}

TEST_F(http_server_test, websocket_server_close_code_reaches_client) {
  auto ws = ws_client::connect("127.0.0.1", port_, "/test/ws");
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->read(2s));
  ASSERT_TRUE(ws->send_text("close:4001"));
  auto r = ws->read(2s);
  ASSERT_FALSE(r);
  EXPECT_EQ(ws->close_code(), 4001);
}

TEST_F(http_server_test, websocket_binary_frame_is_closed_with_1003) {
  auto ws = ws_client::connect("127.0.0.1", port_, "/test/ws");
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->read(2s));
  ASSERT_TRUE(ws->send_binary("\x01\x02"));
  auto r = ws->read(2s);
  ASSERT_FALSE(r);
  EXPECT_EQ(ws->close_code(), close_code::unsupported_data);
  expect_still_serving();
}

TEST_F(http_server_test, websocket_oversized_message_is_closed_with_1009) {
  // The frame header alone announces 5000 bytes (limit 1024): the server
  // refuses before reading the payload, so the client sends none and the
  // close frame arrives intact.
  test::raw_socket s{port_};
  s.send("GET /test/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  ASSERT_NE(s.read_until("\r\n\r\n", 1, 2s).find("101"), std::string::npos);
  // FIN+text, masked, 16-bit length 5000, mask key.
  s.send(std::string("\x81\xfe\x13\x88\x01\x02\x03\x04", 8));
  auto rest = s.read_until_closed(3s);
  EXPECT_NE(rest.find(std::string("\x88\x02\x03\xf1", 4)), std::string::npos);
  expect_still_serving();
}

TEST_F(http_server_test, websocket_broken_frame_is_a_protocol_error) {
  // A valid handshake, then an unmasked client frame (RFC 6455 §5.1 says
  // clients must mask): the server must fail the connection, not crash.
  test::raw_socket s{port_};
  s.send("GET /test/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  auto handshake = s.read_until("\r\n\r\n", 1, 2s);
  ASSERT_EQ(handshake.rfind("HTTP/1.1 101", 0), 0u) << handshake;
  s.send(std::string("\x81\x03" "abc", 5)); // unmasked text frame
  auto rest = s.read_until_closed(3s);
  // The server answers with a close frame carrying 1002 and hangs up.
  auto pos = rest.find(std::string("\x88\x02\x03\xea", 4));
  EXPECT_NE(pos, std::string::npos);
  EXPECT_TRUE(s.wait_closed(1s));
  expect_still_serving();
}

TEST_F(http_server_test, websocket_refused_upgrade_is_an_http_error) {
  auto ws = ws_client::connect("127.0.0.1", port_, "/test/ws?deny=1");
  ASSERT_FALSE(ws);
  EXPECT_EQ(ws.code(), errc::forbidden);
  auto none = ws_client::connect("127.0.0.1", port_, "/healthz");
  ASSERT_FALSE(none);
}

TEST_F(http_server_test, websocket_keepalive_pings_keep_a_reading_client) {
  auto ws = ws_client::connect("127.0.0.1", port_, "/test/ws");
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->read(2s));
  // Reading answers the server's pings: the socket outlives several idle
  // timeouts (600 ms) of silence from the application.
  auto r = ws->read(1500ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), errc::timeout);
  ASSERT_TRUE(ws->send_text("still-here"));
  auto echo = ws->read(2s);
  ASSERT_TRUE(echo);
  EXPECT_EQ(*echo, "echo:still-here");
}

TEST_F(http_server_test, websocket_silent_peer_is_dropped_after_idle_timeout) {
  // A raw client that completes the handshake and then never answers pings.
  test::raw_socket s{port_};
  s.send("GET /test/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  ASSERT_NE(s.read_until("\r\n\r\n", 1, 2s).find("101"), std::string::npos);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.wait_closed(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST_F(http_server_test, websocket_sessions_are_closed_going_away_on_stop) {
  auto ws = ws_client::connect("127.0.0.1", port_, "/test/ws");
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->read(2s));
  std::thread stopper{[this] { server_->stop(); }};
  auto r = ws->read(3s);
  stopper.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(ws->close_code(), close_code::going_away);
}

} // namespace
} // namespace shoal::http
