// Package timeline computes a focused visit's timeline from Ofsted's
// published schedule, counted in England and Wales working days (see package
// calendar):
//
//	day 1        lead inspector evaluates off site
//	day 2        notification call; access opens for the provider
//	day 3        end of day: child-level data lists and audited cases list due
//	day 5        end of day: Annex A management information due
//	day 6        the lead inspector names the children's cases; travel
//	days 7 and 8 fieldwork
//
// and then the letter of findings, counted in working days after fieldwork
// ends: draft +10, comments +11 to +15, final +22, complaints +23 to +27,
// publication +30.
//
// # Invariants
//
// A Timeline is only made by Compute, which refuses dates that break them:
//
//   - every date in it is a working day, at midnight UTC;
//   - its dates are strictly in the order of the struct's fields;
//   - fieldwork starts from 5 to 15 working days after the notification
//     (day 7 at the earliest, because the lead inspector telephones "5
//     working days before fieldwork begins" and days 3 to 6 are off site).
//
// Compute's errors are written for the administrator who entered the dates
// and may be shown to them as they are.
package timeline
