package portal

import (
	"context"
	"errors"
	"math"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// ReleaseWaiting serves unscanned the files held back for the scanner:
// every file waiting for a verdict, or only fileID when it is not "". It
// is the operator's act (portal scan release), never the portal's own: a
// file waits until clamd clears it or someone decides it need not, and
// that decision is in the visit's audit trail (file.scan_released), file
// by file. It returns how many files it released; naming a file that is
// not waiting is an error. Releasing every file, it leaves those of
// visits being destroyed (policy refuses them: nothing of such a visit is
// served again) and releases the rest.
func (s *Service) ReleaseWaiting(ctx context.Context, a Actor, fileID string) (int, error) {
	released := 0
	for after := ""; ; {
		files, err := s.store.FilesToScan(ctx, []string{store.ScanScanning}, math.MaxInt64, after, scanPageSize)
		if err != nil {
			return released, err
		}
		for _, f := range files {
			if fileID != "" && f.ID != fileID {
				continue
			}
			acc, err := s.Authorize(ctx, a, policy.FileScanRelease, f.VisitID, f.ID)
			if err != nil && fileID == "" && s.beingDestroyed(ctx, f.VisitID) {
				// Refused (visit-destroyed): nothing of the visit is served
				// again. The others' files are released all the same.
				continue
			}
			if err != nil {
				return released, err
			}
			rec := acc.rec("file.scan_released", f.ID, "success", map[string]any{"scan": store.ScanUnscanned})
			err = s.store.SetScanResult(ctx, f.VisitID, f.ID, store.ScanUnscanned, "", s.now(), rec)
			if errors.Is(err, store.ErrNotFound) {
				continue // a verdict came in meanwhile
			}
			if err != nil {
				return released, err
			}
			s.log.Warn("file released unscanned by the operator", "visit", f.VisitID, "file", f.ID, "by", a.Subject)
			released++
		}
		if len(files) < scanPageSize {
			break
		}
		after = files[len(files)-1].ID
	}
	if fileID != "" && released == 0 {
		return 0, notFound("No file with that id is waiting for a scan.")
	}
	return released, nil
}

// beingDestroyed says whether the visit's destruction has begun (or is
// done), as the store has it now; false when that cannot be read.
func (s *Service) beingDestroyed(ctx context.Context, visitID string) bool {
	v, err := s.store.Visit(ctx, visitID)
	return err == nil && (v.State == StateDestroying || v.State == StateDestroyed)
}
