#pragma once

#include <string>

namespace shoal::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents when
/// the object is destroyed.
class temp_dir {
public:
  explicit temp_dir(const std::string& tag = "shoal");
  ~temp_dir();

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const {
    return path_;
  }

  /// `path()/name`.
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

private:
  std::string path_;
};

} // namespace shoal::test
