// hoso notify deliver: sends the notices recorded after the dispatch cursor through the file adapter, in log
// order, recording each attempt (delivered, failed, dead-lettered) in its dossier's history.
#include <fmt/format.h>

#include <boost/json.hpp>

#include <limits>
#include <memory>

#include "adapters/cli/context.hpp"
#include "adapters/notify/dispatcher.hpp"
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
  auto notifier = std::make_shared<FileNotifier>(c.args.get("file").value_or(c.db() + ".notifications.jsonl"));
  NoticeDispatcher dispatcher(*a.service, *a.clock, {file_channel(notifier)}, RetryPolicy{}, std::move(*templates));
  std::string failure;
  auto round = dispatcher.run(std::numeric_limits<int>::max(), [&](const std::string& line) { failure = line; });
  if (!round) return fail(c, round.error());
  const int delivered = round->delivered;
  if (!round->held.empty()) {
    // Sent the others; these wait until their dossier is repaired (hoso replay, hoso audit verify tell how).
    Error e = round->held.front().why;
    e.message = fmt::format("Đã gửi {} thông báo; {} thông báo bị giữ lại", delivered, round->held.size());
    for (const HeldNotice& h : round->held)
      e.message += fmt::format("; thông báo {}.{} của hồ sơ {} ({}): {}", h.key.gseq, h.key.n, h.dossier,
                               h.sent ? "đã gửi nhưng chưa ghi được vào lịch sử" : "chưa gửi", h.why.message);
    return fail(c, e);
  }
  if (round->failed > 0 || round->dead_lettered > 0) {
    // Recorded in the history; the next run (or hoso serve) tries again when the retry is due.
    c.err << fmt::format("Đã gửi {} thông báo; {} lần gửi lỗi, {} thông báo bị đưa vào hàng lỗi{}: {}\n", delivered,
                         round->failed, round->dead_lettered,
                         round->waiting_until ? fmt::format(", thử lại lúc {}", format_vietnam(*round->waiting_until))
                                              : std::string(),
                         failure);
    return 1;
  }
  if (c.json_out())
    c.out << boost::json::serialize(boost::json::object{{"delivered", delivered}, {"file", notifier->path()}}) << "\n";
  else
    c.out << fmt::format("Đã gửi {} thông báo vào {}\n", delivered, notifier->path());
  return 0;
}

}  // namespace hoso::cli
