package portal

import (
	"cmp"
	"context"
	"slices"
	"unicode/utf8"

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

// Questions lists the threads the actor may see, the oldest first. The
// files the threads are on, and the people who posted, are read once for
// all of them: a visit's threads cost the same few statements however
// many there are.
func (acc *Access) Questions(ctx context.Context, qq QuestionQuery) ([]QuestionView, error) {
	if err := acc.require(ctx, policy.QuestionView, nil); err != nil {
		return nil, err
	}
	all, err := acc.svc.store.Questions(ctx, acc.Visit.ID)
	if err != nil {
		return nil, err
	}
	var asked []store.Question
	for _, q := range all {
		if qq.Item != "" && q.Item != qq.Item || qq.FileID != "" && q.FileID != qq.FileID || qq.Open && !q.AnsweredAt.IsZero() {
			continue
		}
		asked = append(asked, q)
	}
	files, err := acc.threadFiles(ctx, asked)
	if err != nil {
		return nil, err
	}
	var shown []store.Question
	for _, q := range asked {
		d, err := acc.decideThreadOn(ctx, policy.QuestionView, q, files)
		if err != nil {
			return nil, err
		}
		if d.Allow {
			shown = append(shown, q)
		}
	}
	return acc.viewsWith(ctx, shown, files)
}

// threadFiles reads the files the threads are on, by id, in one
// statement.
func (acc *Access) threadFiles(ctx context.Context, qs []store.Question) (map[string]store.File, error) {
	var ids []string
	for _, q := range qs {
		if q.FileID != "" {
			ids = append(ids, q.FileID)
		}
	}
	fs, err := acc.svc.store.FilesByID(ctx, acc.Visit.ID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.File, len(fs))
	for _, f := range fs {
		out[f.ID] = f
	}
	return out, nil
}

// decideThreadOn is decideThread with the file of a thread on one already
// read (threadFiles): a file not among them is no longer the visit's.
func (acc *Access) decideThreadOn(ctx context.Context, action policy.Action, q store.Question, files map[string]store.File) (policy.Decision, error) {
	if q.FileID == "" {
		d, _, err := acc.decideThread(ctx, action, q.Item, "")
		return d, err
	}
	f, ok := files[q.FileID]
	if !ok {
		return policy.Decision{Rule: "no-such-file"}, nil
	}
	return acc.decide(ctx, action, &f)
}

// views opens the threads' posts and names their people.
func (acc *Access) views(ctx context.Context, qs []store.Question) ([]QuestionView, error) {
	files, err := acc.threadFiles(ctx, qs)
	if err != nil {
		return nil, err
	}
	return acc.viewsWith(ctx, qs, files)
}

// viewsWith is views with the threads' files already read.
func (acc *Access) viewsWith(ctx context.Context, qs []store.Question, files map[string]store.File) ([]QuestionView, error) {
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
	ids := []string{}
	for _, q := range qs {
		ids = append(ids, q.AskedBy)
	}
	for _, p := range posts {
		byThread[p.QuestionID] = append(byThread[p.QuestionID], p)
		ids = append(ids, p.PostedBy)
	}
	slices.Sort(ids)
	users, err := s.store.UsersByID(ctx, slices.Compact(ids))
	if err != nil {
		return nil, err
	}
	name := func(id string) string {
		if u, ok := users[id]; ok {
			return PersonName(u.Email, u.Name, u.Subject, u.Issuer)
		}
		return "someone no longer known"
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
			f, ok := files[q.FileID]
			if !ok {
				return nil, store.ErrNotFound
			}
			if v.FileName, err = openName(key, f); err != nil {
				return nil, err
			}
			v.Item = f.Item
		}
		d, err := acc.decideThreadOn(ctx, policy.QuestionPost, q, files)
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
	case item != "" && fileID != "" || fileID != "" && !IsID(fileID), !utf8.ValidString(item):
		return "", errNotFound // no item has such a code (and PostgreSQL refuses to look)
	}
	if item != "" {
		codes, err := acc.svc.store.RequestCodes(ctx, acc.Visit.ID)
		if err != nil {
			return "", err
		}
		if !contains(codes, item) {
			// Taken out of the request since: its threads stay, to be
			// read and answered (no new question is asked on it: Ask).
			has, err := acc.svc.store.ItemHasQuestions(ctx, acc.Visit.ID, item)
			if err != nil {
				return "", err
			}
			if !has {
				return "", errNotFound
			}
		}
	}
	d, _, err := acc.decideThread(ctx, policy.QuestionView, item, fileID)
	if err != nil {
		return "", err
	}
	if !d.Allow {
		d.Visible = false
		return "", acc.refuse(ctx, policy.QuestionView, cmp.Or(fileID, item), d)
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
