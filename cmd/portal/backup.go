package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// backupCmd writes a consistent copy of the database and its manifest
// into a new folder: SQLite with VACUUM INTO, PostgreSQL with pg_dump from
// an exported snapshot.
func backupCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal backup DIR\n\nWrites a consistent copy of the database (SQLite: VACUUM INTO, while the portal runs;\nPostgreSQL: pg_dump of one snapshot, found in PORTAL_POSTGRES_BIN or Debian's folders) and\nmanifest.json (time, schema version, audit head, last checkpoint, SHA-256), signed with the\nportal's signing key (PORTAL_SIGNING_KEY_FILE), into DIR, which\nmust be empty or absent. Sessions are left out. Keep backups no longer than the retention\nperiod, and never restore one except with portal restore.")
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("the backup folder is required")
	}
	dir := fs.Arg(0)
	// The manifest is signed with the portal's signing key: a restore
	// refuses a backup changed after it was taken.
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	key, err := retention.LoadSigningKey(cfg.SigningKey)
	if err != nil {
		return err
	}
	st, err := portal.OpenStore(ctx, os.Getenv, false)
	if err != nil {
		return err
	}
	defer st.Close()
	// Every backup is recorded (it holds every wrapped visit key), and a
	// record during a restore not finished would come before the
	// restore's mark: none is taken then.
	if err := refusePendingRestore(ctx, st, "backup"); err != nil {
		return err
	}
	// PostgreSQL's tools are found before anything is written.
	var bin string
	if st.Postgres() {
		if bin, err = portal.PostgresTools(os.Getenv); err != nil {
			return err
		}
	}
	// The folder is the command's while it writes: a second backup
	// given it meanwhile is refused, and never removes this one's files.
	created, release, err := claimBackupDir(dir)
	if err != nil {
		return err
	}
	defer release()
	backupClaimed()
	// The copy and its manifest are written into a private folder inside
	// dir, then linked into dir, the manifest last, each under a name no
	// file has: a backup on another host given the same shared folder
	// (where the lock may not reach) is refused, and neither replaces nor
	// removes the other's files. A backup killed part-way leaves that
	// folder (.partial-*) and no manifest: nothing restores it.
	work, err := os.MkdirTemp(dir, ".partial-")
	if err != nil {
		return errors.Join(err, discardBackup(dir, created, nil))
	}
	var m portal.Manifest
	if st.Postgres() {
		m, err = portal.BackupPostgres(ctx, st, cfg.DatabaseURL, bin, work, key)
	} else {
		m, err = portal.BackupSQLite(ctx, st, work, key)
	}
	var published []string
	if err == nil {
		published, err = publishBackup(work, dir, m)
	}
	// What is published is linked in dir; the rest (SQLite's files
	// beside the copy, a copy not published) goes.
	if rerr := os.RemoveAll(work); rerr != nil && err == nil {
		err = rerr
	}
	if err == nil {
		fmt.Fprintf(out, "backup %s: %s %s, %d bytes, sha256 %s; audit records 1..%d, schema version %d; manifest signed with the signing key\n",
			dir, m.Database, m.File, m.Size, m.SHA256, m.AuditSeq, m.SchemaVersion)
		// Every backup kept is recorded (it holds every wrapped visit key),
		// unless a restore began while it was taken: a record now would
		// come before the restore's mark.
		if err = refusePendingRestore(ctx, st, "backup"); err == nil {
			if err = portal.RecordBackup(ctx, st, operator("backup"), m); err != nil && portal.BackupRecorded(context.WithoutCancel(ctx), st, m) {
				err = nil // recorded, its answer lost
			}
		}
	}
	if err != nil {
		if rerr := discardBackup(dir, created, published); rerr != nil {
			return fmt.Errorf("backup %s not taken, or not recorded in the audit trail (%w), and what it wrote not removed: remove it (%v)", dir, err, rerr)
		}
		return fmt.Errorf("backup not taken, or not recorded in the audit trail, so what it wrote is removed: take it again: %w", err)
	}
	return nil
}

// backupClaimed is called once the backup folder is the command's (tests
// start another backup into it there).
var backupClaimed = func() {}

// claimBackupDir makes the backup folder dir if it is absent (created
// says so), private, and takes it for this command: an exclusive lock on
// the folder, held until release, so that a second backup given it
// meanwhile on this host is refused. A folder that holds anything is
// refused. On a failure a folder it made is removed.
func claimBackupDir(dir string) (created bool, release func(), err error) {
	_, err = os.Stat(dir)
	created = errors.Is(err, os.ErrNotExist)
	if err != nil && !created {
		return false, nil, err
	}
	if err := store.MkdirPrivate(dir); err != nil {
		return false, nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		return false, nil, errors.Join(err, discardBackup(dir, created, nil))
	}
	fail := func(err error) (bool, func(), error) {
		f.Close()
		return false, nil, errors.Join(err, discardBackup(dir, created, nil))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close() // the folder is the other backup's: nothing of it is removed
		return false, nil, fmt.Errorf("backup folder %s is being written by another backup: give each backup a folder of its own", dir)
	} else if err != nil {
		return fail(fmt.Errorf("backup folder %s: lock it: %w", dir, err))
	}
	// The folder locked is still the one named dir (not one a backup
	// that made it removed as it gave up).
	locked, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if named, err := os.Stat(dir); err != nil || !os.SameFile(locked, named) {
		f.Close()
		return false, nil, fmt.Errorf("backup folder %s was removed as it was locked (another backup gave it up): take the backup again", dir)
	}
	ents, err := f.ReadDir(1)
	if err == nil && len(ents) > 0 {
		f.Close()
		return false, nil, fmt.Errorf("backup folder %s is not empty (a .partial- folder in it is what a backup stopped part-way left: remove it)", dir)
	} else if err != nil && !errors.Is(err, io.EOF) {
		return fail(err)
	}
	if err := portal.PrivateBackupDir(dir); err != nil {
		return fail(err)
	}
	return created, func() { f.Close() }, nil // and with it the lock
}

// publishBackup links the copy m names, then its manifest, from the
// folder work they were written in into dir, and flushes dir to disk. A
// name dir has already is never replaced: the backup is refused. Where
// the file system cannot link, each is renamed into dir if no file has
// its name. published is what it put in dir.
func publishBackup(work, dir string, m portal.Manifest) (published []string, err error) {
	for _, name := range []string{m.File, portal.BackupManifestName} {
		from, to := filepath.Join(work, name), filepath.Join(dir, name)
		err := os.Link(from, to)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			if _, serr := os.Lstat(to); errors.Is(serr, fs.ErrNotExist) {
				err = os.Rename(from, to)
			}
		}
		if errors.Is(err, fs.ErrExist) {
			return published, fmt.Errorf("backup folder %s holds %s from another backup: give each backup a folder of its own", dir, name)
		}
		if err != nil {
			return published, err
		}
		published = append(published, name)
	}
	f, err := os.Open(dir)
	if err != nil {
		return published, err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return published, err
}

// discardBackup removes what a backup not kept put into dir (published:
// the names it linked there), and dir itself if the backup made it and
// nothing else is in it.
func discardBackup(dir string, created bool, published []string) error {
	var errs []error
	for _, name := range published {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if created {
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// restoreCmd brings a backup into an empty deployment and, before anything
// serves it, destroys again every visit destroyed since the backup.
func restoreCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	force := fs.Bool("force", false, "replace a database that is not empty")
	resume := fs.Bool("resume", false, "no backup: finish a restore that stopped part-way, or take in a database restored by other means (pg_restore, point-in-time recovery)")
	acceptUnsigned := fs.Bool("accept-unsigned", false, "restore a backup whose manifest is not signed (taken before backups were signed) even though the anchors do not vouch for the end of its trail; the restore's intent and the trail say so")
	confirm := fs.String("confirm", "", "with --resume: the id of a pending restore you made whose intent is not in the anchor store (serve and --resume name it when they refuse), or "+portal.TakenIn+" for a database you restored by other means")
	var trusted []ed25519.PublicKey
	fs.Func("trust-key", "an earlier signing public key (PEM) whose destruction records and anchors are trusted too; repeatable", func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		k, err := retention.ParsePublicKeyPEM(b)
		if err == nil {
			trusted = append(trusted, k)
		}
		return err
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal restore [--force] [--trust-key FILE] [--accept-unsigned] DIR | portal restore --resume [--confirm ID] [--trust-key FILE]\n\nChecks the backup in DIR against its manifest and the manifest's signature, writes the restore's intent, signed, to the audit\nanchor store, puts the backup in place as the database the PORTAL_* configuration names (which\nmust be empty unless --force), ends every session, marks the audit trail with the records the\nrestore lost, and destroys again, key first, every visit destroyed since the backup (its\ndestruction recorded outside the database, or begun before the backup). A live visit whose\nbucket the object store does not show is never destroyed: it is listed, kept whole, and the\nrestore fails and stays pending until the store shows it (then --resume). Until that is done,\nportal serve will not serve the database. The trail is marked only for a restore whose intent\nis in the anchor store: --confirm ID writes one for a pending restore you made that has none.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *resume == (fs.NArg() == 1) || fs.NArg() > 1 || *confirm != "" && !*resume || *acceptUnsigned && *resume {
		fs.Usage()
		return errors.New("give a backup folder, or --resume (with --confirm ID, if it is to take in a pending restore, or --confirm taken-in for a database you restored by other means)")
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	if !*resume {
		dir := fs.Arg(0)
		m, err := portal.ReadManifest(dir)
		if err != nil {
			return err
		}
		signed, err := putInPlace(ctx, cfg, dir, m, store.NewID(), trusted, *acceptUnsigned, *force)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "restored the backup of %s (%s, audit records 1..%d) into %s\n", m.CreatedAt.Format(time.RFC3339), m.Database, m.AuditSeq, portal.DatabaseName(cfg))
		if signed {
			fmt.Fprintln(out, "backup manifest: signed with a trusted signing key")
		} else {
			fmt.Fprintln(out, "backup manifest: not signed (taken before backups were signed); the restore's intent and the trail say so")
		}
	}
	svc, err := portal.New(ctx, cfg, domainOptions...)
	if err != nil {
		return err
	}
	defer svc.Close()
	if *resume {
		tookIn, err := resumeRestore(ctx, svc, *confirm)
		if err != nil {
			return err
		}
		if tookIn {
			fmt.Fprintln(out, "taking in the database as it is: it was restored by other means and is not checked against a backup's manifest (the trail's restore.finished says backup_checked false)")
		}
	}
	rep, err := svc.FinishRestore(ctx, operator("restore"), trusted...)
	for _, r := range rep.Reapplied {
		if r.Err != nil {
			fmt.Fprintf(out, "FAILED to destroy again %s (%s): %s: %v\n", r.Reference, r.VisitID, r.Reason, r.Err)
		} else {
			fmt.Fprintf(out, "destroyed again, key first: %s (%s): %s\n", r.Reference, r.VisitID, r.Reason)
		}
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(out, "NOT destroyed, its bucket is missing: %s (%s): the object store does not show bucket %s and no signed record says the visit was destroyed; its key, records and any legal hold are kept\n",
			m.Reference, m.VisitID, m.Bucket)
	}
	if err != nil {
		return err
	}
	if n := len(rep.Repurged); n > 0 {
		fmt.Fprintf(out, "files purged after the backup, purged again: %d\n", n)
	}
	if n := rep.WithdrawnAgain; n > 0 {
		fmt.Fprintf(out, "letter events withdrawn after the backup (recorded in error), withdrawn again: %d\n", n)
	}
	if n := rep.RecordedAgain; n > 0 {
		fmt.Fprintf(out, "letter events recorded after the backup (a publication, or one corrected), recorded again: %d\n", n)
	}
	if n := rep.NotRecordedAgain; n > 0 {
		fmt.Fprintf(out, "letter events recorded after the backup that the visit's events, as restored, do not allow, NOT recorded again (the log names each: record them by hand): %d\n", n)
	}
	if n := rep.HeldAgain; n > 0 {
		fmt.Fprintf(out, "legal holds set after the backup, set again (without their reasons, which were sealed in the database: set each again with its reason): %d\n", n)
	}
	if n := rep.AccessEnded; n > 0 {
		fmt.Fprintf(out, "access ended after the backup (members removed or narrowed, roles revoked, people disabled, items restricted), ended again: %d\n", n)
	}
	if n := rep.UploadsDropped; n > 0 {
		fmt.Fprintf(out, "resumable uploads under way at the backup, dropped (to be sent again): %d\n", n)
	}
	for _, id := range rep.Unknown {
		fmt.Fprintf(out, "destroyed after the backup and not in it (nothing to do): visit %s\n", id)
	}
	if rep.AnchoredSeq > rep.RestoredSeq {
		fmt.Fprintf(out, "audit trail: restored at record %d; records %d..%d lost, anchored up to %d; it goes on at record %d\n",
			rep.RestoredSeq, rep.RestoredSeq+1, rep.AnchoredSeq, rep.AnchoredSeq, rep.MarkSeq)
	} else {
		fmt.Fprintf(out, "audit trail: restored at record %d; no anchored record lost; it goes on at record %d\n", rep.RestoredSeq, rep.MarkSeq)
	}
	fmt.Fprintln(out, "sessions: none (everyone signs in again); the portal may serve")
	return nil
}

// resumeRestore readies the restore --resume finishes: a database
// restored by other means, on the operator's word (--confirm taken-in),
// gets its intent, then its pending restore; a pending restore named by
// --confirm gets an intent for the trail as it is.
// tookIn reports the first: a database no backup's manifest vouches for.
func resumeRestore(ctx context.Context, svc *portal.Service, confirm string) (tookIn bool, err error) {
	r, err := svc.Store().PendingRestore(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound) && confirm == "":
		// The operator's word, not the database's: someone who can write
		// to it could have cut the trail, and taking it in signs the cut.
		return false, fmt.Errorf("no restore is pending: this database was not restored with portal restore. %s", portal.TakeInWayOut)
	case errors.Is(err, store.ErrNotFound) && confirm != portal.TakenIn:
		return false, fmt.Errorf("no restore is pending, so there is none %s to confirm (a database you restored by other means: --confirm %s)", confirm, portal.TakenIn)
	case errors.Is(err, store.ErrNotFound):
		id := store.NewID()
		if err := svc.IntendRestore(ctx, store.Restore{ID: id}); err != nil {
			return false, err
		}
		return true, portal.BeginRestore(ctx, svc.Store(), id, time.Time{})
	case err != nil:
		return false, err
	case confirm == "" || confirm == portal.TakenIn:
		// Pending: finished as it is (a take-in run again after it
		// stopped part-way, the bucket check say, finds its own).
		return false, nil
	case confirm != r.ID:
		return false, fmt.Errorf("the pending restore is %s, not %s", r.ID, confirm)
	}
	return false, svc.IntendRestore(ctx, r)
}

// putInPlace checks the backup's manifest and writes the restore's intent
// outside the database, then loads the backup's copy as the configured
// database, with its restore pending as id. signed reports whether the
// manifest was signed.
func putInPlace(ctx context.Context, cfg portal.Config, dir string, m portal.Manifest, id string, trusted []ed25519.PublicKey, acceptUnsigned, force bool) (signed bool, err error) {
	sqlite := m.Database == "sqlite" && cfg.DatabaseURL == ""
	if !sqlite && (m.Database != "postgres" || cfg.DatabaseURL == "") {
		return false, fmt.Errorf("the backup is of %s, but the configuration names %s", m.Database, portal.DatabaseName(cfg))
	}
	if signed, err = portal.IntendRestore(ctx, cfg, id, m, trusted, acceptUnsigned); err != nil {
		return false, err
	}
	if sqlite {
		return signed, portal.RestoreSQLite(ctx, dir, m, cfg.DBPath, id, portal.StoreDefaults(cfg), force)
	}
	bin, err := portal.PostgresTools(os.Getenv)
	if err != nil {
		return false, err
	}
	// pg_restore drops and makes the tables: the owner's work. Opening
	// the database after it grants the serving role again.
	return signed, portal.RestorePostgres(ctx, dir, m, cfg.DatabaseOwner(), bin, id, force, func() (*store.Store, error) { return portal.OpenDatabase(ctx, cfg) })
}
