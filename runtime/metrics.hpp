#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace shoal::metrics {

/// Label pairs of one series, e.g. `{{"route", "/healthz"}, {"status", "200"}}`.
using labels = std::vector<std::pair<std::string, std::string>>;

/// A monotonically increasing count. Lock-free; any thread may increment.
class counter {
public:
  void inc(uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }

  uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down. Lock-free.
class gauge {
public:
  void set(double v) noexcept {
    value_.store(v, std::memory_order_relaxed);
  }

  void add(double v) noexcept {
    value_.fetch_add(v, std::memory_order_relaxed);
  }

  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<double> value_{0};
};

/// A distribution over fixed bucket upper bounds (Prometheus `le`). Observing
/// is lock-free: one atomic add per bucket hit, plus count and sum.
class histogram {
public:
  explicit histogram(std::vector<double> bounds);

  void observe(double v) noexcept;

  /// Cumulative counts per bound, then the `+Inf` bucket (== count).
  std::vector<uint64_t> cumulative() const;

  const std::vector<double>& bounds() const {
    return bounds_;
  }

  uint64_t count() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }

  double sum() const noexcept {
    return sum_.load(std::memory_order_relaxed);
  }

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// Bucket bounds in seconds for latencies from 50 µs to 10 s.
std::vector<double> latency_buckets();

/// Holds every metric of a node and renders them in the Prometheus text
/// exposition format (version 0.0.4). Registering returns a reference that
/// stays valid as long as the registry; callers keep it and update it
/// without touching the registry again. Registration and rendering take an
/// internal mutex; updates never do.
class registry {
public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Returns the counter `name{lbls}`, creating family and series on first
  /// use. Names follow Prometheus rules (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
  counter& add_counter(const std::string& name, const std::string& help,
                       const labels& lbls = {});

  gauge& add_gauge(const std::string& name, const std::string& help,
                   const labels& lbls = {});

  /// A gauge whose value is computed at render time.
  void add_gauge_fn(const std::string& name, const std::string& help,
                    std::function<double()> fn, const labels& lbls = {});

  histogram& add_histogram(const std::string& name, const std::string& help,
                           std::vector<double> bounds,
                           const labels& lbls = {});

  /// The whole registry in Prometheus text format, families sorted by name.
  std::string render() const;

private:
  enum class family_type { counter, gauge, histogram };

  struct series {
    std::unique_ptr<counter> c;
    std::unique_ptr<gauge> g;
    std::function<double()> fn;
    std::unique_ptr<histogram> h;
  };

  struct family {
    family_type type;
    std::string help;
    std::map<labels, series> members;
  };

  family& family_for(const std::string& name, const std::string& help,
                     family_type type);

  mutable std::mutex mtx_;
  std::map<std::string, family> families_;
};

/// Escapes a label value for the text format (backslash, quote, newline).
std::string escape_label_value(const std::string& value);

} // namespace shoal::metrics
