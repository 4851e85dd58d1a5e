// The JSON shapes people and programs see: a dossier, an event. One place, shared by the CLI's --json
// output and the HTTP API, so both always answer alike.
#pragma once
#include <boost/json.hpp>
#include <optional>
#include <string>

#include "adapters/runtime/app.hpp"
#include "engine/json_out.hpp"
#include "engine/records.hpp"
#include "engine/report_service.hpp"
#include "engine/service.hpp"

namespace hoso::views {

namespace json = boost::json;

// `s` parsed as JSON, or as a JSON string when it is not JSON.
json::value parse_json_or_string(const std::string& s);
// An event as `hoso history --json` shows it (with a top-level "on_behalf_of" when its payload has one).
json::object event_json(const EventRecord& e);
// The same, written straight into `out` (the bytes json::serialize(event_json(e)) gives), without parsing
// the payload when it is a JSON object as the codec writes it.
void write_event_json(JsonOut& out, const EventRecord& e);
// The key of the user the event's actor stood in for (payload "on_behalf_of"), "" when none.
std::string on_behalf_of(const EventRecord& e);
// The "on_behalf_of" string of the JSON object `json_text` (a payload, a request body); "" when it has none
// or is not a JSON object.
std::string on_behalf_of_in(const std::string& json_text);
// A stored UTC time in Vietnam time (as stored when it does not parse).
std::string vietnam_time(const std::string& utc);
// The org's name, or its key when the directory does not know it.
std::string org_name(const Directory& dir, const std::string& key);
// A dossier as `hoso dossier show --json` shows it; with `user`, the actions they may take now (with
// `by_delegate`, those their delegate may take for them: no ballot).
json::object dossier_json(const App& app, const DossierView& v, const std::optional<UserId>& user,
                          bool by_delegate = false);

// A year's report obligations as `hoso reports status --json` shows them: {year, jurisdiction, counts,
// obligations}.
json::object report_status_json(int year, const std::optional<std::string>& jurisdiction,
                                const std::vector<ReportStatusRow>& rows);

}  // namespace hoso::views
