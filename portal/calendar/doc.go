// Package calendar is the England and Wales working-day calendar that the
// visit timeline counts in.
//
// # Dates
//
// A date is a civil date, represented as a time.Time at midnight UTC (see
// Date and ParseDate). Every method accepts any time.Time and uses the
// calendar date it has in its own location, so a time of day or a time zone
// never moves an answer by a day. Every time.Time returned is at midnight UTC.
//
// # Bank holidays
//
// Bank holidays come from two sources:
//
//   - the standing rules, computed for any year: New Year's Day, Good Friday,
//     Easter Monday, the first and last Mondays of May, the last Monday of
//     August, Christmas Day and Boxing Day. A holiday that falls on a weekend
//     moves to the next weekday not already a holiday, so Christmas on a
//     Saturday gives Monday 27 and Tuesday 28 December, and Christmas on a
//     Sunday gives Boxing Day on Monday 26 and Christmas Day (substitute day)
//     on Tuesday 27;
//   - data: announced exceptions (moved, removed and extra holidays), embedded
//     from england-and-wales.txt and extendable by an operator with files of
//     the same format (see New).
//
// Exceptions are only known once they are announced, so the calendar vouches
// for its answers only in the years Covered reports (FirstCovered to
// LastCovered, and those an operator file marks "YYYY covered"). Outside
// them it still answers, from the rules and any operator data, and callers
// decide whether that is good enough: the visit timeline and the letter
// events refuse to count working days there.
//
// # Invariants
//
//   - A working day is Monday to Friday and not a bank holiday.
//   - A Calendar is immutable once New returns it, and safe for concurrent use.
//   - Within one year, bank holidays are on distinct weekdays.
package calendar
