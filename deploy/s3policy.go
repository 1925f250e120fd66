package deploy

import (
	_ "embed"
	"strings"
)

// s3Policy is the portal's least-privilege S3 policy, with the
// placeholders <prefix>, <anchors> and <keys>; docs/operating.md shows it
// (TestS3PolicyDocumented keeps the two the same), and the portal's tests
// run the portal under it (TestPortalUnderItsS3Policy).
//
//go:embed s3-policy.json
var s3Policy string

// S3Policy is the IAM policy the portal's S3 identity needs, and no more,
// for visit buckets named from prefix (PORTAL_BUCKET_PREFIX), the anchor
// bucket anchors (PORTAL_AUDIT_ANCHOR_BUCKET) and the key bucket keys
// (PORTAL_KEY_BUCKET).
func S3Policy(prefix, anchors, keys string) string {
	return strings.NewReplacer("<prefix>", prefix, "<anchors>", anchors, "<keys>", keys).Replace(s3Policy)
}
