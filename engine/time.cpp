#include "engine/time.hpp"

#include <charconv>
#include <cstdio>

namespace hoso {

std::int32_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

void civil_from_days(std::int32_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int yy = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yy + (m <= 2);
}

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string format_parts(Timestamp t, bool utc_suffix) {
  const std::int64_t day = floor_div(t.millis, 86400000);
  const std::int64_t ms_of_day = t.millis - day * 86400000;
  int y;
  unsigned mo, d;
  civil_from_days(static_cast<std::int32_t>(day), y, mo, d);
  const auto ms = static_cast<int>(ms_of_day % 1000);
  const auto secs = static_cast<int>(ms_of_day / 1000);
  char buf[48];
  if (utc_suffix && y >= 0 && y <= 9999) {  // the common case, without printf's parsing
    auto put = [](char* at, int v, int width) {
      for (int i = width - 1; i >= 0; --i, v /= 10) at[i] = static_cast<char>('0' + v % 10);
    };
    char* p = buf;
    put(p, y, 4);
    p[4] = '-';
    put(p + 5, static_cast<int>(mo), 2);
    p[7] = '-';
    put(p + 8, static_cast<int>(d), 2);
    p[10] = 'T';
    put(p + 11, secs / 3600, 2);
    p[13] = ':';
    put(p + 14, secs / 60 % 60, 2);
    p[16] = ':';
    put(p + 17, secs % 60, 2);
    p[19] = '.';
    put(p + 20, ms, 3);
    p[23] = 'Z';
    return std::string(buf, 24);
  }
  if (utc_suffix) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, mo, d, secs / 3600,
                  secs / 60 % 60, secs % 60, ms);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d (UTC+7)", y, mo, d, secs / 3600,
                  secs / 60 % 60, secs % 60);
  }
  return buf;
}

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) return false;
  for (std::size_t i = pos; i < pos + len; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return std::from_chars(s.data() + pos, s.data() + pos + len, out).ec == std::errc{};
}

bool valid_ymd(int y, int m, int d) {
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

}  // namespace

std::string format_utc(Timestamp t) { return format_parts(t, true); }

std::string format_vietnam(Timestamp t) {
  return format_parts(Timestamp{t.millis + kVietnamOffsetMillis}, false);
}

std::optional<Timestamp> parse_utc(std::string_view s) {
  int y, mo, d, h, mi, se, ms = 0;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (!read_int(s, 0, 4, y) || !read_int(s, 5, 2, mo) || !read_int(s, 8, 2, d) || !read_int(s, 11, 2, h) ||
      !read_int(s, 14, 2, mi) || !read_int(s, 17, 2, se))
    return std::nullopt;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    if (!read_int(s, pos + 1, 3, ms)) return std::nullopt;
    pos += 4;
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') return std::nullopt;
  if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || se > 59) return std::nullopt;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return Timestamp{((days * 24 + h) * 60 + mi) * 60000LL + se * 1000LL + ms};
}

Date vietnam_date(Timestamp t) {
  return Date{static_cast<std::int32_t>(floor_div(t.millis + kVietnamOffsetMillis, 86400000))};
}

std::string format_date(Date date) {
  int y;
  unsigned m, d;
  civil_from_days(date.days, y, m, d);
  char buf[48];  // room for any int year, so -O3's truncation analysis has nothing to say
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

int year_of(Date date) {
  int y;
  unsigned m, d;
  civil_from_days(date.days, y, m, d);
  return y;
}

std::string format_date_vietnamese(Date date) {
  int y;
  unsigned m, d;
  civil_from_days(date.days, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02u/%02u/%04d", d, m, y);
  return buf;
}

std::optional<Date> parse_date(std::string_view s) {
  int y, m, d;
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    if (!read_int(s, 0, 4, y) || !read_int(s, 5, 2, m) || !read_int(s, 8, 2, d)) return std::nullopt;
  } else if (s.size() == 10 && s[2] == '/' && s[5] == '/') {
    if (!read_int(s, 0, 2, d) || !read_int(s, 3, 2, m) || !read_int(s, 6, 4, y)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!valid_ymd(y, m, d)) return std::nullopt;
  return Date{days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d))};
}

}  // namespace hoso
