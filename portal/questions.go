package portal

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Questions and answers between the inspection team and the provider, on
// an item of the information request or on one file: a thread, opened by
// a question, answered by posts from either side, marked answered by
// either. The text is free text, so it is sealed under the visit key like
// every other (and goes with it); the audit trail and mail carry ids,
// codes and counts only. A thread is visible to exactly those who may see
// its item or file: policy decides question.view and question.post on the
// item (as a whole, with its restriction) or on the file, with the same
// limits as the file's own listing.

// MaxQuestionText is the longest post, in characters: a short question or
// answer, not a document.
const MaxQuestionText = 2000

// QuestionView is a thread as shown.
type QuestionView struct {
	ID       string     `json:"id"`
	Item     string     `json:"item,omitempty"`
	FileID   string     `json:"file,omitempty"`
	FileName string     `json:"file_name,omitempty"`
	Side     string     `json:"side"`
	AskedBy  string     `json:"asked_by"`
	AskedAt  time.Time  `json:"asked_at"`
	Open     bool       `json:"open"`
	Answered *time.Time `json:"answered_at,omitempty"`
	Posts    []PostView `json:"posts"`
	// Awaits says the thread is open and was asked by the other side: it
	// waits for the actor's side.
	Awaits  bool   `json:"awaits_my_side"`
	CanPost bool   `json:"-"`
	VisitID string `json:"-"`
}

// PostView is one question or answer.
type PostView struct {
	ID   string    `json:"id"`
	Side string    `json:"side"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// QuestionInput asks a question on an item or on a file (one of them).
type QuestionInput struct {
	Item   string `json:"item"`
	FileID string `json:"file"`
	Text   string `json:"text"`
}

// QuestionQuery chooses threads: those on an item or a file, or all; only
// the open ones with Open.
type QuestionQuery struct {
	Item, FileID string
	Open         bool
}

func postContext(visitID, id string) string { return "question:" + visitID + ":" + id }

// Side is the actor's side of the visit: store.SideProvider for the
// provider's staff, store.SideInspectorate for the team ("" when not a
// member).
func (acc *Access) Side() string {
	switch {
	case acc.Member.Role == "":
		return ""
	case policy.IsProviderRole(acc.Member.Role):
		return store.SideProvider
	}
	return store.SideInspectorate
}

// parseText checks a post's text.
func parseText(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid("text", "Write a question or an answer.")
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "", invalid("text", "The text holds characters that cannot be stored.")
	case utf8.RuneCountInString(s) > MaxQuestionText:
		return "", invalidf("text", "Keep it to %d characters: send a longer text as a file.", MaxQuestionText)
	}
	// Lines as typed, but no control or text-direction character: the
	// other side would read a text other than the one sent.
	if err := validLines("text", s, MaxQuestionText); err != nil {
		return "", err
	}
	return s, nil
}

// decideThread decides action on a thread's item or file. A file no
// longer there takes its thread with it (not visible).
func (acc *Access) decideThread(ctx context.Context, action policy.Action, item, fileID string) (policy.Decision, *store.File, error) {
	if fileID != "" {
		f, err := acc.svc.store.File(ctx, acc.Visit.ID, fileID)
		if errors.Is(err, store.ErrNotFound) {
			return policy.Decision{Rule: "no-such-file"}, nil, nil
		}
		if err != nil {
			return policy.Decision{}, nil, err
		}
		d, err := acc.decide(ctx, action, &f)
		return d, &f, err
	}
	res, err := acc.resource(ctx, nil)
	if err != nil {
		return policy.Decision{}, nil, err
	}
	rs, err := acc.restriction(ctx, item)
	if err != nil {
		return policy.Decision{}, nil, err
	}
	res.Item = &policy.Item{Code: item, Restricted: rs.Restricted, Roles: rs.Roles}
	return acc.svc.policy.Decide(acc.principal(), action, res), nil, nil
}

// requireThread refuses as Authorize does; a thread one may not see is
// not found.
func (acc *Access) requireThread(ctx context.Context, action policy.Action, q store.Question) error {
	d, _, err := acc.decideThread(ctx, action, q.Item, q.FileID)
	if err != nil {
		return err
	}
	if d.Allow {
		return nil
	}
	if view, _, err := acc.decideThread(ctx, policy.QuestionView, q.Item, q.FileID); err != nil || !view.Allow {
		d.Visible = false
	}
	return acc.refuse(ctx, action, q.ID, d)
}

// Ask opens a thread with a question.
func (acc *Access) Ask(ctx context.Context, in QuestionInput) (QuestionView, error) {
	if err := acc.require(ctx, policy.QuestionPost, nil); err != nil {
		return QuestionView{}, err
	}
	text, err := parseText(in.Text)
	if err != nil {
		return QuestionView{}, err
	}
	q := store.Question{ID: store.NewID(), VisitID: acc.Visit.ID, Side: acc.Side(), AskedBy: acc.Actor.UserID, AskedAt: acc.svc.now()}
	switch {
	case (in.Item == "") == (in.FileID == ""):
		return QuestionView{}, invalid("item", "Ask about one item or one file.")
	case in.FileID != "":
		if !IsID(in.FileID) {
			return QuestionView{}, errNotFound
		}
		q.FileID = in.FileID
	default:
		codes, err := acc.svc.store.RequestCodes(ctx, acc.Visit.ID)
		if err != nil {
			return QuestionView{}, err
		}
		if !contains(codes, in.Item) {
			return QuestionView{}, invalid("item", "That item is not in the visit's information request.")
		}
		q.Item = in.Item
	}
	d, _, err := acc.decideThread(ctx, policy.QuestionPost, q.Item, q.FileID)
	if err != nil {
		return QuestionView{}, err
	}
	if !d.Allow {
		d.Visible = false // a file or restricted item one may not see is not there
		return QuestionView{}, acc.refuse(ctx, policy.QuestionPost, cmp.Or(q.FileID, q.Item), d)
	}
	key, err := acc.key(ctx)
	if err != nil {
		return QuestionView{}, err
	}
	p := store.Post{ID: store.NewID(), QuestionID: q.ID, VisitID: q.VisitID, Side: q.Side, PostedBy: q.AskedBy, PostedAt: q.AskedAt}
	p.TextSealed = key.Seal([]byte(text), postContext(q.VisitID, p.ID))
	rec := acc.rec("question.asked", q.ID, "success", map[string]any{"item": q.Item, "file": q.FileID, "side": q.Side})
	if err := acc.svc.store.AddQuestion(ctx, q, p, rec); err != nil {
		return QuestionView{}, err
	}
	return acc.Question(ctx, q.ID)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// thread loads a thread the actor may act on.
func (acc *Access) thread(ctx context.Context, action policy.Action, id string) (store.Question, error) {
	if err := acc.require(ctx, action, nil); err != nil {
		return store.Question{}, err
	}
	if !IsID(id) {
		return store.Question{}, errNotFound
	}
	q, err := acc.svc.store.Question(ctx, acc.Visit.ID, id)
	if err != nil {
		return q, err
	}
	return q, acc.requireThread(ctx, action, q)
}

// Reply adds an answer (or a further question) to a thread. A post from
// the side that asked opens an answered thread again.
func (acc *Access) Reply(ctx context.Context, id, text string) (QuestionView, error) {
	q, err := acc.thread(ctx, policy.QuestionPost, id)
	if err != nil {
		return QuestionView{}, err
	}
	if text, err = parseText(text); err != nil {
		return QuestionView{}, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return QuestionView{}, err
	}
	p := store.Post{ID: store.NewID(), QuestionID: q.ID, VisitID: q.VisitID, Side: acc.Side(), PostedBy: acc.Actor.UserID, PostedAt: acc.svc.now()}
	p.TextSealed = key.Seal([]byte(text), postContext(q.VisitID, p.ID))
	rec := func(reopened bool) store.AuditRecord {
		return acc.rec("question.replied", q.ID, "success", map[string]any{"side": p.Side, "reopened": reopened})
	}
	if err := acc.svc.store.AddPost(ctx, p, rec); err != nil {
		return QuestionView{}, err
	}
	return acc.Question(ctx, q.ID)
}

// MarkAnswered closes a thread.
func (acc *Access) MarkAnswered(ctx context.Context, id string) (QuestionView, error) {
	q, err := acc.thread(ctx, policy.QuestionPost, id)
	if err != nil {
		return QuestionView{}, err
	}
	rec := acc.rec("question.answered", q.ID, "success", map[string]any{"side": acc.Side()})
	err = acc.svc.store.MarkAnswered(ctx, acc.Visit.ID, q.ID, acc.Actor.UserID, acc.svc.now(), rec)
	if errors.Is(err, store.ErrConflict) {
		return QuestionView{}, conflict("This question is already marked answered.")
	}
	if err != nil {
		return QuestionView{}, err
	}
	return acc.Question(ctx, q.ID)
}
