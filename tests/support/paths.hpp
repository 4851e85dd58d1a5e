// Expectations about the seed standard workflow shared by the core and end-to-end tests: its paths, and one
// failing input per eligibility clause.
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

// Starting from a collective that meets every criterion, setting `field` to `value` fails `clause` of
// `award`.
struct EligibilityCase {
  std::string award, field, value, clause;
};
inline const std::vector<EligibilityCase> kEligibilityCases = {
    {"co_thi_dua_tinh", "recipient_kind", "individual", "collective_only"},
    {"co_thi_dua_tinh", "leads_cluster", "false", "leads_cluster"},
    {"co_thi_dua_tinh", "merits_count", "2", "three_merits"},
    {"co_thi_dua_tinh", "replicated_models", "0", "replicated_model"},
    {"bang_khen_tinh", "has_movement_plan", "false", "movement_plan"},
    {"bang_khen_tinh", "security_certified", "false", "security_certified"},
    {"bang_khen_tinh", "security_cert_cycle_end", "2024-11-15", "security_certified"},  // a stale cycle
    {"bang_khen_tinh", "movement_grade", "kha", "excellent_grade"},
    {"bang_khen_tinh", "good_models", "0", "good_model"},
    {"bang_khen_tinh", "serious_incident", "true", "no_serious_incident"},
    {"bang_khen_tinh", "party_org_clean", "false", "clean_party_org"},
    {"bang_khen_tinh", "has_complaints", "true", "no_complaints"},
    {"bang_khen_tinh", "recipient_org_type", "enterprise", "enterprise_security_force"},
};

}  // namespace hoso::testing
