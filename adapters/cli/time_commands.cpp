// hoso calendar: the working-day calendar for clerks (holidays of a year, due dates, working days
// between two dates), from the calendar stored in the database or from a config folder.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <limits>
#include <string_view>

#include "adapters/cli/context.hpp"
#include "adapters/yaml/calendar_loader.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/calendar.hpp"

namespace hoso::cli {

namespace json = boost::json;

namespace {

const char* weekday_name(Date d) {
  static constexpr const char* kNames[] = {"", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy",
                                           "Chủ nhật"};
  return kNames[iso_weekday(d)];
}

const char* kind_label(HolidayKind k) {
  switch (k) {
    case HolidayKind::kFixed:
      return "ngày lễ";
    case HolidayKind::kLunar:
      return "ngày lễ âm lịch";
    case HolidayKind::kCompensatory:
      return "nghỉ bù";
    case HolidayKind::kAnnounced:
      return "theo thông báo";
  }
  return "";
}

// The calendar of --config DIR when given, else the one stored in the database.
Result<std::shared_ptr<const BusinessCalendar>> load_calendar(Ctx& c) {
  if (auto dir = c.args.get("config")) {
    CalendarSpec spec;
    auto diags = yaml::load_calendar_dir(*dir, spec);
    if (!diags.empty()) {
      std::string text;
      for (const auto& d : diags) text += d.format() + "\n";
      return make_error(ErrorCode::kInvalidDefinition, "lịch làm việc không hợp lệ:\n" + text);
    }
    auto cal = BusinessCalendar::build(spec);
    if (!cal) return cal.error();
    return std::make_shared<const BusinessCalendar>(std::move(cal.value()));
  }
  auto store = open_existing(c);
  if (!store) return store.error();
  return yaml::calendar_from_store(**store);
}

Result<Date> date_arg(const std::string& s) {
  auto d = parse_date(s);
  if (!d) return make_error(ErrorCode::kInvalidInput, fmt::format("ngày '{}' không hợp lệ (YYYY-MM-DD)", s));
  return *d;
}

Result<int> int_arg(const std::string& s, const char* what, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi)
    return make_error(ErrorCode::kInvalidInput, fmt::format("{} '{}' phải là số nguyên từ {} đến {}", what, s, lo, hi));
  return v;
}

int holidays(Ctx& c, const BusinessCalendar& cal, int year) {
  const auto days = cal.holidays(year);
  const auto worked = cal.make_up_working_days(year);
  if (c.json_out()) {
    json::array hs, ws;
    for (const auto& h : days)
      hs.push_back(json::object{{"date", format_date(h.date)},
                                {"weekday", weekday_name(h.date)},
                                {"holiday", h.holiday},
                                {"name", h.name},
                                {"kind", holiday_kind_name(h.kind)},
                                {"basis", h.basis},
                                {"compensates", format_date(h.compensates)}});
    for (const auto& w : worked)
      ws.push_back(json::object{{"date", format_date(w.date)},
                                {"weekday", weekday_name(w.date)},
                                {"note", w.note},
                                {"source", w.source}});
    c.out << json::serialize(json::object{{"year", year},
                                          {"announced", cal.has_announcement(year)},
                                          {"holidays", std::move(hs)},
                                          {"working_days", std::move(ws)}})
          << "\n";
    return 0;
  }
  c.out << fmt::format("Ngày nghỉ lễ, Tết năm {}{}:\n", year,
                       cal.has_announcement(year) ? " (theo lịch nghỉ đã công bố)"
                                                  : " (tính theo luật; chưa có lịch nghỉ công bố cho năm này)");
  for (const auto& h : days) {
    std::string extra;
    if (h.kind == HolidayKind::kCompensatory) extra = fmt::format(", bù cho {}", format_date(h.compensates));
    c.out << fmt::format("  {}  {:<9} {} ({}{})\n", format_date(h.date), weekday_name(h.date), h.name,
                         kind_label(h.kind), extra);
  }
  if (!worked.empty()) {
    c.out << "Ngày làm bù:\n";
    for (const auto& w : worked)
      c.out << fmt::format("  {}  {:<9} {}\n", format_date(w.date), weekday_name(w.date), w.note);
  }
  return 0;
}

}  // namespace

int cmd_calendar(Ctx& c) {
  const auto& p = c.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  const char* kHow =
      "cách dùng: hoso calendar holidays NĂM | add NGÀY SỐ_NGÀY | between TỪ_NGÀY ĐẾN_NGÀY "
      "[--config DIR] [--json]";
  if (!((sub == "holidays" && p.size() == 3) || ((sub == "add" || sub == "between") && p.size() == 4)))
    return usage(c, kHow);
  auto cal = load_calendar(c);
  if (!cal) return fail(c, cal.error());
  if (sub == "holidays") {
    auto year = int_arg(p[2], "năm", 1900, 2199);
    if (!year) return fail(c, year.error());
    return holidays(c, **cal, *year);
  }
  auto from = date_arg(p[2]);
  if (!from) return fail(c, from.error());
  if (sub == "add") {
    auto n = int_arg(p[3], "số ngày làm việc", 0, 10000);
    if (!n) return fail(c, n.error());
    auto due = (*cal)->add_working_days(*from, *n);
    if (!due) return fail(c, due.error());
    if (c.json_out()) {
      c.out << json::serialize(json::object{{"from", format_date(*from)},
                                            {"working_days", *n},
                                            {"due", format_date(*due)},
                                            {"weekday", weekday_name(*due)},
                                            {"due_end_utc", format_utc(end_of_day_utc(*due))}})
            << "\n";
    } else {
      c.out << fmt::format("Hạn: hết ngày {} ({}) — {} ngày làm việc, tính từ ngày sau {}\n", format_date(*due),
                           weekday_name(*due), *n, format_date(*from));
    }
    return 0;
  }
  auto to = date_arg(p[3]);
  if (!to) return fail(c, to.error());
  auto n = (*cal)->working_days_between(*from, *to);
  if (!n) return fail(c, n.error());
  if (c.json_out())
    c.out << json::serialize(json::object{{"from", format_date(*from)}, {"to", format_date(*to)}, {"working_days", *n}})
          << "\n";
  else
    c.out << *n << "\n";
  return 0;
}

namespace {

// The timers fire_due left due (their dossier unreadable or failing its head check), as one error: the
// first one's code, every one named.
Error unfired_error(const std::vector<std::pair<TimerRecord, Error>>& failed) {
  Error e = failed.front().second;
  e.message = fmt::format("{} hẹn giờ đến hạn chưa được xử lý", failed.size());
  for (const auto& [t, why] : failed)
    e.message += fmt::format("; hẹn giờ '{}' của hồ sơ {} (đến hạn {}): {}", t.name, t.dossier, t.due_at, why.message);
  return e;
}

constexpr const char* kForever = "9999-12-31T23:59:59.999Z";

}  // namespace

int cmd_clock(Ctx& c) {
  const auto& p = c.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (!((sub == "show" && p.size() == 2) || ((sub == "set" || sub == "advance") && p.size() == 3)))
    return usage(c, "cách dùng: hoso clock show | set THỜI_ĐIỂM | advance KHOẢNG (vd 3d, 12h, 1d6h, 90m)");
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  const Timestamp now = a.clock->now();
  if (sub == "show") {
    // The timers their dossiers list (rows of cancelled ones waiting to be dropped are not pending).
    auto listed = a.service->pending_timers(std::numeric_limits<std::size_t>::max());
    if (!listed) return fail(c, listed.error());
    const auto pending = static_cast<std::int64_t>(listed->size());
    const std::string next_due = listed->empty() ? "" : listed->front().due_at;
    if (c.json_out()) {
      c.out << json::serialize(json::object{{"kind", a.clock_kind.kind},
                                            {"now", format_utc(now)},
                                            {"now_vietnam", format_vietnam(now)},
                                            {"pending_timers", pending},
                                            {"next_due", next_due.empty() ? json::value(nullptr) : json::value(next_due)}})
            << "\n";
    } else {
      c.out << fmt::format("Đồng hồ {}: {} ({})\n", a.virtual_clock() ? "ảo (mô phỏng)" : "hệ thống",
                           format_vietnam(now), format_utc(now));
      c.out << fmt::format("Hẹn giờ đang chờ: {}{}\n", pending,
                           next_due.empty() ? "" : fmt::format("; sớm nhất đến hạn {}", format_vietnam(*parse_utc(next_due))));
    }
    return 0;
  }
  if (!a.virtual_clock())
    return fail(c, make_error(ErrorCode::kRefused,
                              fmt::format("{} dùng đồng hồ hệ thống: không ai được đặt giờ của nó (chỉ cơ sở dữ liệu "
                                          "tạo bằng 'hoso init --clock virtual' mới đổi được giờ)",
                                          c.db())));
  Timestamp target = now;
  if (sub == "set") {
    auto t = parse_utc(p[2]);
    if (!t) return fail(c, make_error(ErrorCode::kInvalidInput,
                                      fmt::format("'{}' không phải thời điểm UTC hợp lệ (YYYY-MM-DDTHH:MM:SSZ)", p[2])));
    target = *t;
  } else {
    auto d = parse_duration(p[2]);
    if (!d) return fail(c, make_error(ErrorCode::kInvalidInput,
                                      fmt::format("'{}' không phải khoảng thời gian hợp lệ (vd 3d, 12h, 1d6h, 90m)", p[2])));
    target.millis += *d;
  }
  if (target < now)
    return fail(c, make_error(ErrorCode::kInvalidInput,
                              fmt::format("không thể lùi đồng hồ từ {} về {}: lịch sử không được ghi lùi ngày",
                                          format_utc(now), format_utc(target))));
  // Every timer due on the way fires at its due time, earliest first, and a year's report obligations open
  // at their opening instant (config/reports.yaml, open_from) when the clock passes it; then the clock stops
  // at the target.
  auto opening = report_openings(a, now, target);
  if (!opening) return fail(c, opening.error());
  FireReport fired;
  std::size_t opened = 0;
  auto move_to = [&](Timestamp at) -> Status {
    auto f = a.service->fire_due(at, /*virtual_clock=*/true);
    if (!f) return f.error();
    // A timer left unfired (its dossier unreadable or failing its head check) stops the clock before it.
    if (!f->failed.empty()) return unfired_error(f->failed);
    fired.fired += f->fired;
    fired.dropped.insert(fired.dropped.end(), f->dropped.begin(), f->dropped.end());
    return a.store->write([&](WriteTx& tx) { return tx.set_clock(ClockRecord{"virtual", format_utc(at)}); });
  };
  for (const auto& [year, at] : *opening) {
    if (auto st = move_to(at); !st) return fail(c, st.error());
    auto n = open_year_reports(a, year);
    if (!n) return fail(c, n.error());
    opened += *n;
  }
  if (auto st = move_to(target); !st) return fail(c, st.error());
  if (c.json_out())
    c.out << json::serialize(json::object{{"now", format_utc(target)}, {"fired", fired.fired},
                                          {"dropped", fired.dropped.size()}, {"reports_opened", opened}})
          << "\n";
  else
    c.out << fmt::format("Đồng hồ ảo: {}; {} hẹn giờ đã đến hạn và được xử lý{}\n", format_vietnam(target),
                         fired.fired,
                         opened ? fmt::format("; đã mở {} nghĩa vụ báo cáo", opened) : std::string());
  return 0;
}

int cmd_timers(Ctx& c) {
  const auto& p = c.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (p.size() != 2 || (sub != "list" && sub != "run")) return usage(c, "cách dùng: hoso timers list | run [--json]");
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  const Timestamp now = a.clock->now();
  if (sub == "list") {
    auto timers = a.service->pending_timers(100000);
    if (!timers) return fail(c, timers.error());
    json::array arr;
    for (const auto& t : *timers) {
      const bool due = t.due_at <= format_utc(now);
      if (c.json_out())
        arr.push_back(json::object{{"due_at", t.due_at}, {"dossier", t.dossier}, {"name", t.name}, {"due", due}});
      else
        c.out << fmt::format("{}\t{}\t{}{}\n", format_vietnam(*parse_utc(t.due_at)), t.dossier, t.name,
                             due ? "\tđã đến hạn" : "");
    }
    if (c.json_out()) c.out << json::serialize(arr) << "\n";
    return 0;
  }
  // Timers that came due while nothing ran (the process was down) fire now, in due order, marked late.
  auto fired = a.service->fire_due(now, /*virtual_clock=*/false);
  if (!fired) return fail(c, fired.error());
  // The others fired; those whose dossier cannot be read or trusted are named, and the command fails.
  if (!fired->failed.empty()) return fail(c, unfired_error(fired->failed));
  if (c.json_out())
    c.out << json::serialize(json::object{{"now", format_utc(now)}, {"fired", fired->fired},
                                          {"dropped", fired->dropped.size()}})
          << "\n";
  else
    c.out << fmt::format("{} hẹn giờ đến hạn đã được xử lý lúc {}\n", fired->fired, format_vietnam(now));
  return 0;
}

std::optional<std::int64_t> parse_duration(const std::string& s) {
  constexpr std::string_view kUnits = "wdhms";
  constexpr std::int64_t kUnitMs[] = {7 * 86'400'000LL, 86'400'000LL, 3'600'000LL, 60'000LL, 1'000LL};
  std::int64_t total = 0;
  std::size_t i = 0;
  if (s.empty()) return std::nullopt;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i || j == s.size() || j - i > 6) return std::nullopt;
    std::int64_t n = 0;
    std::from_chars(s.data() + i, s.data() + j, n);
    const std::size_t unit = kUnits.find(s[j]);
    if (unit == std::string_view::npos) return std::nullopt;
    total += n * kUnitMs[unit];
    i = j + 1;
  }
  return total;
}

}  // namespace hoso::cli
