#include "net/http/server.hpp"

#include <string>

#include <gtest/gtest.h>

namespace shoal::http {
namespace {

const router& routes() {
  static const auto r = [] {
    router out;
    out.add(method::post, "/v1/locks/{key}", [](request&, respond_fn) {});
    out.add(method::get, "/healthz", [](request&, respond_fn) {});
    return out;
  }();
  return r;
}

result<request> parse(const std::string& head, const std::string& body) {
  return parse_request_bytes("POST /v1/locks/k HTTP/1.1\r\nHost: x\r\n" + head + "\r\n"
                               + body,
                             routes(), server_config{});
}

TEST(framing, chunked_alone_is_the_only_transfer_coding_taken) {
  auto ok = parse("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
  ASSERT_TRUE(ok) << ok.err().message;
  EXPECT_EQ(ok->body, "hello");
  EXPECT_TRUE(parse("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n"));
  EXPECT_TRUE(parse("Transfer-Encoding:  chunked \r\n", "0\r\n\r\n"));
}

TEST(framing, a_final_coding_other_than_chunked_is_refused) {
  // Each of these, read as "no body", would let the chunk bytes be taken
  // for the next request on the connection.
  for (const char* te : {"chunked, gzip", "xchunked", "gzip", "chunked;x=1",
                         "gzip, chunked", "chunked, chunked", "identity", ","}) {
    auto r = parse(std::string{"Transfer-Encoding: "} + te + "\r\n",
                   "5\r\nhello\r\n0\r\n\r\n");
    ASSERT_FALSE(r) << te;
    EXPECT_EQ(r.code(), errc::invalid_argument) << te;
  }
  // Split over two fields: the last coding is gzip.
  EXPECT_FALSE(parse("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                     "0\r\n\r\n"));
}

TEST(framing, transfer_encoding_beside_content_length_is_refused) {
  EXPECT_FALSE(parse("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                     "0\r\n\r\n"));
}

TEST(framing, requests_without_transfer_encoding_are_unchanged) {
  auto r = parse("Content-Length: 2\r\n", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{}");
}

} // namespace
} // namespace shoal::http
