// A test's own changes to the shipped config/, made to the loaded project before it is installed: a user
// given another role, retired, or naming a delegate the shipped users.yaml does not have.
#pragma once
#include <functional>
#include <stdexcept>
#include <string>

#include "adapters/yaml/project.hpp"

namespace hoso::testing {

using ProjectEdit = std::function<void(yaml::Project&)>;

// The loaded spec of user `key`; throws when config has no such user.
inline UserSpec& user_spec(yaml::Project& project, const std::string& key) {
  for (auto& u : project.users)
    if (u.key == key) return u;
  throw std::invalid_argument("config/users.yaml has no user " + key);
}

}  // namespace hoso::testing
