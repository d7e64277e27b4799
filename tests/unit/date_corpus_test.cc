// The date-normalisation corpus: exact renderings, calendar facts, determinism, and that every
// written form means exactly one ISO date.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "data/date_corpus.h"

namespace attnscope {
namespace {

struct Ymd {
  int y = 0, m = 0, d = 0;
};

// "YYYY-MM-DD" → date; fails the test on anything else.
Ymd parse_iso(const std::string& iso) {
  EXPECT_EQ(iso.size(), 10u) << iso;
  EXPECT_TRUE(iso.size() == 10 && iso[4] == '-' && iso[7] == '-') << iso;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    EXPECT_TRUE(i < iso.size() && iso[i] >= '0' && iso[i] <= '9') << iso;
  }
  if (iso.size() != 10) return {};
  return Ymd{std::stoi(iso.substr(0, 4)), std::stoi(iso.substr(5, 2)), std::stoi(iso.substr(8, 2))};
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    // Overlong forms, surrogates, out of range.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

TEST(DateCorpus, RendersEveryFormatExactly) {
  // 1993-10-12 was a Tuesday.
  const std::map<std::string, std::string> expected = {
      {"en_long", "October 12, 1993"},
      {"en_short", "Oct 12, 1993"},
      {"en_day_short", "12 Oct 1993"},
      {"en_day_long", "12 October 1993"},
      {"en_long_weekday", "Tuesday, October 12, 1993"},
      {"en_rfc", "Tue, 12 Oct 1993"},
      {"en_ordinal", "12th of October 1993"},
      {"en_lower", "october 12 1993"},
      {"en_month_ordinal", "October 12th, 1993"},
      {"en_upper_dash", "12-OCT-1993"},
      {"pt_long", "12 de outubro de 1993"},
      {"pt_long_weekday", "terça-feira, 12 de outubro de 1993"},
      {"pt_long_capitalized", "12 de Outubro de 1993"},
      {"pt_numeric", "12/10/1993"},
      {"pt_numeric_short", "12/10/93"},
      {"pt_short", "12 out 1993"},
      {"pt_dotted", "12.10.1993"},
      {"pt_dash", "12-out-1993"},
      {"pt_short_weekday", "ter, 12 de out. de 1993"},
      {"pt_numeric_dash", "12-10-1993"},
      {"iso_dotted", "1993.10.12"},
      {"iso_slash", "1993/10/12"},
  };
  const std::vector<std::string> names = date_format_names();
  EXPECT_GE(names.size(), 20u);
  EXPECT_EQ(names.size(), expected.size());
  for (const std::string& name : names) {
    ASSERT_TRUE(expected.count(name)) << "no expectation for format " << name;
    EXPECT_EQ(format_date(1993, 10, 12, name), expected.at(name)) << name;
  }
}

TEST(DateCorpus, SingleDigitDaysAndTheFirstOfTheMonth) {
  // 1993-10-09 was a Saturday.
  EXPECT_EQ(format_date(1993, 10, 9, "pt_long_weekday"), "sábado, 9 de outubro de 1993");
  EXPECT_EQ(format_date(1993, 10, 9, "en_rfc"), "Sat, 9 Oct 1993");
  EXPECT_EQ(format_date(1993, 10, 9, "pt_numeric"), "09/10/1993");
  EXPECT_EQ(format_date(1993, 10, 9, "pt_numeric_short"), "9/10/93");
  EXPECT_EQ(format_date(1993, 10, 9, "pt_short_weekday"), "sáb, 9 de out. de 1993");
  EXPECT_EQ(format_date(1993, 10, 9, "en_upper_dash"), "09-OCT-1993");
  EXPECT_EQ(format_date(1993, 10, 9, "iso_dotted"), "1993.10.09");
  EXPECT_EQ(format_date(2003, 1, 5, "pt_numeric_short"), "5/1/03");
  // "1º" (U+00BA) for the first day in the Portuguese long forms; 2024-03-01 was a Friday.
  EXPECT_EQ(format_date(2024, 3, 1, "pt_long"), "1º de março de 2024");
  EXPECT_EQ(format_date(2024, 3, 1, "pt_long_weekday"), "sexta-feira, 1º de março de 2024");
  EXPECT_EQ(format_date(2024, 3, 1, "pt_long_capitalized"), "1º de Março de 2024");
  EXPECT_EQ(format_date(2024, 3, 1, "pt_short"), "1 mar 2024");
  EXPECT_EQ(format_date(2024, 3, 2, "pt_long"), "2 de março de 2024");
}

TEST(DateCorpus, EnglishOrdinals) {
  const std::map<int, std::string> ord = {{1, "1st"},   {2, "2nd"},   {3, "3rd"},   {4, "4th"},
                                          {11, "11th"}, {12, "12th"}, {13, "13th"}, {21, "21st"},
                                          {22, "22nd"}, {23, "23rd"}, {30, "30th"}, {31, "31st"}};
  for (const auto& [day, s] : ord) {
    EXPECT_EQ(format_date(2001, 1, day, "en_ordinal"), s + " of January 2001");
  }
}

TEST(DateCorpus, KnownWeekdays) {
  // Monday = 0.
  EXPECT_EQ(day_of_week(1993, 10, 9), 5);   // Saturday
  EXPECT_EQ(day_of_week(2000, 1, 1), 5);    // Saturday
  EXPECT_EQ(day_of_week(2024, 2, 29), 3);   // Thursday
  EXPECT_EQ(day_of_week(1900, 1, 1), 0);    // Monday
  EXPECT_EQ(day_of_week(1970, 1, 1), 3);    // Thursday
  EXPECT_EQ(day_of_week(2099, 12, 31), 3);  // Thursday
  EXPECT_EQ(day_of_week(1900, 3, 1), 3);    // Thursday (1900-02 has 28 days)
  EXPECT_EQ(format_date(2000, 1, 1, "en_long_weekday"), "Saturday, January 1, 2000");
  EXPECT_EQ(format_date(2024, 2, 29, "en_long_weekday"), "Thursday, February 29, 2024");
  EXPECT_EQ(format_date(1900, 1, 1, "en_long_weekday"), "Monday, January 1, 1900");
  EXPECT_EQ(format_date(2000, 1, 1, "pt_long_weekday"), "sábado, 1º de janeiro de 2000");
  EXPECT_EQ(format_date(2024, 2, 29, "pt_short_weekday"), "qui, 29 de fev. de 2024");
}

TEST(DateCorpus, WeekdaysAdvanceByOneEveryDayOfTheRange) {
  int expected = day_of_week(1900, 1, 1);
  int64_t days = 0;
  for (int y = 1900; y <= 2099; ++y) {
    int year_days = 0;
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= days_in_month(y, m); ++d) {
        ASSERT_EQ(day_of_week(y, m, d), expected) << y << "-" << m << "-" << d;
        expected = (expected + 1) % 7;
        ++year_days;
        ++days;
      }
    }
    ASSERT_EQ(year_days, is_leap_year(y) ? 366 : 365) << y;
  }
  EXPECT_EQ(days, 73049);  // 200 years with 49 leap days (2000 is one, 1900 and 2100 are not)
}

TEST(DateCorpus, LeapYears) {
  EXPECT_FALSE(is_leap_year(1900));
  EXPECT_TRUE(is_leap_year(2000));
  EXPECT_TRUE(is_leap_year(2024));
  EXPECT_FALSE(is_leap_year(2023));
  EXPECT_FALSE(is_leap_year(2100));
  EXPECT_EQ(days_in_month(1900, 2), 28);
  EXPECT_EQ(days_in_month(2000, 2), 29);
  EXPECT_EQ(days_in_month(2023, 4), 30);
  EXPECT_EQ(days_in_month(2023, 12), 31);
  EXPECT_THROW(format_date(1900, 2, 29, "pt_long"), Error);
  EXPECT_EQ(format_date(2000, 2, 29, "pt_long"), "29 de fevereiro de 2000");
  EXPECT_THROW(format_date(2023, 4, 31, "en_long"), Error);
}

TEST(DateCorpus, RejectsBadInput) {
  EXPECT_THROW(format_date(1993, 10, 12, "us_numeric"), Error);
  EXPECT_THROW(format_date(1993, 13, 1, "en_long"), Error);
  EXPECT_THROW(format_date(1993, 0, 1, "en_long"), Error);
  EXPECT_THROW(format_date(1993, 1, 0, "en_long"), Error);
  EXPECT_THROW(format_date(999, 1, 1, "en_long"), Error);
  // Two-digit years are read as 1950–2049; other years cannot be written that way.
  EXPECT_THROW(format_date(1949, 12, 31, "pt_numeric_short"), Error);
  EXPECT_THROW(format_date(2050, 1, 1, "pt_numeric_short"), Error);
  EXPECT_EQ(format_date(1950, 1, 1, "pt_numeric_short"), "1/1/50");
  EXPECT_EQ(format_date(2049, 12, 31, "pt_numeric_short"), "31/12/49");
  EXPECT_THROW(generate_dates(-1, 1), Error);
  EXPECT_TRUE(generate_dates(0, 1).empty());
}

TEST(DateCorpus, DeterministicPerSeed) {
  const std::vector<DatePair> a = generate_dates(500, 42);
  const std::vector<DatePair> b = generate_dates(500, 42);
  const std::vector<DatePair> c = generate_dates(500, 43);
  const std::vector<DatePair> prefix = generate_dates(100, 42);
  ASSERT_EQ(a.size(), 500u);
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].written, b[i].written);
    EXPECT_EQ(a[i].iso, b[i].iso);
    differ += a[i].iso != c[i].iso ? 1 : 0;
  }
  EXPECT_GT(differ, 450);
  for (size_t i = 0; i < prefix.size(); ++i) EXPECT_EQ(prefix[i].written, a[i].written);
}

// One sample shared by the corpus-wide checks below.
const std::vector<DatePair>& sample() {
  static const std::vector<DatePair> pairs = generate_dates(20000, 2024);
  return pairs;
}

TEST(DateCorpus, IsoIsAlwaysAValidDateInRange) {
  int min_year = 9999, max_year = 0;
  for (const DatePair& p : sample()) {
    const Ymd d = parse_iso(p.iso);
    ASSERT_GE(d.m, 1) << p.iso;
    ASSERT_LE(d.m, 12) << p.iso;
    ASSERT_GE(d.d, 1) << p.iso;
    ASSERT_LE(d.d, days_in_month(d.y, d.m)) << p.iso;
    ASSERT_EQ(iso_date(d.y, d.m, d.d), p.iso);
    min_year = std::min(min_year, d.y);
    max_year = std::max(max_year, d.y);
  }
  EXPECT_GE(min_year, 1900);
  EXPECT_LE(max_year, 2099);
  // Uniform over 200 years: a 20k sample reaches close to both ends.
  EXPECT_LE(min_year, 1902);
  EXPECT_GE(max_year, 2097);
}

TEST(DateCorpus, EveryPairIsARenderingOfItsDateAndEveryFormatAppears) {
  const std::vector<std::string> names = date_format_names();
  std::map<std::string, int> seen;
  const std::vector<DatePair>& pairs = sample();
  for (size_t i = 0; i < 5000; ++i) {
    const Ymd d = parse_iso(pairs[i].iso);
    bool matched = false;
    for (const std::string& name : names) {
      if (name == "pt_numeric_short" && (d.y < 1950 || d.y > 2049)) continue;
      if (format_date(d.y, d.m, d.d, name) == pairs[i].written) {
        ++seen[name];
        matched = true;
      }
    }
    ASSERT_TRUE(matched) << pairs[i].written << " is not a rendering of " << pairs[i].iso;
  }
  for (const std::string& name : names) {
    EXPECT_GT(seen[name], 100) << name;  // ~5000 / 22 each
  }
}

TEST(DateCorpus, AllTextIsValidUtf8WithPortugueseAccents) {
  bool saw_marco = false, saw_sabado = false, saw_terca = false;
  for (const DatePair& p : sample()) {
    ASSERT_TRUE(valid_utf8(p.written)) << p.written;
    ASSERT_TRUE(valid_utf8(p.iso));
    saw_marco = saw_marco || p.written.find("março") != std::string::npos;
    saw_sabado = saw_sabado || p.written.find("sábado") != std::string::npos;
    saw_terca = saw_terca || p.written.find("terça-feira") != std::string::npos;
  }
  EXPECT_TRUE(saw_marco);
  EXPECT_TRUE(saw_sabado);
  EXPECT_TRUE(saw_terca);
  for (const std::string& name : date_format_names()) {
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= 7; ++d) EXPECT_TRUE(valid_utf8(format_date(2001, m, d, name)));
    }
  }
}

TEST(DateCorpus, NoWrittenFormMeansTwoDates) {
  std::unordered_map<std::string, std::string> meaning;
  auto add = [&meaning](const std::string& written, const std::string& iso) {
    const auto [it, inserted] = meaning.emplace(written, iso);
    EXPECT_EQ(it->second, iso) << "'" << written << "' is written for both " << it->second
                               << " and " << iso;
  };
  for (const DatePair& p : sample()) add(p.written, p.iso);
  // Every format over whole years, including the two-digit-year limits and a leap year, so
  // day/month swaps and two- vs four-digit years would collide here.
  const std::vector<std::string> names = date_format_names();
  for (int y : {1950, 1993, 2000, 2024, 2049}) {
    for (int m = 1; m <= 12; ++m) {
      for (int d = 1; d <= days_in_month(y, m); ++d) {
        for (const std::string& name : names) add(format_date(y, m, d, name), iso_date(y, m, d));
      }
    }
  }
}

// A tiny parser for the all-numeric formats, following the header's conventions: a four-digit
// first field means year first; otherwise day first, and a two-digit year is 1950–2049.
bool parse_numeric(const std::string& s, Ymd* out) {
  std::vector<std::string> fields(1);
  char sep = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      fields.back() += c;
    } else if (c == '/' || c == '.' || c == '-') {
      if (sep != 0 && c != sep) return false;
      sep = c;
      fields.emplace_back();
    } else {
      return false;
    }
  }
  if (fields.size() != 3) return false;
  for (const std::string& f : fields) {
    if (f.empty()) return false;
  }
  if (fields[0].size() == 4) {
    *out = Ymd{std::stoi(fields[0]), std::stoi(fields[1]), std::stoi(fields[2])};
  } else {
    int y = std::stoi(fields[2]);
    if (fields[2].size() == 2) y += y >= 50 ? 1900 : 2000;
    *out = Ymd{y, std::stoi(fields[1]), std::stoi(fields[0])};
  }
  return true;
}

TEST(DateCorpus, NumericFormsParseBackToTheirDate) {
  int parsed = 0;
  for (const DatePair& p : sample()) {
    Ymd d;
    if (!parse_numeric(p.written, &d)) continue;
    ++parsed;
    ASSERT_EQ(iso_date(d.y, d.m, d.d), p.iso) << p.written;
  }
  // Six numeric formats of 22: about 27% of the sample.
  EXPECT_GT(parsed, 4000);
}

}  // namespace
}  // namespace attnscope
