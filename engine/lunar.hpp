// The Vietnamese lunisolar calendar (âm lịch), computed astronomically. Pure: no I/O, no clock.
//
// Hồ Ngọc Đức's method, with Jean Meeus's formulas ("Astronomical Algorithms", 1998): new moons from
// the k-th new moon formula, the sun's apparent longitude, all at a given time zone (Vietnam: UTC+7).
// A lunar month starts on the local day of a new moon. Month 11 is the month that contains the
// December solstice. Between two months 11 there are 12 months, or 13 in a leap year; then the leap
// month is the first month after month 11 in which the sun enters no new 30° sector (no major
// solar term), and it takes the number of the month before it. Vietnam's and China's calendars
// follow the same rules at UTC+7 and UTC+8 and so differ in some years (e.g. Tết 2007: 17/02 in
// Vietnam, 18/02 in China).
#pragma once
#include <optional>

#include "engine/time.hpp"

namespace hoso {

// Vietnam's time zone, in hours east of UTC, for the lunar calendar.
inline constexpr double kVietnamTimeZoneHours = 7.0;

// Lunar years that solar_from_lunar accepts. Meeus's formulas are accurate to minutes over these
// centuries; the calendar's holidays use 1900–2199.
inline constexpr int kFirstLunarYear = 1800;
inline constexpr int kLastLunarYear = 2299;

// A lunar date: day 1–30 of month 1–12 of a lunar year; `leap` for the leap month (tháng nhuận)
// that follows the month of the same number. The lunar year starts on Tết (day 1 of month 1).
struct LunarDate {
  int day = 1;
  int month = 1;
  int year = 2000;
  bool leap = false;
  friend constexpr bool operator==(const LunarDate&, const LunarDate&) = default;
};

// The solar date of a lunar date; nullopt when that lunar date does not exist: month or day out of
// range, a leap month the year does not have, day 30 of a 29-day month, or a year outside
// [kFirstLunarYear, kLastLunarYear].
std::optional<Date> solar_from_lunar(const LunarDate& lunar, double tz_hours = kVietnamTimeZoneHours);

// The lunar date of a solar date (any date whose lunar year is in [kFirstLunarYear, kLastLunarYear];
// outside that range the result is computed the same way but not guaranteed).
LunarDate lunar_from_solar(Date solar, double tz_hours = kVietnamTimeZoneHours);

// The leap month of a lunar year (1–12: the leap month follows that month), or 0 when the year has
// none or is outside [kFirstLunarYear, kLastLunarYear].
int leap_month(int lunar_year, double tz_hours = kVietnamTimeZoneHours);

// The number of days (29 or 30) of a lunar month; 0 when the month does not exist.
int lunar_month_length(int lunar_year, int month, bool leap, double tz_hours = kVietnamTimeZoneHours);

}  // namespace hoso
