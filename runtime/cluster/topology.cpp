#include "runtime/cluster/topology.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <xxhash.h>

#include "runtime/codec.hpp"

namespace shoal::cluster {

namespace {

constexpr size_t max_members = 64;
constexpr uint8_t identity_version = 1;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

// `host:port` with a non-empty host and a port in 1..65535.
bool valid_address(std::string_view addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0
      || colon + 1 == addr.size() || addr.size() - colon - 1 > 5) {
    return false;
  }
  uint32_t port = 0;
  for (auto c : addr.substr(colon + 1)) {
    if (c < '0' || c > '9') {
      return false;
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  return port >= 1 && port <= 65535;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

} // namespace

result<std::vector<member_spec>> parse_initial_cluster(std::string_view text) {
  std::vector<member_spec> out;
  std::set<std::string> names;
  std::set<std::string> addresses;
  while (true) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      return fail(errc::invalid_argument,
                  "initial cluster entries are name=host:port, got '"
                    + std::string{item} + "'");
    }
    member_spec m{std::string{trim(item.substr(0, eq))},
                  std::string{trim(item.substr(eq + 1))}};
    if (!valid_name(m.name)) {
      return fail(errc::invalid_argument,
                  "member name '" + m.name
                    + "' must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (!valid_address(m.address)) {
      return fail(errc::invalid_argument, "member " + m.name
                                            + " needs an address host:port, got '"
                                            + m.address + "'");
    }
    if (!names.insert(m.name).second) {
      return fail(errc::invalid_argument, "member " + m.name + " appears twice");
    }
    if (!addresses.insert(m.address).second) {
      return fail(errc::invalid_argument,
                  "address " + m.address + " appears twice");
    }
    out.push_back(std::move(m));
    if (out.size() > max_members) {
      return fail(errc::invalid_argument, "at most 64 members");
    }
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::string format_initial_cluster(const std::vector<member_spec>& members) {
  std::string out;
  for (const auto& m : members) {
    if (!out.empty()) {
      out += ',';
    }
    out += m.name + "=" + m.address;
  }
  return out;
}

size_t rendezvous_owner(uint16_t shard, const std::vector<member_spec>& members) {
  size_t best = 0;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    // The shard number seeds the hash of the name: one weight per pair.
    auto w = XXH64(members[i].name.data(), members[i].name.size(),
                   0x9e3779b97f4a7c15ULL ^ shard);
    if (i == 0 || w > best_weight
        || (w == best_weight && members[i].name < members[best].name)) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

size_t cluster_identity::self_index() const {
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].name == self) {
      return i;
    }
  }
  return members.size();
}

result<cluster_identity> derive_identity(std::string self,
                                         std::vector<member_spec> members,
                                         uint32_t shard_count) {
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  cluster_identity id;
  id.self = std::move(self);
  id.members = std::move(members);
  if (id.self_index() == id.members.size()) {
    return fail(errc::invalid_argument,
                "this node's name '" + id.self
                  + "' is not in the initial cluster ("
                  + format_initial_cluster(id.members) + ")");
  }
  auto canonical = format_initial_cluster(id.members) + "/"
                   + std::to_string(shard_count);
  id.cluster_id = "c-" + hex64(XXH64(canonical.data(), canonical.size(), 0));
  id.shard_owner.resize(shard_count);
  for (uint32_t s = 0; s < shard_count; ++s) {
    id.shard_owner[s] =
      static_cast<uint16_t>(rendezvous_owner(static_cast<uint16_t>(s), id.members));
  }
  return id;
}

cluster_identity single_node_identity(std::string self, std::string address,
                                      uint32_t shard_count) {
  cluster_identity id;
  id.cluster_id = "single";
  id.self = self;
  id.members.push_back({std::move(self), std::move(address)});
  id.shard_owner.assign(shard_count, 0);
  return id;
}

std::string encode_identity(const cluster_identity& id) {
  std::string out;
  codec::writer w{out};
  w.u8(identity_version);
  w.bytes(id.cluster_id);
  w.bytes(id.self);
  w.varint(id.members.size());
  for (const auto& m : id.members) {
    w.bytes(m.name);
    w.bytes(m.address);
  }
  w.varint(id.shard_owner.size());
  for (auto o : id.shard_owner) {
    w.varint(o);
  }
  return out;
}

result<cluster_identity> decode_identity(std::string_view bytes) {
  codec::reader r{bytes};
  if (r.u8() != identity_version) {
    return fail(errc::storage_error, "unknown cluster identity version");
  }
  cluster_identity id;
  id.cluster_id = r.bytes();
  id.self = r.bytes();
  auto n = r.varint();
  if (n > max_members) {
    return fail(errc::storage_error, "corrupt cluster identity");
  }
  for (uint64_t i = 0; i < n && r.good(); ++i) {
    member_spec m;
    m.name = r.bytes();
    m.address = r.bytes();
    id.members.push_back(std::move(m));
  }
  auto shards = r.varint();
  if (shards > 65536) {
    return fail(errc::storage_error, "corrupt cluster identity");
  }
  for (uint64_t i = 0; i < shards && r.good(); ++i) {
    auto o = r.varint();
    if (o >= id.members.size()) {
      return fail(errc::storage_error, "corrupt cluster identity");
    }
    id.shard_owner.push_back(static_cast<uint16_t>(o));
  }
  if (!r.done() || id.self_index() == id.members.size()) {
    return fail(errc::storage_error, "corrupt cluster identity");
  }
  return id;
}

result<void> check_identity(const cluster_identity& stored,
                            const cluster_identity& derived) {
  auto describe = [](const cluster_identity& id) {
    if (id.cluster_id == "single") {
      return "a one-node deployment with " + std::to_string(id.shard_owner.size())
             + " shards";
    }
    return "cluster " + id.cluster_id + " (" + format_initial_cluster(id.members)
           + ", " + std::to_string(id.shard_owner.size()) + " shards)";
  };
  if (stored.self != derived.self) {
    return fail(errc::invalid_argument,
                "the data dir belongs to node '" + stored.self
                  + "', but this node is named '" + derived.self + "'");
  }
  if (stored.cluster_id != derived.cluster_id
      || stored.members != derived.members
      || stored.shard_owner.size() != derived.shard_owner.size()) {
    return fail(errc::invalid_argument, "the data dir belongs to "
                                          + describe(stored)
                                          + ", but the flags describe "
                                          + describe(derived));
  }
  return {};
}

} // namespace shoal::cluster
