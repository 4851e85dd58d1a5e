#include "adapters/notify/notification_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

namespace hoso {

boost::json::object notification_json(const Notification& n, Timestamp at) {
  namespace json = boost::json;
  json::array emails;
  for (const auto& e : n.emails) emails.push_back(json::string(e));
  return json::object{{"id", n.id()},
                      {"dossier", n.dossier},
                      {"event_seq", n.event_seq},
                      {"to_org", n.to_org},
                      {"to_org_name", n.to_org_name},
                      {"emails", std::move(emails)},
                      {"template", n.template_key},
                      {"subject", n.subject},
                      {"body", n.body},
                      {"created_at", n.created_at},
                      {"delivered_at", format_utc(at)}};
}

}  // namespace hoso
