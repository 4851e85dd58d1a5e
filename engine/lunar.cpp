#include "engine/lunar.hpp"

#include <array>
#include <cmath>
#include <cstdint>

namespace hoso {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRadiansPerDegree = kPi / 180.0;
constexpr double kMeanSynodicMonth = 29.530588853;  // days
// Julian day of the new moon of 1900-01-01 13:52 UT, from which new moons are numbered (k = 0).
constexpr double kNewMoonEpochJd = 2415021.076998695;
// Julian day number of 1970-01-01, the epoch of Date.
constexpr std::int64_t kUnixEpochJdn = 2440588;

std::int64_t jdn_of(Date d) { return d.days + kUnixEpochJdn; }
Date date_of_jdn(std::int64_t jdn) { return Date{static_cast<std::int32_t>(jdn - kUnixEpochJdn)}; }

std::int64_t floor_to_int(double x) { return static_cast<std::int64_t>(std::floor(x)); }

// Julian day (UT) of the k-th new moon after the one of 1900-01-01 (Meeus, with the terms Hồ Ngọc
// Đức keeps; the last step corrects dynamical time to universal time).
double new_moon_jd(std::int64_t k_index) {
  const double k = static_cast<double>(k_index);
  const double t = k / 1236.85;  // Julian centuries since 1900-01-00.5
  const double t2 = t * t;
  const double t3 = t2 * t;
  const double dr = kRadiansPerDegree;
  double jd = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3;
  jd += 0.00033 * std::sin((166.56 + 132.87 * t - 0.009173 * t2) * dr);               // mean new moon
  const double m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3;     // sun's mean anomaly
  const double mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3;  // moon's mean anomaly
  const double f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3;  // moon's arg. of latitude
  double c1 = (0.1734 - 0.000393 * t) * std::sin(m * dr) + 0.0021 * std::sin(2 * dr * m);
  c1 = c1 - 0.4068 * std::sin(mpr * dr) + 0.0161 * std::sin(dr * 2 * mpr);
  c1 = c1 - 0.0004 * std::sin(dr * 3 * mpr);
  c1 = c1 + 0.0104 * std::sin(dr * 2 * f) - 0.0051 * std::sin(dr * (m + mpr));
  c1 = c1 - 0.0074 * std::sin(dr * (m - mpr)) + 0.0004 * std::sin(dr * (2 * f + m));
  c1 = c1 - 0.0004 * std::sin(dr * (2 * f - m)) - 0.0006 * std::sin(dr * (2 * f + mpr));
  c1 = c1 + 0.0010 * std::sin(dr * (2 * f - mpr)) + 0.0005 * std::sin(dr * (2 * mpr + m));
  const double delta_t = t < -11
                             ? 0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
                             : -0.000278 + 0.000265 * t + 0.000262 * t2;
  return jd + c1 - delta_t;
}

// The sun's apparent longitude, in radians in [0, 2π), at Julian day jd (Meeus, low precision).
double sun_longitude(double jd) {
  const double t = (jd - 2451545.0) / 36525;  // Julian centuries since 2000-01-01 12:00 UT
  const double t2 = t * t;
  const double dr = kRadiansPerDegree;
  const double m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2;  // mean anomaly
  const double l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2;                       // mean longitude
  double dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * std::sin(dr * m);
  dl += (0.019993 - 0.000101 * t) * std::sin(dr * 2 * m) + 0.000290 * std::sin(dr * 3 * m);
  const double l = (l0 + dl) * dr;
  return l - 2 * kPi * std::floor(l / (2 * kPi));
}

// The local day (Julian day number) that contains the k-th new moon.
std::int64_t new_moon_day(std::int64_t k, double tz_hours) {
  return floor_to_int(new_moon_jd(k) + 0.5 + tz_hours / 24);
}

// The 30° sector of the sun's longitude (0–11, 0 from the March equinox) at the local midnight that
// starts day `jdn`. A major solar term (trung khí) begins where the sector changes.
int sun_sector(std::int64_t jdn, double tz_hours) {
  return static_cast<int>(
      std::floor(sun_longitude(static_cast<double>(jdn) - 0.5 - tz_hours / 24) / kPi * 6));
}

// The first day of lunar month 11 of solar year y: the month that contains the December solstice.
std::int64_t month11_start(int y, double tz_hours) {
  const std::int64_t dec31 = jdn_of(Date{days_from_civil(y, 12, 31)});
  const std::int64_t k = floor_to_int(static_cast<double>(dec31 - 2415021) / kMeanSynodicMonth);
  const std::int64_t start = new_moon_day(k, tz_hours);
  // A month that starts with the sun already at 270° or more begins after the solstice.
  return sun_sector(start, tz_hours) >= 9 ? new_moon_day(k - 1, tz_hours) : start;
}

// The months from lunar month 11 of solar year y-1 up to month 11 of solar year y: months 11 and 12
// of lunar year y-1, then months 1–10 of lunar year y, with one leap month among them when the
// two months 11 are 13 lunations apart.
struct MonthRun {
  std::array<std::int64_t, 14>
      start{};  // start[i]: first day (JDN) of month i; start[count]: the next month 11
  int count = 12;
  int leap_index = -1;  // the leap month's index, or -1

  // Month i's place in the year: its offset from month 11 not counting the leap month (0 → 11,
  // 1 → 12, 2 → 1, …) and whether it is the leap month.
  int offset(int i) const { return leap_index >= 0 && i >= leap_index ? i - 1 : i; }
  static int month_of_offset(int off) { return (off + 10) % 12 + 1; }
};

MonthRun months_ending(int y, double tz_hours) {
  MonthRun run;
  const std::int64_t a11 = month11_start(y - 1, tz_hours);
  const std::int64_t b11 = month11_start(y, tz_hours);
  const std::int64_t k = floor_to_int(0.5 + (static_cast<double>(a11) - kNewMoonEpochJd) / kMeanSynodicMonth);
  run.count = b11 - a11 > 365 ? 13 : 12;
  run.start[0] = a11;
  for (int i = 1; i < run.count; ++i) run.start[i] = new_moon_day(k + i, tz_hours);
  run.start[run.count] = b11;
  if (run.count == 13) {
    // The first month after month 11 during which the sun enters no new sector is the leap month.
    run.leap_index = 12;  // not reached: 13 lunations hold only 12 major terms
    for (int i = 1; i < 13; ++i) {
      if (sun_sector(run.start[i], tz_hours) == sun_sector(run.start[i + 1], tz_hours)) {
        run.leap_index = i;
        break;
      }
    }
  }
  return run;
}

// The index in its run of a lunar month, or -1 when the month does not exist.
struct MonthPlace {
  MonthRun run;
  int index = -1;
};

MonthPlace place_of(int year, int month, bool leap, double tz_hours) {
  MonthPlace p;
  if (year < kFirstLunarYear || year > kLastLunarYear || month < 1 || month > 12) return p;
  p.run = months_ending(month >= 11 ? year + 1 : year, tz_hours);
  const int off = month >= 11 ? month - 11 : month + 1;
  const int leap_index = p.run.leap_index;
  if (leap) {
    if (leap_index >= 0 && leap_index == off + 1) p.index = leap_index;
  } else {
    p.index = leap_index >= 0 && off >= leap_index ? off + 1 : off;
  }
  return p;
}

}  // namespace

std::optional<Date> solar_from_lunar(const LunarDate& lunar, double tz_hours) {
  if (lunar.day < 1 || lunar.day > 30) return std::nullopt;
  const MonthPlace p = place_of(lunar.year, lunar.month, lunar.leap, tz_hours);
  if (p.index < 0) return std::nullopt;
  const std::int64_t first = p.run.start[static_cast<std::size_t>(p.index)];
  const std::int64_t length = p.run.start[static_cast<std::size_t>(p.index) + 1] - first;
  if (lunar.day > length) return std::nullopt;
  return date_of_jdn(first + lunar.day - 1);
}

LunarDate lunar_from_solar(Date solar, double tz_hours) {
  const std::int64_t jdn = jdn_of(solar);
  int y;
  unsigned m, d;
  civil_from_days(solar.days, y, m, d);
  const int run_year = jdn < month11_start(y, tz_hours) ? y : y + 1;
  const MonthRun run = months_ending(run_year, tz_hours);
  int i = run.count - 1;
  while (i > 0 && run.start[static_cast<std::size_t>(i)] > jdn) --i;
  const int off = run.offset(i);
  LunarDate out;
  out.day = static_cast<int>(jdn - run.start[static_cast<std::size_t>(i)]) + 1;
  out.month = MonthRun::month_of_offset(off);
  out.year = off < 2 ? run_year - 1 : run_year;
  out.leap = i == run.leap_index;
  return out;
}

int leap_month(int lunar_year, double tz_hours) {
  if (lunar_year < kFirstLunarYear || lunar_year > kLastLunarYear) return 0;
  // Months 1–10 of the year are in the run ending in its solar year, months 11 and 12 in the next.
  const MonthRun run = months_ending(lunar_year, tz_hours);
  if (run.leap_index >= 0 && run.offset(run.leap_index) >= 2)
    return MonthRun::month_of_offset(run.offset(run.leap_index));
  const MonthRun next = months_ending(lunar_year + 1, tz_hours);
  if (next.leap_index >= 0 && next.offset(next.leap_index) < 2)
    return MonthRun::month_of_offset(next.offset(next.leap_index));
  return 0;
}

int lunar_month_length(int lunar_year, int month, bool leap, double tz_hours) {
  const MonthPlace p = place_of(lunar_year, month, leap, tz_hours);
  if (p.index < 0) return 0;
  const auto i = static_cast<std::size_t>(p.index);
  return static_cast<int>(p.run.start[i + 1] - p.run.start[i]);
}

}  // namespace hoso
