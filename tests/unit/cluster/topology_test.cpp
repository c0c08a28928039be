#include "runtime/cluster/topology.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace shoal;
using namespace shoal::cluster;

TEST(topology, parses_and_sorts_the_initial_cluster) {
  auto m = parse_initial_cluster("n3=127.0.0.1:7703, n1=127.0.0.1:7701,n2=[::1]:7702");
  ASSERT_TRUE(m) << to_string(m.err());
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0], (member_spec{"n1", "127.0.0.1:7701"}));
  EXPECT_EQ((*m)[1], (member_spec{"n2", "[::1]:7702"}));
  EXPECT_EQ((*m)[2], (member_spec{"n3", "127.0.0.1:7703"}));
  EXPECT_EQ(format_initial_cluster(*m),
            "n1=127.0.0.1:7701,n2=[::1]:7702,n3=127.0.0.1:7703");
}

TEST(topology, refuses_malformed_initial_clusters) {
  for (auto bad : {"", "n1", "n1=", "=127.0.0.1:1", "n1=127.0.0.1",
                   "n1=127.0.0.1:0", "n1=127.0.0.1:65536", "n1=:80",
                   "n1=h:1,n1=h:2", "n1=h:1,n2=h:1", "n 1=h:1", "n1=h:1,",
                   "n1=h:x1"}) {
    auto m = parse_initial_cluster(bad);
    EXPECT_FALSE(m) << "'" << bad << "'";
    if (!m) {
      EXPECT_EQ(m.err().code, errc::invalid_argument);
      EXPECT_FALSE(m.err().message.empty());
    }
  }
}

TEST(topology, rendezvous_spreads_shards_and_moves_only_a_removed_members_shards) {
  auto three = *parse_initial_cluster("a=h:1,b=h:2,c=h:3");
  auto two = *parse_initial_cluster("a=h:1,b=h:2");
  std::map<std::string, int> per_member;
  for (uint16_t s = 0; s < 1024; ++s) {
    auto o3 = three[rendezvous_owner(s, three)].name;
    auto o2 = two[rendezvous_owner(s, two)].name;
    ++per_member[o3];
    if (o3 != "c") {
      EXPECT_EQ(o3, o2) << "shard " << s << " moved without reason";
    }
  }
  for (auto& [name, n] : per_member) {
    EXPECT_GT(n, 1024 / 3 - 80) << name;
    EXPECT_LT(n, 1024 / 3 + 80) << name;
  }
}

TEST(topology, every_member_derives_the_same_identity) {
  auto members = *parse_initial_cluster("n1=h:1,n2=h:2,n3=h:3");
  auto a = derive_identity("n1", members, 64);
  auto b = derive_identity("n3", {members.rbegin(), members.rend()}, 64);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->cluster_id, b->cluster_id);
  EXPECT_EQ(a->members, b->members);
  EXPECT_EQ(a->shard_owner, b->shard_owner);
  EXPECT_EQ(a->shard_owner.size(), 64u);
  EXPECT_EQ(a->self_index(), 0u);
  EXPECT_EQ(b->self_index(), 2u);
  // Another member list or shard count is another cluster.
  EXPECT_NE(derive_identity("n1", *parse_initial_cluster("n1=h:1,n2=h:2"), 64)
              ->cluster_id,
            a->cluster_id);
  EXPECT_NE(derive_identity("n1", members, 32)->cluster_id, a->cluster_id);
  auto stranger = derive_identity("n9", members, 64);
  ASSERT_FALSE(stranger);
  EXPECT_NE(stranger.err().message.find("n9"), std::string::npos);
}

TEST(topology, identity_round_trips_and_rejects_corruption) {
  auto members = *parse_initial_cluster("n1=h:1,n2=h:2,n3=h:3");
  auto id = *derive_identity("n2", members, 16);
  auto bytes = encode_identity(id);
  auto back = decode_identity(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, id);
  auto single = single_node_identity("x", "", 8);
  EXPECT_EQ(*decode_identity(encode_identity(single)), single);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode_identity(bytes.substr(0, cut))) << cut;
  }
  auto bad_owner = bytes;
  bad_owner.back() = 9;
  EXPECT_FALSE(decode_identity(bad_owner));
}

TEST(topology, check_identity_names_what_differs) {
  auto members = *parse_initial_cluster("n1=h:1,n2=h:2,n3=h:3");
  auto id = *derive_identity("n1", members, 64);
  EXPECT_TRUE(check_identity(id, id));
  auto other_name = check_identity(id, *derive_identity("n2", members, 64));
  ASSERT_FALSE(other_name);
  EXPECT_NE(other_name.err().message.find("belongs to node 'n1'"), std::string::npos);
  auto moved = *parse_initial_cluster("n1=h:1,n2=h:2,n3=h:4");
  auto other_cluster = check_identity(id, *derive_identity("n1", moved, 64));
  ASSERT_FALSE(other_cluster);
  EXPECT_NE(other_cluster.err().message.find("n3=h:3"), std::string::npos);
  EXPECT_NE(other_cluster.err().message.find("n3=h:4"), std::string::npos);
  auto single = check_identity(single_node_identity("n1", "", 64), id);
  ASSERT_FALSE(single);
  EXPECT_NE(single.err().message.find("one-node"), std::string::npos);
  auto shards = check_identity(single_node_identity("n1", "", 64),
                               single_node_identity("n1", "", 32));
  ASSERT_FALSE(shards);
  EXPECT_NE(shards.err().message.find("32 shards"), std::string::npos);
}
