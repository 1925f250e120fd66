package portal

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Correcting mistakes. Until fieldwork ends the provider's staff delete,
// re-file or replace the files they supplied (policy: file.delete,
// file.refile, file.replace; never under a legal hold). Nothing the
// inspection team has seen silently disappears: a file someone of the team
// has downloaded is withdrawn rather than deleted (kept, marked, who and
// when), and a replaced file stays as a superseded version. A withdrawn or
// superseded file is no longer corrected: it is the record of what was
// sent. Every change is audited.

// errNotLive refuses to correct a file that is withdrawn or superseded.
var errNotLive = &Error{Kind: KindConflict, Code: "not_current",
	Msg: "This file was withdrawn or replaced by a newer version: only the current version can be changed."}

// recordDownload writes the records of a download of files (recs), with
// the first download of each by the inspection team (the provider's own
// downloads do not count), only while every file is still the visit's. A
// file deleted or purged since the download was allowed is not found, and
// the download does not begin: its uploader was told it was deleted for
// good, which it would not be once the team had it.
func (acc *Access) recordDownload(ctx context.Context, files []store.File, recs ...store.AuditRecord) error {
	ids := make([]string, len(files))
	var team []string
	for i, f := range files {
		ids[i] = f.ID
		if !policy.IsProviderRole(acc.Member.Role) && f.TeamDownloadedAt.IsZero() {
			team = append(team, f.ID)
		}
	}
	err := acc.svc.store.RecordDownload(ctx, acc.Visit.ID, ids, team, acc.svc.now(), recs...)
	if errors.Is(err, store.ErrNotFound) {
		return errFileGone
	}
	return err
}

// withdraw marks the file Authorize named withdrawn.
func (acc *Access) withdraw(ctx context.Context) error {
	s, f := acc.svc, acc.File
	rec := acc.rec("file.withdrawn", f.ID, "success", map[string]any{"sha256": f.SHA256, "item": f.Item})
	if err := s.store.WithdrawFile(ctx, acc.Visit.ID, f.ID, acc.Actor.UserID, s.now(), rec); errors.Is(err, store.ErrNotFound) {
		return errNotLive
	} else if err != nil {
		return heldSince(err)
	}
	s.log.Info("file withdrawn", "visit", acc.Visit.ID, "file", f.ID, "user", acc.Actor.UserID)
	return nil
}

// reserveReplacement takes the name of old, the file holding it in its
// item, for a new version fileID, once policy lets the actor replace that
// file. An old without an ID is an upload still in progress.
func (acc *Access) reserveReplacement(ctx context.Context, old store.File, fileID string) error {
	s := acc.svc
	if old.ID == "" {
		// An upload of that name is in progress: nothing to replace yet.
		return &Error{Kind: KindConflict, Code: "name_exists", Msg: "A file of this name is being uploaded to this item now. Wait for it to finish, then replace it."}
	}
	if err := acc.require(ctx, policy.FileReplace, &old); err != nil {
		return err
	}
	// The file.replaced record is written when the version is committed
	// (evidence.Put, Append): until then nothing is replaced.
	if err := s.store.ReserveReplacement(ctx, acc.Visit.ID, old.ID, fileID, s.now()); errors.Is(err, store.ErrNotFound) {
		return errNotLive
	} else if err != nil {
		return heldSince(err)
	}
	return nil
}

// ReplaceFile stores body (size bytes, -1 when unknown) as a new version
// of the file Authorize named, under its name and item; the file is kept,
// superseded. It is that file that is replaced, by its id: not whichever
// file holds its name in the item its name would be filed under now (an
// unfiled file's name may name an item added since), and not, while
// another new version of it is on its way, a second file beside it.
func (acc *Access) ReplaceFile(ctx context.Context, size int64, body io.Reader) (FileView, error) {
	if err := acc.needFile(); err != nil {
		return FileView{}, err
	}
	if err := acc.require(ctx, policy.FileReplace, &acc.File); err != nil {
		return FileView{}, err
	}
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return FileView{}, err
	}
	s, f := acc.svc, acc.File
	if !f.Live() {
		return FileView{}, errNotLive
	}
	if size > s.cfg.MaxFileSize {
		return FileView{}, errTooLarge(s.cfg.MaxFileSize)
	}
	key, err := acc.key(ctx)
	if err != nil {
		return FileView{}, err
	}
	name, err := openName(key, f)
	if err != nil {
		return FileView{}, errCorrupt
	}
	return acc.put(ctx, key, name, f.Item, size, body, false, func() (string, string, string, error) {
		fileID := store.NewID()
		err := acc.reserveReplacement(ctx, f, fileID)
		if err == errNotLive {
			// Live when read, and its name not its own now: another new
			// version of it took the name, and is on its way or has
			// just been stored.
			return "", "", "", errVersionOnItsWay
		}
		return fileID, name, f.ID, err
	})
}

var errVersionOnItsWay = &Error{Kind: KindConflict, Code: "not_current",
	Msg: "Another new version of this file is being uploaded, or has just been. Look at the file again before you replace it."}

// markCorrections fills in how a file was corrected, as listed.
func markCorrections(fv *FileView, f store.File, people map[string]store.User) {
	if !f.WithdrawnAt.IsZero() {
		at := f.WithdrawnAt
		fv.WithdrawnAt = &at
		u := people[f.WithdrawnBy]
		fv.WithdrawnBy = PersonName(u.Email, u.Name, u.Subject, u.Issuer)
	}
	if f.SupersededBy != "" {
		at := f.SupersededAt
		fv.SupersededBy, fv.SupersededAt = f.SupersededBy, &at
	}
}

// CompleteItem marks an item of the information request complete ("all we
// will send for it is here"), or not complete again.
func (acc *Access) CompleteItem(ctx context.Context, code string, complete bool) error {
	if err := acc.require(ctx, policy.ItemComplete, nil); err != nil {
		return err
	}
	s := acc.svc
	at, action := s.now(), "request.item_completed"
	if !complete {
		at, action = time.Time{}, "request.item_reopened"
	}
	code = strings.TrimSpace(code)
	if !utf8.ValidString(code) {
		return notFound("This item is not in the information request.") // and PostgreSQL refuses to look
	}
	err := s.store.CompleteItem(ctx, acc.Visit.ID, code, acc.Actor.UserID, at, acc.rec(action, code, "success", nil))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("This item is not in the information request.")
	}
	return err
}
