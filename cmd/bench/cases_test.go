package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// The listing case lists the whole visit, however the file list pages it:
// the list answers at most a page, with the cursor of the next.
func TestListAllFollowsPages(t *testing.T) {
	const total, page = 2500, 1000
	pages := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages++
		from := 0
		if a := r.URL.Query().Get("after"); a != "" {
			from, _ = strconv.Atoi(a)
			from++
		}
		limit := 100
		if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l <= page {
			limit = l
		}
		out := struct {
			Files []map[string]string `json:"files"`
			Next  *string             `json:"next"`
		}{Files: []map[string]string{}}
		for i := from; i < min(total, from+limit); i++ {
			out.Files = append(out.Files, map[string]string{"id": fmt.Sprint(i)})
		}
		if from+limit < total {
			next := fmt.Sprint(from + limit - 1)
			out.Next = &next
		}
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	n, err := listAll(srv.Client(), srv.URL+"/api/v1/visits/v/files")
	if err != nil || n != total {
		t.Fatalf("listed %d files (%v), want %d", n, err, total)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3 of %d", pages, page)
	}
}
