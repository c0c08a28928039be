#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "runtime/error.hpp"

namespace shoal {

/// A value of type `T` or an `error`. Returned by every fallible operation in
/// shoal; `result<void>` carries no value.
template <class T>
class [[nodiscard]] result {
public:
  using value_type = T;

  result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  result(error err) : data_(std::in_place_index<1>, std::move(err)) {}
  result(errc code) : data_(std::in_place_index<1>, error{code}) {}

  template <class U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T>
             && !std::is_same_v<std::decay_t<U>, error>
             && !std::is_same_v<std::decay_t<U>, errc>)
  result(U&& value) : data_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  // -- observers -------------------------------------------------------------

  bool has_value() const noexcept {
    return data_.index() == 0;
  }

  explicit operator bool() const noexcept {
    return has_value();
  }

  T& value() & {
    return std::get<0>(data_);
  }

  const T& value() const& {
    return std::get<0>(data_);
  }

  T&& value() && {
    return std::get<0>(std::move(data_));
  }

  T& operator*() & {
    return value();
  }

  const T& operator*() const& {
    return value();
  }

  T&& operator*() && {
    return std::move(*this).value();
  }

  T* operator->() {
    return &value();
  }

  const T* operator->() const {
    return &value();
  }

  const error& err() const& {
    return std::get<1>(data_);
  }

  error&& err() && {
    return std::get<1>(std::move(data_));
  }

  errc code() const {
    return err().code;
  }

private:
  std::variant<T, error> data_;
};

template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(error err) : err_(std::move(err)), ok_(false) {}
  result(errc code) : err_(code), ok_(false) {}

  bool has_value() const noexcept {
    return ok_;
  }

  explicit operator bool() const noexcept {
    return ok_;
  }

  const error& err() const& {
    return err_;
  }

  error&& err() && {
    return std::move(err_);
  }

  errc code() const {
    return err_.code;
  }

private:
  error err_;
  bool ok_ = true;
};

/// Returns an error-valued result; reads well at call sites:
/// `return fail(errc::invalid_key, "key is empty");`
inline error fail(errc code, std::string message = {}) {
  return error{code, std::move(message)};
}

/// An error that names the current revision or sequence (`conflict`,
/// `seq_mismatch`).
inline error fail_at(errc code, uint64_t current, std::string message = {}) {
  error e{code, std::move(message)};
  e.current = current;
  return e;
}

} // namespace shoal
