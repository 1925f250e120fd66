package devstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
)

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenID   = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// SignIn signs in to the portal through the dev identity provider's form, as
// a browser would, and returns a client holding the session cookie. Scripts
// and benchmarks use it.
func SignIn(ctx context.Context, portalURL, idp, username, password string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, portalURL+"/auth/"+idp+"/login", nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a, id := formAction.FindSubmatch(page), hiddenID.FindSubmatch(page)
	if a == nil || id == nil {
		return nil, fmt.Errorf("sign-in: no login form at %s", resp.Request.URL)
	}
	target, err := resp.Request.URL.Parse(string(a[1]))
	if err != nil {
		return nil, err
	}
	resp, err = c.PostForm(target.String(), url.Values{"id": {string(id[1])}, "username": {username}, "password": {password}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		return nil, fmt.Errorf("sign-in as %s ended at %s with %d", username, resp.Request.URL, resp.StatusCode)
	}
	return c, nil
}
