#include "runtime/stream/entity.hpp"

#include <map>
#include <random>

#include <gtest/gtest.h>

namespace shoal::stream {
namespace {

using attrs = std::vector<std::pair<std::string, std::optional<std::string>>>;

event make_event(std::string_view id, uint64_t seq, const entity_change& c) {
  auto d = change_event(c);
  return event{entity_stream(id), seq, from_unix_nanos(int64_t(seq) * 1000),
               d.type, d.payload, d.metadata, d.event_id, d.format};
}

TEST(entity, changes_round_trip_and_are_validated) {
  entity_change c{entity_op::merge, {{"a", "1"}, {"b", std::nullopt}}, "svc"};
  auto back = decode_change(encode_change(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->op, entity_op::merge);
  EXPECT_EQ(back->attributes, c.attributes);
  EXPECT_EQ(back->by, "svc");
  EXPECT_FALSE(decode_change("junk"));
  EXPECT_FALSE(decode_change(encode_change(c) + "x"));
  EXPECT_TRUE(validate_change(c));
  EXPECT_FALSE(validate_change({entity_op::set, {{"a", std::nullopt}}, ""}));
  EXPECT_FALSE(validate_change({entity_op::remove, {{"a", "1"}}, ""}));
  EXPECT_FALSE(validate_change({entity_op::merge, {{"a", "1"}, {"a", "2"}}, ""}));
  EXPECT_FALSE(validate_change({entity_op::merge, {{"", "1"}}, ""}));
  EXPECT_EQ(change_event(c).type, "merge");
  EXPECT_EQ(entity_op_from_string("delete"), entity_op::remove);
  EXPECT_EQ(entity_op_from_string("nope"), std::nullopt);
}

TEST(entity, set_merge_and_delete_fold_as_documented) {
  std::optional<entity_state> s;
  auto step = [&](uint64_t seq, entity_change c) {
    auto r = fold_entity(s, "u1", make_event("u1", seq, c));
    ASSERT_TRUE(r);
    s = *r;
  };
  step(1, {entity_op::merge, {{"name", "\"ann\""}, {"age", "30"}}, "signup"});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->attributes.size(), 2u);
  EXPECT_EQ(s->updated_by, "signup");
  EXPECT_EQ(s->seq, 1u);
  step(2, {entity_op::merge, {{"age", std::nullopt}, {"city", "\"oslo\""}}, "edit"});
  EXPECT_EQ(s->attributes, (std::map<std::string, std::string>{
                             {"city", "\"oslo\""}, {"name", "\"ann\""}}));
  step(3, {entity_op::set, {{"x", "1"}}, "reset"});
  EXPECT_EQ(s->attributes, (std::map<std::string, std::string>{{"x", "1"}}));
  EXPECT_EQ(s->updated_at, from_unix_nanos(3000));
  step(4, {entity_op::remove, {}, "gdpr"});
  EXPECT_FALSE(s);
  auto bad = make_event("u1", 5, {});
  bad.payload = "zz";
  EXPECT_EQ(fold_entity(s, "u1", bad).code(), errc::storage_error);
}

TEST(entity, snapshots_round_trip_and_refuse_corruption) {
  entity_map m;
  for (int i = 0; i < 500; ++i) {
    auto id = "e" + std::to_string(i);
    auto r = apply_entity_event(
      m, id, make_event(id, 1, {entity_op::set, {{"n", std::to_string(i)}}, "t"}));
    ASSERT_TRUE(r);
    m = *r;
  }
  auto blob = encode_snapshot(m);
  auto back = decode_snapshot(blob);
  ASSERT_TRUE(back) << to_string(back.err());
  ASSERT_EQ(back->size(), 500u);
  m.for_each([&](const std::string& id, const entity_state& s) {
    ASSERT_NE(back->find(id), nullptr);
    EXPECT_EQ(*back->find(id), s);
  });
  EXPECT_TRUE(decode_snapshot(encode_snapshot(entity_map{}))->empty());
  for (size_t at : {size_t{0}, size_t{4}, size_t{6}, blob.size() / 2, blob.size() - 1}) {
    auto broken = blob;
    broken[at] = static_cast<char>(broken[at] ^ 0x40);
    EXPECT_EQ(decode_snapshot(broken).code(), errc::storage_error) << at;
  }
  EXPECT_FALSE(decode_snapshot(blob.substr(0, blob.size() - 3)));
  EXPECT_FALSE(decode_snapshot(""));
}

// The live projection (one event at a time, as appends apply them) equals
// the one rebuilt by replaying every entity's stream from the start, and
// the one restored from a snapshot taken midway plus the tail.
TEST(entity, live_projection_equals_replay_and_snapshot_plus_tail) {
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng{seed};
    entity_map live;
    std::map<std::string, std::vector<event>> streams;
    std::string blob;
    std::map<std::string, uint64_t> at_snapshot;
    for (int i = 0; i < 2000; ++i) {
      auto id = "u" + std::to_string(rng() % 40);
      entity_change c;
      auto pick = rng() % 10;
      c.op = pick < 1 ? entity_op::remove : pick < 3 ? entity_op::set : entity_op::merge;
      if (c.op != entity_op::remove) {
        for (unsigned a = 0; a < 1 + rng() % 3; ++a) {
          auto name = "a" + std::to_string(rng() % 6);
          bool dup = false;
          for (auto& [n, v] : c.attributes) {
            dup = dup || n == name;
          }
          if (dup) {
            continue;
          }
          if (c.op == entity_op::merge && rng() % 4 == 0) {
            c.attributes.emplace_back(name, std::nullopt);
          } else {
            c.attributes.emplace_back(name, std::to_string(rng() % 100));
          }
        }
      }
      c.by = "w" + std::to_string(rng() % 3);
      auto& log = streams[id];
      auto ev = make_event(id, log.size() + 1, c);
      log.push_back(ev);
      auto next = apply_entity_event(live, id, ev);
      ASSERT_TRUE(next);
      live = *next;
      if (i == 1000) {
        blob = encode_snapshot(live);
        for (const auto& [sid, events] : streams) {
          at_snapshot[sid] = events.size();
        }
      }
    }
    entity_map replayed;
    for (const auto& [id, events] : streams) {
      for (const auto& ev : events) {
        replayed = *apply_entity_event(replayed, id, ev);
      }
    }
    auto restored = *decode_snapshot(blob);
    for (const auto& [id, events] : streams) {
      for (size_t k = at_snapshot[id]; k < events.size(); ++k) {
        restored = *apply_entity_event(restored, id, events[k]);
      }
    }
    ASSERT_EQ(live.size(), replayed.size()) << "seed " << seed;
    ASSERT_EQ(live.size(), restored.size()) << "seed " << seed;
    live.for_each([&](const std::string& id, const entity_state& s) {
      ASSERT_NE(replayed.find(id), nullptr);
      EXPECT_EQ(*replayed.find(id), s);
      ASSERT_NE(restored.find(id), nullptr);
      EXPECT_EQ(*restored.find(id), s);
    });
  }
}

} // namespace
} // namespace shoal::stream
