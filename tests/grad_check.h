// Test utilities shared by the kernel and layer tests: seeded random inputs, closeness checks that
// name the first mismatch, buffers with guard regions, and central finite differences in double.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"

namespace attnscope::test {

// n values uniform in [lo, hi), the same for the same seed.
template <typename T = float>
std::vector<T> random_vector(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(lo + (hi - lo) * static_cast<double>(rng.uniform()));
  return v;
}

// n token ids uniform in [0, vocab).
inline std::vector<int32_t> random_ids(int64_t n, int32_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(vocab)));
  return ids;
}

template <typename To, typename From>
std::vector<To> convert(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}
inline std::vector<double> to_double(const std::vector<float>& v) {
  return convert<double>(v);
}
inline std::vector<float> to_float(const std::vector<double>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

// Σ a ⊙ b in double: with random b, the "random projection" loss whose gradient is b.
template <typename A, typename B>
double dot(const std::vector<A>& a, const std::vector<B>& b) {
  double s = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

// True when |a − b| ≤ atol + rtol·|b| (b is the reference). Equal infinities match; NaN never
// does.
inline bool close(double a, double b, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= atol + rtol * std::abs(b);
}

// Expects a[i] ≈ b[i] for i < n; on failure reports the first mismatching index with both values
// and the number of mismatches. Returns whether all matched.
template <typename A, typename B>
bool expect_close(const A* a, const B* b, int64_t n, double rtol, double atol,
                  const std::string& what) {
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    if (close(x, y, rtol, atol)) continue;
    if (first < 0) first = i;
    ++bad;
    if (std::isfinite(x) && std::isfinite(y)) worst = std::max(worst, std::abs(x - y));
  }
  if (bad == 0) return true;
  std::ostringstream msg;
  msg.precision(9);
  msg << what << ": " << bad << " of " << n << " values differ (rtol " << rtol << ", atol " << atol
      << "); first at index " << first << ": " << static_cast<double>(a[first]) << " vs expected "
      << static_cast<double>(b[first]) << "; largest finite |diff| " << worst;
  ADD_FAILURE() << msg.str();
  return false;
}

template <typename A, typename B>
bool expect_close(const std::vector<A>& a, const std::vector<B>& b, double rtol, double atol,
                  const std::string& what) {
  if (a.size() != b.size()) {
    ADD_FAILURE() << what << ": size " << a.size() << " vs expected " << b.size();
    return false;
  }
  return expect_close(a.data(), b.data(), static_cast<int64_t>(a.size()), rtol, atol, what);
}

// An output buffer of n values with kGuard sentinel values on either side: pass data() to a
// kernel, then expect_guards_intact() checks that it wrote nothing outside [0, n).
template <typename T = float>
class Guarded {
 public:
  static constexpr int64_t kGuard = 17;
  static constexpr T kSentinel = static_cast<T>(-1.2345e30);

  explicit Guarded(int64_t n, T fill = T(0))
      : n_(n), storage_(static_cast<size_t>(n + 2 * kGuard), kSentinel) {
    std::fill(data(), data() + n, fill);
  }
  explicit Guarded(const std::vector<T>& values) : Guarded(static_cast<int64_t>(values.size())) {
    std::copy(values.begin(), values.end(), data());
  }

  T* data() { return storage_.data() + kGuard; }
  const T* data() const { return storage_.data() + kGuard; }
  int64_t size() const { return n_; }
  T operator[](int64_t i) const { return data()[i]; }
  std::vector<T> values() const { return std::vector<T>(data(), data() + n_); }

  bool expect_guards_intact(const std::string& what) const {
    for (int64_t g = 0; g < kGuard; ++g) {
      const int64_t before = -kGuard + g, after = n_ + g;
      if (data()[before] != kSentinel) {
        ADD_FAILURE() << what << ": guard written at index " << before << " (value "
                      << data()[before] << ")";
        return false;
      }
      if (data()[after] != kSentinel) {
        ADD_FAILURE() << what << ": guard written at index " << after << " (value " << data()[after]
                      << ")";
        return false;
      }
    }
    return true;
  }

 private:
  int64_t n_;
  std::vector<T> storage_;
};

// Central finite-difference gradient of f at x: (f(x + h_i e_i) − f(x − h_i e_i)) / 2h_i with
// h_i = h · max(1, |x_i|).
inline std::vector<double> numeric_gradient(
    const std::function<double(const std::vector<double>&)>& f, std::vector<double> x,
    double h = 1e-6) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i], hi = h * std::max(1.0, std::abs(xi));
    x[i] = xi + hi;
    const double fp = f(x);
    x[i] = xi - hi;
    const double fm = f(x);
    x[i] = xi;
    g[i] = (fp - fm) / (2 * hi);
  }
  return g;
}

}  // namespace attnscope::test
