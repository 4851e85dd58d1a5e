// hoso notify deliver: sends the notices recorded after the dispatch cursor through the file adapter, in log
// order, recording each attempt (delivered, failed, dead-lettered) in its dossier's history.
// hoso notify status: what is still to go out, read from the log alone (nothing is sent or written).
#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/cli/context.hpp"
#include "adapters/notify/dispatcher.hpp"
#include "adapters/notify/file_notifier.hpp"
#include "adapters/views/json_views.hpp"
#include "adapters/yaml/project.hpp"

namespace hoso::cli {

namespace {

// The notices after the dispatch cursor as the history records them, by channel: an operator's view of what
// the dispatcher (hoso serve or hoso notify deliver) still has to send, and of what it gave up on.
struct ChannelCounts {
  std::int64_t delivered = 0, waiting_retry = 0, dead_lettered = 0;
  std::optional<Timestamp> next_retry;  // the earliest retry due among those waiting
  std::string last_error;               // the error of the waiting notice whose retry is due first
};
struct NoticeBacklog {
  std::optional<NoticeKey> cursor;  // none: no notice has gone out yet
  std::int64_t after_cursor = 0, never_tried = 0;
  // UTC time of the earliest notice not tried or waiting to be retried.
  std::optional<std::string> oldest_waiting;
  std::map<std::string, ChannelCounts> channels;
  std::vector<HeldNotice> held;
};

// A notice given up on (NotificationDeadLettered): settled, so the cursor passes it; sending it again is an
// operator's task, so they are all listed, wherever they are in the log.
struct DeadLetter {
  std::string notice, channel, to, error, at;
  DossierId dossier = 0;
};

Result<std::vector<DeadLetter>> dead_letters(Store& store) {
  std::vector<DeadLetter> out;
  const std::string type = event_type_name(EventType::kNotificationDeadLettered);
  Status scanned = store.scan_events([&](EventRecord& e) -> Status {
    if (e.type != type) return Status::Ok();
    boost::system::error_code ec;
    const auto payload = boost::json::parse(e.payload, ec);
    const auto* delivery = ec || !payload.is_object() ? nullptr : payload.as_object().if_contains("delivery");
    auto text = [&](const char* key) {
      const auto* v = delivery && delivery->is_object() ? delivery->as_object().if_contains(key) : nullptr;
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    DeadLetter d{text("notification"), text("channel"), text("to"), text("error"), e.at, e.dossier};
    // The codec writes none without them: only an event added behind the engine's back lacks them.
    if (d.notice.empty() || d.channel.empty())
      return make_error(
          ErrorCode::kVerifyFailed,
          fmt::format("sự kiện {} của hồ sơ {} ghi một thông báo bị đưa vào hàng lỗi nhưng không "
                      "nói thông báo nào, qua kênh nào; hãy chạy 'hoso audit verify'",
                      e.seq, e.dossier));
    out.push_back(std::move(d));
    return Status::Ok();
  });
  if (!scanned) return scanned.error();
  return out;
}

NoticeBacklog backlog_of(std::optional<NoticeKey> cursor, const std::vector<Notification>& notices,
                         std::vector<HeldNotice> held) {
  NoticeBacklog b;
  b.cursor = cursor;
  b.after_cursor = static_cast<std::int64_t>(notices.size() + held.size());
  b.held = std::move(held);
  for (const Notification& n : notices) {
    bool waiting = n.progress.empty();
    if (n.progress.empty()) ++b.never_tried;
    for (const auto& [channel, p] : n.progress) {
      ChannelCounts& counts = b.channels[channel];
      if (p.dead_lettered) {
        ++counts.dead_lettered;
      } else if (p.settled) {
        ++counts.delivered;
      } else {
        waiting = true;
        ++counts.waiting_retry;
        if (p.retry_at && (!counts.next_retry || *p.retry_at < *counts.next_retry)) {
          counts.next_retry = p.retry_at;
          counts.last_error = p.last_error;
        }
      }
    }
    // Notices come in log order, and times never go backwards in it: the first one waiting is the oldest.
    if (waiting && !b.oldest_waiting) b.oldest_waiting = n.created_at;
  }
  return b;
}

std::string key_text(NoticeKey k) { return fmt::format("{}.{}", k.gseq, k.n); }

int notify_status(Ctx& c, App& a) {
  // The templates, the notices after the cursor and the dead letters as of one moment (a running server may
  // be writing).
  NoticeKey cursor;
  std::vector<Notification> pending;
  std::vector<HeldNotice> held;
  std::vector<DeadLetter> dead;
  Status read = a.store->snapshot([&]() -> Status {
    auto templates = yaml::templates_from_store(*a.store);
    if (!templates) return templates.error();
    // pending_notifications stops before a notice it cannot render for a reason other than its dossier's
    // check (a template no longer configured, say) and returns the ones before it; asked again past those,
    // it fails on that notice: every notice is counted, or the status fails naming the one that stops it.
    std::set<NoticeKey> seen;
    for (;;) {
      auto more = a.service->pending_notifications(
          std::numeric_limits<int>::max(), *templates, [&](NoticeKey k) { return seen.contains(k); }, &cursor,
          &held);
      if (!more) return more.error();
      if (more->empty()) break;
      for (Notification& n : *more) {
        seen.insert(NoticeKey{n.gseq, n.n});
        pending.push_back(std::move(n));
      }
      for (const HeldNotice& h : held) seen.insert(h.key);
    }
    auto letters = dead_letters(*a.store);
    if (!letters) return letters.error();
    dead = std::move(*letters);
    return Status::Ok();
  });
  if (!read) return fail(c, read.error());
  const NoticeBacklog b =
      backlog_of(cursor.gseq > 0 ? std::optional<NoticeKey>(cursor) : std::nullopt, pending, std::move(held));
  if (c.json_out()) {
    boost::json::object channels;
    for (const auto& [name, counts] : b.channels)
      channels[name] = boost::json::object{
          {"delivered", counts.delivered},
          {"waiting_retry", counts.waiting_retry},
          {"dead_lettered", counts.dead_lettered},
          {"next_retry_at", counts.next_retry ? boost::json::value(format_utc(*counts.next_retry)) : nullptr},
          {"last_error", counts.last_error}};
    boost::json::array held_out;
    for (const HeldNotice& h : b.held)
      held_out.push_back(boost::json::object{{"id", key_text(h.key)},
                                             {"dossier", h.dossier},
                                             {"reason", h.why.reason},
                                             {"message", h.why.message}});
    boost::json::array dead_out;
    for (const DeadLetter& d : dead)
      dead_out.push_back(boost::json::object{{"id", d.notice},
                                             {"dossier", d.dossier},
                                             {"channel", d.channel},
                                             {"to_org", d.to},
                                             {"at", d.at},
                                             {"error", d.error}});
    c.out << boost::json::serialize(boost::json::object{
                 {"cursor", b.cursor ? boost::json::value(key_text(*b.cursor)) : nullptr},
                 {"after_cursor", b.after_cursor},
                 {"never_tried", b.never_tried},
                 {"oldest_waiting_at", b.oldest_waiting ? boost::json::value(*b.oldest_waiting) : nullptr},
                 {"channels", std::move(channels)},
                 {"held", std::move(held_out)},
                 {"dead_letters", std::move(dead_out)}})
          << "\n";
    return 0;
  }
  c.out << (b.cursor ? fmt::format("Vị trí gửi: thông báo {}\n", key_text(*b.cursor))
                     : std::string("Vị trí gửi: chưa có thông báo nào được gửi xong\n"));
  c.out << fmt::format("Thông báo sau vị trí gửi: {}; chưa gửi lần nào: {}", b.after_cursor, b.never_tried);
  if (b.oldest_waiting)
    c.out << fmt::format("; thông báo chờ gửi lâu nhất từ {}", views::vietnam_time(*b.oldest_waiting));
  c.out << "\n";
  for (const auto& [name, counts] : b.channels) {
    c.out << fmt::format("Kênh {}: đã gửi {}, chờ gửi lại {}, đưa vào hàng lỗi {}", name, counts.delivered,
                         counts.waiting_retry, counts.dead_lettered);
    if (counts.next_retry)
      c.out << fmt::format(" (gửi lại sớm nhất lúc {}; lỗi: {})", format_vietnam(*counts.next_retry),
                           counts.last_error);
    c.out << "\n";
  }
  if (!dead.empty()) {
    c.out << fmt::format("Đã đưa vào hàng lỗi (không gửi lại tự động): {} thông báo\n", dead.size());
    for (const DeadLetter& d : dead)
      c.out << fmt::format("  thông báo {} của hồ sơ {} đến {} qua kênh {}, lúc {}: {}\n", d.notice,
                           d.dossier, d.to, d.channel, views::vietnam_time(d.at), d.error);
  }
  if (!b.held.empty()) {
    // Held until the data is repaired: the dossier fails its check, the notice is not in its chain, or the
    // org it is for is no longer in the directory (each says which).
    c.out << fmt::format("Bị giữ lại cho đến khi dữ liệu được sửa: {} thông báo\n", b.held.size());
    for (const HeldNotice& h : b.held)
      c.out << fmt::format("  thông báo {} của hồ sơ {}: {}\n", key_text(h.key), h.dossier, h.why.message);
  }
  return 0;
}

}  // namespace

int cmd_notify(Ctx& c) {
  const auto& p = c.args.positional;
  if (p.size() != 2 || (p[1] != "deliver" && p[1] != "status"))
    return usage(c, "cách dùng: hoso notify deliver [--file TỆP] [--json] | hoso notify status [--json]");
  if (p[1] == "status" && c.args.get("file")) return usage(c, "hoso notify status không nhận --file");
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  if (p[1] == "status") return notify_status(c, a);
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
