package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestVerifyTrailReadsInPages: the whole-trail check reads the trail in
// bounded pages (a trail of millions of records is never held whole), and
// finds the same breaks, wherever they fall against the page edges, as the
// check of a trail in memory.
func TestVerifyTrailReadsInPages(t *testing.T) {
	defer func(n int) { verifyPage = n }(verifyPage)
	verifyPage = 3

	s, key := chainOf(t, 10)
	pub := key.Public().(ed25519.PublicKey)
	ctx, c := WithCounter(context.Background())
	got, err := s.VerifyTrail(ctx, nil, pub)
	if err != nil || got.Records != 10 || got.Checkpoints != 1 {
		t.Fatalf("intact trail: %+v, %v", got, err)
	}
	reads := 0
	for _, q := range c.Statements() {
		if strings.Contains(q, "FROM audit ") && !strings.Contains(q, "action =") {
			reads++
			if !strings.Contains(q, "LIMIT") {
				t.Fatalf("the trail is read whole: %s", q)
			}
		}
	}
	if reads != 4 { // 3+3+3+1
		t.Fatalf("%d reads of the trail, want 4 pages of 3:\n%s", reads, strings.Join(c.Statements(), "\n"))
	}

	for seq := int64(2); seq <= 8; seq++ {
		t.Run(fmt.Sprintf("record %d edited", seq), func(t *testing.T) {
			s, key := chainOf(t, 10)
			tamper(t, s, fmt.Sprintf(`UPDATE audit SET actor_email = 'someone@else.example' WHERE seq = %d`, seq))
			_, err := s.VerifyTrail(context.Background(), nil, key.Public().(ed25519.PublicKey))
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Seq != seq {
				t.Fatalf("err = %v, want a break at record %d", err, seq)
			}
		})
	}
	t.Run("records deleted from the end", func(t *testing.T) {
		s, key := chainOf(t, 10)
		tamper(t, s, `DELETE FROM audit WHERE seq >= 7`)
		_, err := s.VerifyTrail(context.Background(), nil, key.Public().(ed25519.PublicKey))
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Seq != 10 {
			t.Fatalf("err = %v, want the checkpoint of record 10 named", err)
		}
	})
}
