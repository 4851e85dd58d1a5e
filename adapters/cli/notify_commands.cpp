// hoso notify deliver: sends the notices recorded after the dispatch cursor through the file adapter, in log
// order, recording each delivery in its dossier's history.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "adapters/cli/context.hpp"
#include "adapters/notify/file_notifier.hpp"
#include "adapters/yaml/project.hpp"

namespace hoso::cli {

int cmd_notify(Ctx& c) {
  const auto& p = c.args.positional;
  if (p.size() != 2 || p[1] != "deliver") return usage(c, "cách dùng: hoso notify deliver [--file TỆP] [--json]");
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  auto templates = yaml::templates_from_store(*a.store);
  if (!templates) return fail(c, templates.error());
  FileNotifier notifier(c.args.get("file").value_or(c.db() + ".notifications.jsonl"));
  int delivered = 0;
  for (;;) {
    auto batch = a.service->pending_notifications(100, *templates);
    if (!batch) return fail(c, batch.error());
    if (batch->empty()) break;
    for (const auto& n : *batch) {
      if (auto st = notifier.deliver(n, a.clock->now()); !st) return fail(c, st.error());
      if (auto st = a.service->record_delivered(n, "file"); !st) return fail(c, st.error());
      ++delivered;
    }
  }
  if (c.json_out())
    c.out << boost::json::serialize(boost::json::object{{"delivered", delivered}, {"file", notifier.path()}}) << "\n";
  else
    c.out << fmt::format("Đã gửi {} thông báo vào {}\n", delivered, notifier.path());
  return 0;
}

}  // namespace hoso::cli
