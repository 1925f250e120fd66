package portal

import (
	"context"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// NotificationSetting is one summary a person may switch off.
type NotificationSetting struct {
	Kind  string `json:"kind"`
	Label string `json:"label"`
	Hint  string `json:"hint"`
	On    bool   `json:"on"`
}

var digestWords = map[string][2]string{
	NoteCasesNamed:     {"Case files requested", "Provider staff: when the lead inspector names the children whose case files are wanted."},
	NoteProviderDigest: {"Items due and overdue", "Provider staff: one message a day when items of the information request are due on the next working day or have become overdue."},
	NoteFilesArrived:   {"Files received", "Lead inspector: at most one message an hour when files have been uploaded."},
}

// NotificationSettings are the actor's summaries, on or off. Messages about
// their own access and about destructions are always sent.
func (s *Service) NotificationSettings(ctx context.Context, a Actor) ([]NotificationSetting, error) {
	if _, err := s.Authorize(ctx, a, policy.SelfView, "", ""); err != nil {
		return nil, err
	}
	off, err := s.store.NotificationsOff(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]NotificationSetting, 0, len(DigestKinds))
	for _, k := range DigestKinds {
		out = append(out, NotificationSetting{Kind: k, Label: digestWords[k][0], Hint: digestWords[k][1], On: !off[k]})
	}
	return out, nil
}

// SaveNotificationSettings switches the actor's summaries on (those in on)
// and off (the rest).
func (s *Service) SaveNotificationSettings(ctx context.Context, a Actor, on map[string]bool) error {
	acc, err := s.Authorize(ctx, a, policy.SelfView, "", "")
	if err != nil {
		return err
	}
	off := map[string]bool{}
	var offList []string
	for _, k := range DigestKinds {
		off[k] = !on[k]
		if off[k] {
			offList = append(offList, k)
		}
	}
	return s.store.SetNotificationsOff(ctx, a.UserID, DigestKinds, off, acc.rec("notifications.changed", "", "success", map[string]any{"off": offList}))
}

// FailedDelivery is a notification that could not be delivered: failed
// for good, or still being retried.
type FailedDelivery struct {
	Kind      string    `json:"kind"`
	Reference string    `json:"reference"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	NextAt    time.Time `json:"next_attempt_at"`
	CreatedAt time.Time `json:"created_at"`
}

// FailedDeliveries lists, for administrators, the notifications that have
// failed or are being retried, newest first.
func (s *Service) FailedDeliveries(ctx context.Context, a Actor) ([]FailedDelivery, error) {
	if _, err := s.Authorize(ctx, a, policy.SelfView, "", ""); err != nil {
		return nil, err
	}
	if !a.Administrator {
		return nil, &Error{Kind: KindForbidden, Code: "forbidden", Msg: "Only administrators see failed deliveries."}
	}
	var out []FailedDelivery
	for _, state := range []string{store.NoteFailed, store.NotePending} {
		ns, err := s.store.Notifications(ctx, state, 200)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if n.Attempts == 0 || n.LastError == "" {
				continue
			}
			ref := ""
			if v, err := s.store.Visit(ctx, n.VisitID); err == nil {
				ref = v.Reference
			}
			out = append(out, FailedDelivery{Kind: n.Kind, Reference: ref, State: n.State, Attempts: n.Attempts, LastError: n.LastError, NextAt: n.NextAt, CreatedAt: n.CreatedAt})
		}
	}
	return out, nil
}
