// YAML adapter for the business calendar: config/calendar.yaml (the rules) and config/calendar/YYYY.yaml
// (the yearly announcements), format in the comment at the top of config/calendar.yaml, read into a
// CalendarSpec (engine/calendar.hpp) with a source location on every value.
//
// Like loader.hpp: problems are diagnostics ("file:line:col: error: message", 1-based, columns in
// bytes), nothing throws, and an output parameter is meaningful only when no diagnostic was returned.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/calendar.hpp"
#include "engine/records.hpp"

namespace hoso::yaml {

// config/calendar.yaml into out.weekend and out.holidays (out.years is left empty). Shape, types and
// dates only (unknown, missing or repeated keys, non-integers, impossible dates such as 2026-02-31);
// check_calendar validates the content.
std::vector<Diagnostic> parse_calendar_rules(std::string_view text, const std::string& file,
                                             CalendarSpec& out);

// One config/calendar/YYYY.yaml. Shape, types and dates only, as above.
std::vector<Diagnostic> parse_calendar_year(std::string_view text, const std::string& file,
                                            CalendarYearSpec& out);

// A yearly file: its path (used in diagnostics) and its text.
struct CalendarYearFile {
  std::string file;
  std::string text;
};

// Parses the rules and every yearly file, checks that a file named YYYY.yaml announces the year YYYY,
// then runs check_calendar when everything parsed. All problems are reported, not just the first.
std::vector<Diagnostic> load_calendar(std::string_view rules_text, const std::string& rules_file,
                                      const std::vector<CalendarYearFile>& year_files, CalendarSpec& out);

// Reads <config_dir>/calendar.yaml and every *.yaml (or *.yml) in <config_dir>/calendar/ (by name; no such
// directory means no announcements) into `out`, the rules first. An unreadable file is a diagnostic at
// its line 1, column 1.
std::vector<Diagnostic> read_calendar_sources(const std::string& config_dir, std::vector<SourceFile>& out);

// load_calendar over sources as read_calendar_sources gives them (the rules first): how a calendar
// stored in the database is compiled again.
std::vector<Diagnostic> load_calendar_sources(const std::vector<SourceFile>& files, CalendarSpec& out);

// read_calendar_sources, then load_calendar_sources.
std::vector<Diagnostic> load_calendar_dir(const std::string& config_dir, CalendarSpec& out);

}  // namespace hoso::yaml
