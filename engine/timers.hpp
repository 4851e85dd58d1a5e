// The time layer of the core: turns the timer effects of an event into due instants (with the business
// calendar and the definition's deadline rules), and decides what a due timer does. Pure: the calendar,
// the rules and "now" come in as arguments; nothing here reads a clock.
#pragma once
#include <string_view>

#include "engine/calendar.hpp"
#include "engine/definition.hpp"
#include "engine/directory.hpp"
#include "engine/dossier.hpp"

namespace hoso {

// The suffix of a deadline's reminder timer ("processing" → "processing.remind").
inline constexpr std::string_view kReminderSuffix = ".remind";
// A timer that fires more than this after it was due is recorded as late.
inline constexpr std::int64_t kLateAfterMillis = 60'000;

// Works out the timers and legal clocks `e` leaves the dossier with, from its effects and the state
// before it, and records them in e.timers / e.clocks (left unset when nothing changes):
//  * start_timer with after "deadline": the legal clock of the level that holds the dossier after `e`
//    (its holder's org kind), under the deadline rule in force on the day of first submission (or of
//    `e` before that); a clock this level paused earlier resumes with what was left, or restarts when
//    the rule says so. Due at the end of the N-th working day after the day of `e`, plus a reminder at
//    08:00 (UTC+7) of the day `remind_before` working days before that;
//  * start_timer with "<N> working_days|days|hours": one timer, due then;
//  * pause_timer: the running clock keeps the working days it had left and its timers go;
//  * cancel_timer: the timer, its reminder and the clock it runs go;
//  * an event that closes the dossier drops every timer and clock.
// Fails with kInvalidDefinition when a deadline is asked for without a calendar, and with kInvalidInput
// when the calendar cannot count that far.
Status schedule_timers(const Definition& def, const Directory& dir, const BusinessCalendar* calendar,
                       const DossierState& before, Event& e);

// The TimerFired event of `timer` (pending on `state`) at `now`: a reminder tells the holder; a
// deadline marks its clock overdue and tells the holder and the level above (the rule's escalate_to);
// another timer is only recorded. Fails with kInvalidInput when the timer is not pending.
Result<Event> fire_timer(const Definition& def, const Directory& dir, const DossierState& state,
                         const std::string& timer, Timestamp now);

// The day `n` working days before `due` (n ≥ 1), for reminders.
Result<Date> working_days_before(const BusinessCalendar& calendar, Date due, int n);

}  // namespace hoso
