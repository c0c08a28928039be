#include "net/http/json.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace shoal::http {
namespace {

TEST(json_writer, writes_what_to_text_writes_for_the_same_document) {
  std::vector<std::string> strings = {
    "",          "plain",        "quote\"d",          "back\\slash",
    "tab\there", "line\nbreak",  std::string{"nul\0x", 5}, "\x01\x1f\x7f",
    "caf\xc3\xa9", "bad \xff utf-8", "\xe2\x82\xac euro", "/slash/",
  };
  for (const auto& s : strings) {
    json_writer out;
    out.begin_object();
    out.key("a").value(s);
    out.key("b").begin_array();
    out.value(uint64_t{0}).value(uint64_t{18446744073709551615ULL});
    out.value(true).value(false).null();
    out.begin_object().key(s).value(s).end_object();
    out.end_array();
    out.key("c").begin_object().end_object();
    out.key("d").begin_array().end_array();
    out.end_object();
    json expected{{"a", s},
                  {"b", json::array({0, 18446744073709551615ULL, true, false,
                                     nullptr, json{{s, s}}})},
                  {"c", json::object()},
                  {"d", json::array()}};
    EXPECT_EQ(out.take(), to_text(expected)) << s;
  }
}

TEST(json_writer, raw_text_goes_in_as_a_value) {
  json_writer out;
  out.begin_array().raw("{\"x\":1}").raw("2").end_array();
  EXPECT_EQ(out.take(), "[{\"x\":1},2]");
}

} // namespace
} // namespace shoal::http
