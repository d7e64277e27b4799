// The demo's date-normalisation corpus, generated in C++: dates written the way people write
// them, in Portuguese and English and in many formats, paired with their ISO 8601 form
// ("terça-feira, 12 de outubro de 1993" → "1993-10-12").
//
// Choices, so that every written form means exactly one date:
//  - No US numeric formats (10/09/1993, 10/9/93). A bare "09/10/1993" cannot say whether it is
//    month-first (US) or day-first (Portuguese), so every all-numeric format here is day-first
//    (Portuguese convention) except the year-first ISO-like ones (1993.10.09, 1993/10/09), whose
//    four-digit leading year makes them unmistakable. English formats always spell the month.
//  - Two-digit years ("9/10/93") read as 1950–1999 for 50–99 and 2000–2049 for 00–49; only dates
//    in 1950-01-01 … 2049-12-31 are written that way (format_date refuses others).
//  - Month abbreviations shared by both languages (jan, mar, jun, jul, nov) name the same month
//    in both, and no abbreviation of one language is another month's in the other.
//  - Portuguese writes the first day of a month as "1º" in the long forms ("1º de outubro de
//    1993", the Brazilian convention); other Portuguese formats and all English ones use digits.
//  - Portuguese month and weekday names are lowercase with their accents (março, terça-feira,
//    sábado), in UTF-8; "pt_long_capitalized" is the older capitalised-month style.
// Weekdays come from the proleptic Gregorian calendar (days since 1970-01-01), so they are right
// for every date in range; 1900 is not a leap year and 2000 is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

struct DatePair {
  std::string written, iso;
};

// n pairs from a seed: for each, a format drawn uniformly, then a date drawn uniformly in
// [1900-01-01, 2099-12-31] (in [1950-01-01, 2049-12-31] for two-digit-year formats).
// The same (n, seed) gives the same pairs; a longer run extends a shorter one.
std::vector<DatePair> generate_dates(int64_t n, uint64_t seed);

// The formats by name, for docs and tests; e.g. "pt_long_weekday" renders 1993-10-12 as
// "terça-feira, 12 de outubro de 1993".
std::vector<std::string> date_format_names();

// One date in one format. Throws attnscope::Error for an unknown format, an invalid date
// (month 1–12, day within the month, four-digit year 1000–9999), or a year a two-digit-year format
// cannot represent unambiguously.
std::string format_date(int year, int month, int day, const std::string& format_name);

// "YYYY-MM-DD".
std::string iso_date(int year, int month, int day);

// Calendar helpers (proleptic Gregorian).
bool is_leap_year(int year);
int days_in_month(int year, int month);
// 0 = Monday … 6 = Sunday.
int day_of_week(int year, int month, int day);

}  // namespace attnscope
