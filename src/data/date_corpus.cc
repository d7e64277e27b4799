#include "data/date_corpus.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "core/error.h"
#include "core/rng.h"

namespace attnscope {

namespace {

// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                   // [0, 399]
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

struct Date {
  int year = 0, month = 0, day = 0;
  int weekday = 0;  // 0 = Monday
};

Date civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return Date{static_cast<int>(y), static_cast<int>(m), static_cast<int>(d), 0};
}

int weekday_from_days(int64_t days) {
  // 1970-01-01 was a Thursday (3 with Monday = 0).
  return static_cast<int>(((days % 7) + 7 + 3) % 7);
}

constexpr std::array<std::string_view, 12> kEnMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 12> kEnMonthsAbbr = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 12> kEnMonthsUpper = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 12> kEnMonthsLower = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kEnWeekdays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 7> kEnWeekdaysAbbr = {"Mon", "Tue", "Wed", "Thu",
                                                             "Fri", "Sat", "Sun"};

constexpr std::array<std::string_view, 12> kPtMonths = {
    "janeiro", "fevereiro", "março",    "abril",   "maio",     "junho",
    "julho",   "agosto",    "setembro", "outubro", "novembro", "dezembro"};
constexpr std::array<std::string_view, 12> kPtMonthsCapitalized = {
    "Janeiro", "Fevereiro", "Março",    "Abril",   "Maio",     "Junho",
    "Julho",   "Agosto",    "Setembro", "Outubro", "Novembro", "Dezembro"};
constexpr std::array<std::string_view, 12> kPtMonthsAbbr = {
    "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"};
constexpr std::array<std::string_view, 7> kPtWeekdays = {
    "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira",
    "sexta-feira",   "sábado",      "domingo"};
constexpr std::array<std::string_view, 7> kPtWeekdaysAbbr = {"seg", "ter", "qua", "qui",
                                                             "sex", "sáb", "dom"};

std::string_view month_of(const std::array<std::string_view, 12>& names, const Date& d) {
  return names[static_cast<size_t>(d.month - 1)];
}
std::string_view weekday_of(const std::array<std::string_view, 7>& names, const Date& d) {
  return names[static_cast<size_t>(d.weekday)];
}

std::string en_ordinal(int day) {
  const int tens = day % 100 / 10;
  const int ones = day % 10;
  const char* suffix = "th";
  if (tens != 1) {
    if (ones == 1) suffix = "st";
    if (ones == 2) suffix = "nd";
    if (ones == 3) suffix = "rd";
  }
  return fmt::format("{}{}", day, suffix);
}

// Day of month in Portuguese long forms: "1º" for the first, digits otherwise.
std::string pt_day(int day) {
  return day == 1 ? std::string("1\u00ba") : std::to_string(day);
}

struct Format {
  std::string_view name;
  bool two_digit_year;
  std::string (*render)(const Date&);
};

// Examples are for 1993-10-12 (a Tuesday).
const std::array<Format, 22> kFormats = {{
    // English: the month is always spelled out.
    {"en_long", false,  // October 12, 1993
     [](const Date& d) { return fmt::format("{} {}, {}", month_of(kEnMonths, d), d.day, d.year); }},
    {"en_short", false,  // Oct 12, 1993
     [](const Date& d) {
       return fmt::format("{} {}, {}", month_of(kEnMonthsAbbr, d), d.day, d.year);
     }},
    {"en_day_short", false,  // 12 Oct 1993
     [](const Date& d) {
       return fmt::format("{} {} {}", d.day, month_of(kEnMonthsAbbr, d), d.year);
     }},
    {"en_day_long", false,  // 12 October 1993
     [](const Date& d) { return fmt::format("{} {} {}", d.day, month_of(kEnMonths, d), d.year); }},
    {"en_long_weekday", false,  // Tuesday, October 12, 1993
     [](const Date& d) {
       return fmt::format("{}, {} {}, {}", weekday_of(kEnWeekdays, d), month_of(kEnMonths, d),
                          d.day, d.year);
     }},
    {"en_rfc", false,  // Tue, 12 Oct 1993
     [](const Date& d) {
       return fmt::format("{}, {} {} {}", weekday_of(kEnWeekdaysAbbr, d), d.day,
                          month_of(kEnMonthsAbbr, d), d.year);
     }},
    {"en_ordinal", false,  // 12th of October 1993
     [](const Date& d) {
       return fmt::format("{} of {} {}", en_ordinal(d.day), month_of(kEnMonths, d), d.year);
     }},
    {"en_lower", false,  // october 12 1993
     [](const Date& d) {
       return fmt::format("{} {} {}", month_of(kEnMonthsLower, d), d.day, d.year);
     }},
    {"en_month_ordinal", false,  // October 12th, 1993
     [](const Date& d) {
       return fmt::format("{} {}, {}", month_of(kEnMonths, d), en_ordinal(d.day), d.year);
     }},
    {"en_upper_dash", false,  // 12-OCT-1993
     [](const Date& d) {
       return fmt::format("{:02d}-{}-{}", d.day, month_of(kEnMonthsUpper, d), d.year);
     }},
    // Portuguese.
    {"pt_long", false,  // 12 de outubro de 1993
     [](const Date& d) {
       return fmt::format("{} de {} de {}", pt_day(d.day), month_of(kPtMonths, d), d.year);
     }},
    {"pt_long_weekday", false,  // terça-feira, 12 de outubro de 1993
     [](const Date& d) {
       return fmt::format("{}, {} de {} de {}", weekday_of(kPtWeekdays, d), pt_day(d.day),
                          month_of(kPtMonths, d), d.year);
     }},
    {"pt_long_capitalized", false,  // 12 de Outubro de 1993
     [](const Date& d) {
       return fmt::format("{} de {} de {}", pt_day(d.day), month_of(kPtMonthsCapitalized, d),
                          d.year);
     }},
    {"pt_numeric", false,  // 12/10/1993 (day first)
     [](const Date& d) { return fmt::format("{:02d}/{:02d}/{}", d.day, d.month, d.year); }},
    {"pt_numeric_short", true,  // 12/10/93 (day first, two-digit year)
     [](const Date& d) { return fmt::format("{}/{}/{:02d}", d.day, d.month, d.year % 100); }},
    {"pt_short", false,  // 12 out 1993
     [](const Date& d) {
       return fmt::format("{} {} {}", d.day, month_of(kPtMonthsAbbr, d), d.year);
     }},
    {"pt_dotted", false,  // 12.10.1993
     [](const Date& d) { return fmt::format("{:02d}.{:02d}.{}", d.day, d.month, d.year); }},
    {"pt_dash", false,  // 12-out-1993
     [](const Date& d) {
       return fmt::format("{}-{}-{}", d.day, month_of(kPtMonthsAbbr, d), d.year);
     }},
    {"pt_short_weekday", false,  // ter, 12 de out. de 1993
     [](const Date& d) {
       return fmt::format("{}, {} de {}. de {}", weekday_of(kPtWeekdaysAbbr, d), d.day,
                          month_of(kPtMonthsAbbr, d), d.year);
     }},
    {"pt_numeric_dash", false,  // 12-10-1993
     [](const Date& d) { return fmt::format("{:02d}-{:02d}-{}", d.day, d.month, d.year); }},
    // ISO-like, year first.
    {"iso_dotted", false,  // 1993.10.12
     [](const Date& d) { return fmt::format("{}.{:02d}.{:02d}", d.year, d.month, d.day); }},
    {"iso_slash", false,  // 1993/10/12
     [](const Date& d) { return fmt::format("{}/{:02d}/{:02d}", d.year, d.month, d.day); }},
}};

constexpr int kMinYear = 1000, kMaxYear = 9999;                  // four-digit years
constexpr int kTwoDigitMinYear = 1950, kTwoDigitMaxYear = 2049;  // "50"–"99", "00"–"49"
constexpr int kCorpusMinYear = 1900, kCorpusMaxYear = 2099;

const Format& find_format(const std::string& name) {
  for (const Format& f : kFormats) {
    if (f.name == name) return f;
  }
  std::string known;
  for (const Format& f : kFormats) {
    if (!known.empty()) known += ", ";
    known += f.name;
  }
  fail("unknown date format '{}' (known: {})", name, known);
}

void check_date(int year, int month, int day) {
  ATTN_CHECK(year >= kMinYear && year <= kMaxYear, "date {}-{}-{}: year must be {}–{}", year, month,
             day, kMinYear, kMaxYear);
  ATTN_CHECK(month >= 1 && month <= 12, "date {}-{}-{}: month must be 1–12", year, month, day);
  ATTN_CHECK(day >= 1 && day <= days_in_month(year, month),
             "date {}-{}-{}: day must be 1–{} in that month", year, month, day,
             days_in_month(year, month));
}

std::string render(const Format& f, const Date& d) {
  ATTN_CHECK(!f.two_digit_year || (d.year >= kTwoDigitMinYear && d.year <= kTwoDigitMaxYear),
             "date format '{}' writes two-digit years, read as {}–{}; {} is outside", f.name,
             kTwoDigitMinYear, kTwoDigitMaxYear, d.year);
  return f.render(d);
}

}  // namespace

bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  ATTN_CHECK(month >= 1 && month <= 12, "month {} is not 1–12", month);
  if (month == 2 && is_leap_year(year)) return 29;
  return kDays[static_cast<size_t>(month - 1)];
}

int day_of_week(int year, int month, int day) {
  return weekday_from_days(days_from_civil(year, month, day));
}

std::string iso_date(int year, int month, int day) {
  return fmt::format("{:04d}-{:02d}-{:02d}", year, month, day);
}

std::vector<std::string> date_format_names() {
  std::vector<std::string> names;
  names.reserve(kFormats.size());
  for (const Format& f : kFormats) names.emplace_back(f.name);
  return names;
}

std::string format_date(int year, int month, int day, const std::string& format_name) {
  const Format& f = find_format(format_name);
  check_date(year, month, day);
  return render(f, Date{year, month, day, day_of_week(year, month, day)});
}

std::vector<DatePair> generate_dates(int64_t n, uint64_t seed) {
  ATTN_CHECK(n >= 0, "generate_dates: n must be ≥ 0, got {}", n);
  const int64_t lo = days_from_civil(kCorpusMinYear, 1, 1);
  const int64_t hi = days_from_civil(kCorpusMaxYear, 12, 31);
  const int64_t lo2 = days_from_civil(kTwoDigitMinYear, 1, 1);
  const int64_t hi2 = days_from_civil(kTwoDigitMaxYear, 12, 31);
  Rng rng(seed);
  std::vector<DatePair> pairs;
  pairs.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Format& f = kFormats[rng.below(kFormats.size())];
    const int64_t first = f.two_digit_year ? lo2 : lo;
    const int64_t last = f.two_digit_year ? hi2 : hi;
    const int64_t days =
        first + static_cast<int64_t>(rng.below(static_cast<uint64_t>(last - first + 1)));
    Date d = civil_from_days(days);
    d.weekday = weekday_from_days(days);
    pairs.push_back({render(f, d), iso_date(d.year, d.month, d.day)});
  }
  return pairs;
}

}  // namespace attnscope
