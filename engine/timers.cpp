#include "engine/timers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "engine/core.hpp"

namespace hoso {

namespace {

constexpr std::int64_t kHourMillis = 3'600'000;
constexpr std::int64_t kReminderHourVietnam = 8;  // reminders go out at 08:00, office hours

std::string reminder_of(const std::string& timer) { return timer + std::string(kReminderSuffix); }

void drop_timer(std::vector<PendingTimer>& timers, const std::string& name) {
  std::erase_if(timers, [&](const PendingTimer& t) { return t.name == name || t.name == reminder_of(name); });
}

// "<N> <unit>" as the compiler accepted it.
bool split_duration(const std::string& s, std::int64_t& n, std::string& unit) {
  const auto sp = s.find(' ');
  if (sp == std::string::npos) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + sp, n);
  unit = s.substr(sp + 1);
  return ec == std::errc{} && p == s.data() + sp;
}

Effect notify(std::string to, std::string template_key) {
  Effect f;
  f.to = std::move(to);
  f.template_ = std::move(template_key);
  return f;
}

// The value `field` has after `e`: its change in `e`, else the dossier's before it.
Value field_after(const DossierState& before, const Event& e, FieldId field) {
  for (auto it = e.changes.rbegin(); it != e.changes.rend(); ++it)
    if (it->field == field) return it->value;
  return field.value < before.fields.size() ? before.fields[field.value] : Value{};
}

Error no_calendar() {
  return make_error(ErrorCode::kInvalidDefinition,
                    "chưa có lịch làm việc để tính hạn xử lý (config/calendar.yaml); hãy chạy lại 'hoso init'");
}

// Starts (or resumes) the legal clock of the level holding the dossier after `e`.
Status start_deadline(const Definition& def, const Directory& dir, const BusinessCalendar& cal,
                      const DossierState& before, const Event& e, const std::string& timer,
                      std::vector<PendingTimer>& timers, std::vector<LegalClock>& clocks) {
  const OrgKind level = dir.org(e.holder).kind;
  const Date today = vietnam_date(e.at);
  const Date as_of = before.submitted_at ? vietnam_date(*before.submitted_at) : today;
  const AwardId award = e.type == EventType::kDossierCreated ? e.award : before.award;
  const DeadlineRule* rule = def.deadline_for(level, award, as_of);
  drop_timer(timers, timer);
  auto same_level = [&](const LegalClock& c) { return c.level == level && c.timer == timer; };
  // A clock already running elsewhere stops: only the holder's level has time.
  std::erase_if(clocks, [&](const LegalClock& c) { return c.running && !same_level(c); });
  auto paused = std::find_if(clocks.begin(), clocks.end(), same_level);
  if (rule == nullptr) {
    if (paused != clocks.end()) clocks.erase(paused);
    return Status::Ok();  // no limit is set for this level and award
  }
  int days = rule->working_days;
  // Resuming goes on with the days that were left; a limit that had already passed stays passed (the
  // level cannot clear it by returning the dossier, and is not told twice). A restart is a new period.
  const bool resume = paused != clocks.end() && !paused->running && !rule->restart_on_resume;
  const bool was_overdue = resume && paused->overdue;
  if (resume) days = paused->remaining;
  auto due = cal.add_working_days(today, days);
  if (!due) return due.error();
  LegalClock clock{timer, level, rule->id, rule->working_days, rule->remind_before, *due, days, true, was_overdue};
  if (was_overdue) clock.due = paused->due;
  if (paused != clocks.end())
    *paused = clock;
  else
    clocks.push_back(clock);
  if (was_overdue) return Status::Ok();
  timers.push_back(PendingTimer{timer, end_of_day_utc(*due)});
  if (rule->remind_before > 0) {
    auto day = working_days_before(cal, *due, rule->remind_before);
    if (!day) return day.error();
    const Timestamp at{start_of_day_utc(*day).millis + kReminderHourVietnam * kHourMillis};
    if (e.at < at) timers.push_back(PendingTimer{reminder_of(timer), at});
  }
  return Status::Ok();
}

}  // namespace

Result<Date> working_days_before(const BusinessCalendar& calendar, Date due, int n) {
  Date d = due;
  for (int found = 0; found < n;) {
    d.days -= 1;
    if (!calendar.covers(d))
      return make_error(ErrorCode::kInvalidInput, fmt::format("ngày {} nằm ngoài lịch", format_date(d)));
    if (calendar.is_working_day(d)) ++found;
  }
  return d;
}

Status schedule_timers(const Definition& def, const Directory& dir, const BusinessCalendar* calendar,
                       const DossierState& before, Event& e) {
  std::vector<PendingTimer> timers = e.timers ? *e.timers : before.timers;
  std::vector<LegalClock> clocks = e.clocks ? *e.clocks : before.clocks;
  for (const Effect& f : e.effects) {
    switch (f.kind) {
      case Effect::Kind::kNotify:
        break;
      case Effect::Kind::kStartTimer: {
        if (f.on_field.valid()) {  // on a date the dossier holds, at f.hour Vietnam time; none without one
          drop_timer(timers, f.timer);
          const Value day = field_after(before, e, f.on_field);
          if (day.kind == Value::Kind::kDate)
            timers.push_back(
                PendingTimer{f.timer, Timestamp{start_of_day_utc(Date{static_cast<std::int32_t>(day.num)}).millis +
                                                f.hour * kHourMillis}});
          break;
        }
        if (f.after == "deadline") {
          if (calendar == nullptr) return no_calendar();
          if (auto st = start_deadline(def, dir, *calendar, before, e, f.timer, timers, clocks); !st) return st;
          break;
        }
        std::int64_t n = 0;
        std::string unit;
        if (!split_duration(f.after, n, unit))
          return make_error(ErrorCode::kInvalidDefinition, fmt::format("thời hạn '{}' không hợp lệ", f.after));
        Timestamp due = e.at;
        if (unit == "working_days") {
          if (calendar == nullptr) return no_calendar();
          auto day = calendar->add_working_days(vietnam_date(e.at), static_cast<int>(n));
          if (!day) return day.error();
          due = end_of_day_utc(*day);
        } else {
          due.millis += n * (unit == "hours" ? kHourMillis : 24 * kHourMillis);
        }
        drop_timer(timers, f.timer);
        timers.push_back(PendingTimer{f.timer, due});
        break;
      }
      case Effect::Kind::kPauseTimer: {
        if (calendar == nullptr) return no_calendar();
        drop_timer(timers, f.timer);
        for (auto& c : clocks) {
          if (c.timer != f.timer || !c.running) continue;
          auto left = calendar->working_days_between(vietnam_date(e.at), c.due);
          if (!left) return left.error();
          c.remaining = std::max(0, *left);
          c.running = false;
        }
        break;
      }
      case Effect::Kind::kCancelTimer:
        drop_timer(timers, f.timer);
        std::erase_if(clocks, [&](const LegalClock& c) { return c.timer == f.timer && c.running; });
        break;
    }
  }
  if (def.state(e.to).terminal) {
    timers.clear();
    clocks.clear();
  }
  std::sort(timers.begin(), timers.end(), [](const PendingTimer& a, const PendingTimer& b) {
    return a.due < b.due || (a.due == b.due && a.name < b.name);
  });
  if (timers != before.timers) e.timers = std::move(timers);
  if (clocks != before.clocks) e.clocks = std::move(clocks);
  return Status::Ok();
}

Result<Event> fire_timer(const Definition& def, const Directory& dir, const DossierState& state,
                         const std::string& timer, Timestamp now) {
  auto pending = std::find_if(state.timers.begin(), state.timers.end(),
                              [&](const PendingTimer& t) { return t.name == timer; });
  if (pending == state.timers.end())
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("hồ sơ {} không có hẹn giờ '{}' đang chờ", state.id, timer));
  if (now < pending->due)
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("hẹn giờ '{}' của hồ sơ {} chưa đến hạn ({})", timer, state.id,
                                  format_utc(pending->due)));
  Event e;
  e.type = EventType::kTimerFired;
  e.seq = state.version + 1;
  e.at = std::max(now, state.updated_at);
  e.from = e.to = state.state;
  e.holder = state.holder;
  e.timer = timer;
  e.late = e.at.millis - pending->due.millis > kLateAfterMillis;
  std::vector<PendingTimer> timers = state.timers;
  timers.erase(timers.begin() + (pending - state.timers.begin()));
  e.timers = std::move(timers);
  // A timeout transition of this timer from the current state moves the dossier (and adds its effects).
  for (const auto& t : def.transitions()) {
    if (t.kind != TransitionKind::kTimeout || t.timer != timer) continue;
    if (std::find(t.from.begin(), t.from.end(), state.state) == t.from.end()) continue;
    if (!t.when.matches(def.award(state.award), entry_of(dir, state.origin), dir.org(state.origin).kind)) continue;
    e.action = t.action;
    e.to = t.to;
    e.holder = resolve_holder(dir, def.state(t.to), state.origin);
    e.effects = t.effects;
    break;
  }
  const bool reminder =
      timer.size() > kReminderSuffix.size() && timer.ends_with(kReminderSuffix);
  const std::string clock_timer = reminder ? timer.substr(0, timer.size() - kReminderSuffix.size()) : timer;
  auto clock = std::find_if(state.clocks.begin(), state.clocks.end(),
                            [&](const LegalClock& c) { return c.timer == clock_timer && c.running; });
  if (clock == state.clocks.end()) return e;  // a plain timer: recorded, nothing more
  if (reminder) {
    e.effects.push_back(notify("holder", "deadline_reminder"));
    return e;
  }
  std::vector<LegalClock> clocks = state.clocks;
  clocks[static_cast<std::size_t>(clock - state.clocks.begin())].overdue = true;
  e.clocks = std::move(clocks);
  e.effects.push_back(notify("holder", "deadline_overdue"));
  for (const auto& r : def.deadlines()) {
    if (r.id != clock->rule || !r.escalate_to) continue;
    State above;
    above.holder = *r.escalate_to;
    const OrgId org = resolve_holder(dir, above, state.origin);
    if (org.valid() && org != state.holder)
      e.effects.push_back(
          notify("org:" + dir.org(org).key, "deadline_overdue_superior"));
  }
  return e;
}

}  // namespace hoso
