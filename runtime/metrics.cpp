#include "runtime/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace shoal::metrics {

namespace {

bool valid_name(const std::string& name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = name[i];
    auto alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
                 || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

std::string format_number(double v) {
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (std::isnan(v)) {
    return "NaN";
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string render_labels(const labels& lbls,
                          const std::pair<std::string, std::string>* extra
                          = nullptr) {
  if (lbls.empty() && extra == nullptr) {
    return {};
  }
  std::string out = "{";
  auto first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (const auto& [k, v] : lbls) {
    add(k, v);
  }
  if (extra != nullptr) {
    add(extra->first, extra->second);
  }
  out += '}';
  return out;
}

} // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (auto c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void histogram::observe(double v) noexcept {
  auto i = static_cast<size_t>(
    std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,  0.05,    0.1,    0.25,   0.5,    1.0,
          2.5,     5.0,    10.0};
}

registry::family& registry::family_for(const std::string& name,
                                       const std::string& help,
                                       family_type type) {
  if (!valid_name(name)) {
    throw std::invalid_argument("invalid metric name: " + name);
  }
  auto [it, added] = families_.try_emplace(name);
  if (added) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::invalid_argument("metric registered with another type: "
                                + name);
  }
  return it->second;
}

counter& registry::add_counter(const std::string& name,
                               const std::string& help, const labels& lbls) {
  std::lock_guard guard{mtx_};
  auto& s = family_for(name, help, family_type::counter).members[lbls];
  if (!s.c) {
    s.c = std::make_unique<counter>();
  }
  return *s.c;
}

gauge& registry::add_gauge(const std::string& name, const std::string& help,
                           const labels& lbls) {
  std::lock_guard guard{mtx_};
  auto& s = family_for(name, help, family_type::gauge).members[lbls];
  if (!s.g) {
    s.g = std::make_unique<gauge>();
  }
  return *s.g;
}

void registry::add_gauge_fn(const std::string& name, const std::string& help,
                            std::function<double()> fn, const labels& lbls) {
  std::lock_guard guard{mtx_};
  auto& s = family_for(name, help, family_type::gauge).members[lbls];
  s.fn = std::move(fn);
}

histogram& registry::add_histogram(const std::string& name,
                                   const std::string& help,
                                   std::vector<double> bounds,
                                   const labels& lbls) {
  std::lock_guard guard{mtx_};
  auto& s = family_for(name, help, family_type::histogram).members[lbls];
  if (!s.h) {
    s.h = std::make_unique<histogram>(std::move(bounds));
  }
  return *s.h;
}

std::string registry::render() const {
  std::lock_guard guard{mtx_};
  std::string out;
  out.reserve(4096);
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    switch (fam.type) {
      case family_type::counter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [lbls, s] : fam.members) {
          out += name + render_labels(lbls) + " "
                 + std::to_string(s.c->value()) + "\n";
        }
        break;
      case family_type::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [lbls, s] : fam.members) {
          auto v = s.fn ? s.fn() : s.g->value();
          out += name + render_labels(lbls) + " " + format_number(v) + "\n";
        }
        break;
      case family_type::histogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [lbls, s] : fam.members) {
          auto cum = s.h->cumulative();
          const auto& bounds = s.h->bounds();
          for (size_t i = 0; i <= bounds.size(); ++i) {
            std::pair<std::string, std::string> le{
              "le", i < bounds.size() ? format_number(bounds[i]) : "+Inf"};
            out += name + "_bucket" + render_labels(lbls, &le) + " "
                   + std::to_string(cum[i]) + "\n";
          }
          out += name + "_sum" + render_labels(lbls) + " "
                 + format_number(s.h->sum()) + "\n";
          out += name + "_count" + render_labels(lbls) + " "
                 + std::to_string(cum.back()) + "\n";
        }
        break;
    }
  }
  return out;
}

} // namespace shoal::metrics
