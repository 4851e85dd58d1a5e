// config/reports.yaml: the report obligations of the movement (format: workflows/FORMAT.md), read into a
// ReportPlan (engine/reports.hpp). Problems are diagnostics "file:line:col: error: message"; nothing throws.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/definition.hpp"
#include "engine/directory.hpp"
#include "engine/reports.hpp"

namespace hoso::yaml {

// Parses and validates the file against the org tree and the known report kinds: unknown or missing keys,
// duplicate ids, unknown orgs and org kinds, a jurisdiction that is not a level node, a reporter org outside
// the jurisdiction, an unknown report kind, a `before` that is neither MM-DD (a day every year has, so not
// 02-29) nor YYYY-MM-DD, a bad `every_years`/`first_year`/`period`, a bad `reading` or `remind_before`
// (0..20), and a rule that has no reporters. `out` is meaningful only when nothing was returned.
std::vector<Diagnostic> parse_reports(std::string_view text, const std::string& file, const Directory& dir,
                                      const std::vector<std::string>& report_kinds, ReportPlan& out);

}  // namespace hoso::yaml
