package portal

import (
	"context"

	"github.com/ofsted-portal/evidence/policy"
)

// FileNames names, by id, those of ids that are files of the visit the
// actor may see (policy.FileList, file by file); any other id is left out,
// so a page shows it as the id it is. The audit trail keeps ids only (a
// name could name a child); this lets a page put names back for those who
// may read them. Names come from the in-memory index: no decryption.
func (acc *Access) FileNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 || acc.Visit.State == StateDestroying || acc.Visit.State == StateDestroyed || !acc.Can(ctx, policy.FileList) {
		return out, nil
	}
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	vf, err := acc.svc.keys.indexedFiles(ctx, acc.Visit.ID, key)
	if err != nil {
		return nil, err
	}
	visible := acc.fileFilter(ctx, policy.FileList)
	for _, id := range ids {
		i, ok := vf.pos[id]
		if !ok {
			continue
		}
		f := vf.files[i]
		if ok, err := visible(f.File); err != nil {
			return nil, err
		} else if ok {
			out[id] = f.name
		}
	}
	return out, nil
}
