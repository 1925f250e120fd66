package portal

import (
	"context"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Reading questions (questions.go has the rules): each thread is shown
// only when policy lets the actor see its item or file.

// Question is one thread with its posts.
func (acc *Access) Question(ctx context.Context, id string) (QuestionView, error) {
	q, err := acc.thread(ctx, policy.QuestionView, id)
	if err != nil {
		return QuestionView{}, err
	}
	out, err := acc.views(ctx, []store.Question{q})
	if err != nil {
		return QuestionView{}, err
	}
	return out[0], nil
}

// Questions lists the threads the actor may see, the oldest first.
func (acc *Access) Questions(ctx context.Context, qq QuestionQuery) ([]QuestionView, error) {
	if err := acc.require(ctx, policy.QuestionView, nil); err != nil {
		return nil, err
	}
	all, err := acc.svc.store.Questions(ctx, acc.Visit.ID)
	if err != nil {
		return nil, err
	}
	var shown []store.Question
	for _, q := range all {
		if qq.Item != "" && q.Item != qq.Item || qq.FileID != "" && q.FileID != qq.FileID || qq.Open && !q.AnsweredAt.IsZero() {
			continue
		}
		d, _, err := acc.decideThread(ctx, policy.QuestionView, q.Item, q.FileID)
		if err != nil {
			return nil, err
		}
		if d.Allow {
			shown = append(shown, q)
		}
	}
	return acc.views(ctx, shown)
}

// views opens the threads' posts and names their people.
func (acc *Access) views(ctx context.Context, qs []store.Question) ([]QuestionView, error) {
	out := make([]QuestionView, 0, len(qs))
	if len(qs) == 0 {
		return out, nil
	}
	s := acc.svc
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	posts, err := s.store.Posts(ctx, acc.Visit.ID)
	if err != nil {
		return nil, err
	}
	byThread := map[string][]store.Post{}
	for _, p := range posts {
		byThread[p.QuestionID] = append(byThread[p.QuestionID], p)
	}
	people := map[string]string{}
	name := func(id string) string {
		if n, ok := people[id]; ok {
			return n
		}
		n := "someone no longer known"
		if u, err := s.store.User(ctx, id); err == nil {
			n = PersonName(u.Email, u.Name, u.Subject, u.Issuer)
		}
		people[id] = n
		return n
	}
	side := acc.Side()
	for _, q := range qs {
		v := QuestionView{VisitID: q.VisitID, ID: q.ID, Item: q.Item, FileID: q.FileID, Side: q.Side, AskedBy: name(q.AskedBy), AskedAt: q.AskedAt, Open: q.AnsweredAt.IsZero(), Posts: []PostView{}}
		if !v.Open {
			at := q.AnsweredAt
			v.Answered = &at
		}
		v.Awaits = v.Open && side != "" && q.Side != side
		if q.FileID != "" {
			if v.FileName, v.Item, err = acc.threadFile(ctx, key, q.FileID); err != nil {
				return nil, err
			}
		}
		d, _, err := acc.decideThread(ctx, policy.QuestionPost, q.Item, q.FileID)
		if err != nil {
			return nil, err
		}
		v.CanPost = d.Allow
		for _, p := range byThread[q.ID] {
			text, err := key.Open(p.TextSealed, postContext(p.VisitID, p.ID))
			if err != nil {
				return nil, err
			}
			v.Posts = append(v.Posts, PostView{ID: p.ID, Side: p.Side, By: name(p.PostedBy), At: p.PostedAt, Text: string(text)})
		}
		out = append(out, v)
	}
	return out, nil
}

// threadFile is the name and item of a file a thread is on.
func (acc *Access) threadFile(ctx context.Context, key *crypto.VisitKey, fileID string) (name, item string, err error) {
	f, err := acc.svc.store.File(ctx, acc.Visit.ID, fileID)
	if err != nil {
		return "", "", err
	}
	name, err = openName(key, f)
	return name, f.Item, err
}

// QuestionSubject names what a page of questions is on ("item 1.03", or
// the file's name), once the actor may see its questions: not found
// otherwise. Neither item nor file: the whole visit ("").
func (acc *Access) QuestionSubject(ctx context.Context, item, fileID string) (string, error) {
	if err := acc.require(ctx, policy.QuestionView, nil); err != nil {
		return "", err
	}
	switch {
	case item == "" && fileID == "":
		return "", nil
	case item != "" && fileID != "" || fileID != "" && !IsID(fileID):
		return "", errNotFound
	}
	if item != "" {
		codes, err := acc.svc.store.RequestCodes(ctx, acc.Visit.ID)
		if err != nil {
			return "", err
		}
		if !contains(codes, item) {
			return "", errNotFound
		}
	}
	d, _, err := acc.decideThread(ctx, policy.QuestionView, item, fileID)
	if err != nil {
		return "", err
	}
	if !d.Allow {
		d.Visible = false
		return "", acc.refuse(ctx, policy.QuestionView, fileID, d)
	}
	if item != "" {
		return "item " + item, nil
	}
	key, err := acc.key(ctx)
	if err != nil {
		return "", err
	}
	name, _, err := acc.threadFile(ctx, key, fileID)
	return name, err
}

// CanAskOn reports whether the actor may post on an item's questions,
// without recording anything (pages offer only the items that work).
func (acc *Access) CanAskOn(ctx context.Context, item string) bool {
	d, _, err := acc.decideThread(ctx, policy.QuestionPost, item, "")
	return err == nil && d.Allow
}
