#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shoal::stream {

/// XXH64 of `key` (seed 0): the default hash of `hamt`.
uint64_t hamt_hash(std::string_view key);

struct default_hamt_hash {
  uint64_t operator()(std::string_view key) const {
    return hamt_hash(key);
  }
};

/// A persistent (immutable) hash array mapped trie from strings to `V`.
/// Every change returns a new map that shares all untouched nodes with the
/// old one: a copy is one pointer, and a map handed to another thread stays
/// unchanged whatever happens to later versions (nodes are never modified
/// after construction; their reference counts are atomic).
///
/// Each level consumes 5 bits of the 64-bit key hash (32-way nodes with a
/// bitmap of occupied positions); keys whose hashes agree on all 64 bits
/// share a collision node. A removal that leaves a node with a single entry
/// pulls it up, so the shape depends only on the contents. Lookups, inserts
/// and removals are O(log32 n).
template <class V, class Hash = default_hamt_hash>
class hamt {
public:
  struct entry {
    std::string key;
    V value;
    uint64_t hash = 0;
  };

  hamt() = default;

  /// The value of `key`, or nullptr. Valid as long as this map (or any map
  /// sharing the entry) lives.
  const V* find(std::string_view key) const {
    auto h = Hash{}(key);
    const node* n = root_.get();
    for (unsigned shift = 0; n != nullptr; shift += bits) {
      if (n->collision) {
        for (const auto& s : n->slots) {
          if (s.leaf->key == key) {
            return &s.leaf->value;
          }
        }
        return nullptr;
      }
      auto bit = bit_of(h, shift);
      if ((n->bitmap & bit) == 0) {
        return nullptr;
      }
      const auto& s = n->slots[index_of(n->bitmap, bit)];
      if (s.leaf) {
        return s.leaf->key == key ? &s.leaf->value : nullptr;
      }
      n = s.child.get();
    }
    return nullptr;
  }

  /// A map with `key` set to `value`.
  [[nodiscard]] hamt set(std::string key, V value) const {
    auto h = Hash{}(key);
    auto leaf = std::make_shared<const entry>(
      entry{std::move(key), std::move(value), h});
    bool added = false;
    hamt out;
    out.root_ = insert(root_, 0, std::move(leaf), added);
    out.size_ = size_ + (added ? 1 : 0);
    return out;
  }

  /// A map without `key` (this map again if it has no such key).
  [[nodiscard]] hamt erase(std::string_view key) const {
    bool removed = false;
    auto r = remove(root_, 0, Hash{}(key), key, removed);
    if (!removed) {
      return *this;
    }
    hamt out;
    out.root_ = std::move(r);
    out.size_ = size_ - 1;
    return out;
  }

  size_t size() const {
    return size_;
  }

  bool empty() const {
    return size_ == 0;
  }

  /// Calls `fn(key, value)` for every entry, in hash order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    visit(root_.get(), fn);
  }

  /// True if both maps are the same version (share their root).
  bool same_as(const hamt& other) const {
    return root_ == other.root_;
  }

private:
  static constexpr unsigned bits = 5;
  static constexpr unsigned hash_bits = 64;

  struct node;
  using leaf_ptr = std::shared_ptr<const entry>;
  using node_ptr = std::shared_ptr<const node>;

  // Exactly one of the two is set.
  struct slot {
    leaf_ptr leaf;
    node_ptr child;
  };

  struct node {
    uint32_t bitmap = 0;
    // All slots are leaves with the same hash (below the last level).
    bool collision = false;
    std::vector<slot> slots;
  };

  static uint32_t bit_of(uint64_t hash, unsigned shift) {
    return uint32_t{1} << ((hash >> shift) & 31U);
  }

  static size_t index_of(uint32_t bitmap, uint32_t bit) {
    return static_cast<size_t>(std::popcount(bitmap & (bit - 1)));
  }

  // A node holding two leaves whose hashes agree below `shift`.
  static node_ptr pair(leaf_ptr a, leaf_ptr b, unsigned shift) {
    auto n = std::make_shared<node>();
    if (shift >= hash_bits) {
      n->collision = true;
      n->slots.push_back(slot{std::move(a), nullptr});
      n->slots.push_back(slot{std::move(b), nullptr});
      return n;
    }
    auto ba = bit_of(a->hash, shift);
    auto bb = bit_of(b->hash, shift);
    if (ba == bb) {
      n->bitmap = ba;
      n->slots.push_back(slot{nullptr, pair(std::move(a), std::move(b), shift + bits)});
      return n;
    }
    n->bitmap = ba | bb;
    if (ba < bb) {
      n->slots.push_back(slot{std::move(a), nullptr});
      n->slots.push_back(slot{std::move(b), nullptr});
    } else {
      n->slots.push_back(slot{std::move(b), nullptr});
      n->slots.push_back(slot{std::move(a), nullptr});
    }
    return n;
  }

  static node_ptr insert(const node_ptr& n, unsigned shift, leaf_ptr leaf,
                         bool& added) {
    if (!n) {
      auto fresh = std::make_shared<node>();
      fresh->bitmap = bit_of(leaf->hash, shift);
      fresh->slots.push_back(slot{std::move(leaf), nullptr});
      added = true;
      return fresh;
    }
    auto copy = std::make_shared<node>(*n);
    if (n->collision) {
      for (auto& s : copy->slots) {
        if (s.leaf->key == leaf->key) {
          s.leaf = std::move(leaf);
          return copy;
        }
      }
      copy->slots.push_back(slot{std::move(leaf), nullptr});
      added = true;
      return copy;
    }
    auto bit = bit_of(leaf->hash, shift);
    auto i = index_of(n->bitmap, bit);
    if ((n->bitmap & bit) == 0) {
      copy->bitmap |= bit;
      copy->slots.insert(copy->slots.begin() + static_cast<ptrdiff_t>(i),
                         slot{std::move(leaf), nullptr});
      added = true;
      return copy;
    }
    auto& s = copy->slots[i];
    if (s.leaf) {
      if (s.leaf->key == leaf->key) {
        s.leaf = std::move(leaf);
        return copy;
      }
      s.child = pair(std::move(s.leaf), std::move(leaf), shift + bits);
      s.leaf = nullptr;
      added = true;
      return copy;
    }
    s.child = insert(s.child, shift + bits, std::move(leaf), added);
    return copy;
  }

  // The node without `key`: nullptr when it became empty, the same node
  // when `key` was not there (`removed` false).
  static node_ptr remove(const node_ptr& n, unsigned shift, uint64_t hash,
                         std::string_view key, bool& removed) {
    if (!n) {
      return n;
    }
    if (n->collision) {
      for (size_t i = 0; i < n->slots.size(); ++i) {
        if (n->slots[i].leaf->key == key) {
          removed = true;
          if (n->slots.size() == 1) {
            return nullptr;
          }
          auto copy = std::make_shared<node>(*n);
          copy->slots.erase(copy->slots.begin() + static_cast<ptrdiff_t>(i));
          return copy;
        }
      }
      return n;
    }
    auto bit = bit_of(hash, shift);
    if ((n->bitmap & bit) == 0) {
      return n;
    }
    auto i = index_of(n->bitmap, bit);
    const auto& s = n->slots[i];
    if (s.leaf) {
      if (s.leaf->key != key) {
        return n;
      }
      removed = true;
      if (n->slots.size() == 1) {
        return nullptr;
      }
      auto copy = std::make_shared<node>(*n);
      copy->bitmap &= ~bit;
      copy->slots.erase(copy->slots.begin() + static_cast<ptrdiff_t>(i));
      return copy;
    }
    auto child = remove(s.child, shift + bits, hash, key, removed);
    if (!removed) {
      return n;
    }
    auto copy = std::make_shared<node>(*n);
    if (!child) {
      copy->bitmap &= ~bit;
      copy->slots.erase(copy->slots.begin() + static_cast<ptrdiff_t>(i));
      return copy->slots.empty() ? nullptr : node_ptr{copy};
    }
    if (child->slots.size() == 1 && child->slots[0].leaf) {
      // A lone entry moves up to where a single leaf belongs.
      copy->slots[i] = slot{child->slots[0].leaf, nullptr};
    } else {
      copy->slots[i] = slot{nullptr, std::move(child)};
    }
    return copy;
  }

  template <class Fn>
  static void visit(const node* n, Fn& fn) {
    if (n == nullptr) {
      return;
    }
    for (const auto& s : n->slots) {
      if (s.leaf) {
        fn(std::as_const(s.leaf->key), std::as_const(s.leaf->value));
      } else {
        visit(s.child.get(), fn);
      }
    }
  }

  node_ptr root_;
  size_t size_ = 0;
};

} // namespace shoal::stream
