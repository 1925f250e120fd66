package portal

import "time"

// Metrics receives what the domain counts, for monitoring. The domain calls
// it from its acts and its background checks; the operator's wiring
// (cmd/portal serve) passes an implementation that exports them, and the
// domain itself knows nothing of how.
//
// Every argument is a count, a time or a value from a fixed set (outcomes,
// policy ids, operations): never an id, a name or an email, so nothing
// counted can identify a visit or a person. Methods must be cheap and safe
// for concurrent use: some run on every request.
type Metrics interface {
	// Decision is one policy decision on an act: allowed or not, and the
	// first policy that decided it ("" when none did: denied by default).
	Decision(allow bool, policy string)
	// AuditAppended is one commit that appended audit records.
	AuditAppended()
	// AuditUncovered is since when the audit trail has held records that
	// no anchored checkpoint covers; zero when every record is covered.
	AuditUncovered(since time.Time)
	// Ready is the latest readiness (the background check, every 10 s).
	Ready(ready bool)
	// Retention is the latest count of visits by where their destruction
	// stands, refreshed after each retention sweep.
	Retention(RetentionCounts)
	// StoreBehind is, after each retention run, how many visits' object
	// store is not yet at their legal hold or expiry rule, and how many
	// files' objects not yet at their visit's hold: acts still carrying
	// them, or that stopped part-way, which the runs finish. Left above
	// zero run after run, the store is refusing.
	StoreBehind(visits, files int)
	// DestructionFailed is one failed attempt at destroying a visit.
	DestructionFailed()
	// S3Error is one failed exchange with the object store, by operation
	// (see blobs.Config.OnError).
	S3Error(op string)
	// DatabaseError is one failure of the database, by where the domain
	// saw it: "ping" (readiness), "audit" (a refusal's record),
	// "checkpoint" (signing the trail's head), "janitor" (upload heartbeats,
	// expired sessions), "retention" (the review after a sweep).
	DatabaseError(op string)
	// MailFailed is one notification that could not be delivered.
	MailFailed()
	// MailQueue is how many notifications wait to be sent, after each
	// round of the mail worker.
	MailQueue(n int)
	// Scanned is one outcome of the malware scanner on a file: "clean",
	// "infected", or "failed" (no verdict: the file waits for the worker).
	Scanned(verdict string)
	// Scanner is whether the malware scanner answered its latest check.
	Scanner(up bool)
}

// RetentionCounts counts visits by where their destruction stands.
type RetentionCounts struct {
	Due       int // past their destruction date, or being destroyed, and not on hold
	Destroyed int
	Failed    int // the last attempt at destroying them failed
	OnHold    int // under a legal hold
}

// WithMetrics sets what the domain reports its counts to (by default,
// nothing).
func WithMetrics(m Metrics) Option { return func(o *options) { o.metrics = m } }

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) Decision(bool, string)     {}
func (noMetrics) AuditAppended()            {}
func (noMetrics) AuditUncovered(time.Time)  {}
func (noMetrics) Ready(bool)                {}
func (noMetrics) Retention(RetentionCounts) {}
func (noMetrics) DestructionFailed()        {}
func (noMetrics) S3Error(string)            {}
func (noMetrics) DatabaseError(string)      {}
func (noMetrics) MailFailed()               {}
func (noMetrics) MailQueue(int)             {}
func (noMetrics) Scanned(string)            {}
func (noMetrics) Scanner(bool)              {}
func (noMetrics) StoreBehind(int, int)      {}
