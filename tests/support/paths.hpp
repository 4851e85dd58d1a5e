// The expected paths of the seed standard workflow, shared by the core and end-to-end tests.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

namespace hoso::testing {

// From a commune unit up to the commune's decision.
inline const std::vector<std::string> kCommunePath = {"draft", "commune_intake", "commune_appraisal",
                                                      "commune_decision"};
// From Công an tỉnh through the 5-member council (4 yes votes pass it) to UBND tỉnh.
inline const std::vector<std::string> kProvincePath = {
    "province_police_intake", "province_police_review", "home_affairs_appraisal", "council_vote",
    "council_vote",           "council_vote",           "council_vote",           "province_decision"};

inline std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace hoso::testing
