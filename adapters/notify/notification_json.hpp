// The JSON shape of a delivered notification, shared by the notification adapters (the file line, the
// webhook body), so a reader sees one shape whichever way a notice left hoso.
#pragma once
#include <boost/json/object.hpp>

#include "engine/service.hpp"
#include "engine/time.hpp"

namespace hoso {

// Returns `n` delivered at `at` as a JSON object: id, dossier, event_seq, to_org, to_org_name, emails,
// template, subject, body, created_at, delivered_at. Readers deduplicate by "id".
boost::json::object notification_json(const Notification& n, Timestamp at);

}  // namespace hoso
