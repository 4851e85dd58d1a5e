// Instants and calendar dates. Pure: nothing here reads a clock.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoso {

// An instant in UTC, milliseconds since the Unix epoch.
struct Timestamp {
  std::int64_t millis = 0;
  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;
};

// A civil date, as days since 1970-01-01.
struct Date {
  std::int32_t days = 0;
  friend constexpr auto operator<=>(Date, Date) = default;
};

inline constexpr std::int64_t kVietnamOffsetMillis = 7LL * 3600 * 1000;  // UTC+7, no daylight saving

// Days since epoch of a proleptic Gregorian y-m-d (Howard Hinnant's algorithm).
std::int32_t days_from_civil(int y, unsigned m, unsigned d);
// The y-m-d of a day count.
void civil_from_days(std::int32_t z, int& y, unsigned& m, unsigned& d);

// Returns "YYYY-MM-DDTHH:MM:SS.mmmZ" (stored on disk: never change the format).
std::string format_utc(Timestamp t);
// Parses the format above (and without milliseconds); nullopt when malformed.
std::optional<Timestamp> parse_utc(std::string_view s);
// Returns the same instant as Vietnam local time "YYYY-MM-DD HH:MM:SS (UTC+7)".
std::string format_vietnam(Timestamp t);
// The civil date in Vietnam (UTC+7) at instant t.
Date vietnam_date(Timestamp t);

// "YYYY-MM-DD".
std::string format_date(Date d);
// "DD/MM/YYYY", as dates are written in Vietnamese texts.
std::string format_date_vietnamese(Date d);
// The year of a date.
int year_of(Date d);
// Parses "YYYY-MM-DD" (also "DD/MM/YYYY"); nullopt when malformed or not a real date.
std::optional<Date> parse_date(std::string_view s);

}  // namespace hoso
