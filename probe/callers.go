// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Callers, in the order they are tried.
const (
	Anonymous    = "anonymous"
	Unprivileged = "unprivileged"
	Reader       = "reader"
)

// newHTTPClient does not verify the certificate: inspectTLS judges it, and a caller test must reach the
// authentication of an endpoint whatever its certificate.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // see above
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		// A redirect (to a login page, say) is an answer in itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkCallers asks every path as each caller and judges the answers. required paths must be served to
// the reader; a 404 on the others means the endpoint does not serve them.
func checkCallers(ctx context.Context, client *http.Client, base string, paths []string, required map[string]bool, tokens map[string]string, plainHTTP bool, r *Report) {
	for _, path := range paths {
		for _, caller := range []string{Anonymous, Unprivileged, Reader} {
			code, err := get(ctx, client, base+path, tokens[caller])
			res := Result{Check: "caller", Path: path, Caller: caller, Code: code}
			if err != nil {
				res.Status, res.Detail = Fail, err.Error()
			} else {
				res.Status, res.Detail = judge(caller, code, required[path], plainHTTP)
			}
			r.add(res)
		}
	}
}

func judge(caller string, code int, required, plainHTTP bool) (Status, string) {
	switch {
	case code == http.StatusNotFound && !required:
		return Info, "not served"
	case caller == Reader && code == http.StatusOK:
		if plainHTTP {
			return Warn, "served, but over plain HTTP: the token crossed the network in clear text"
		}
		return Pass, "served"
	case caller == Reader:
		return Fail, fmt.Sprintf("a caller allowed by RBAC got %d: the endpoint's review or its RBAC is broken", code)
	case code >= 200 && code < 300:
		if caller == Anonymous {
			return Fail, "served without any credentials"
		}
		return Fail, "served to a caller no RBAC rule allows"
	case caller == Anonymous && code == http.StatusUnauthorized:
		return Pass, "refused: no credentials"
	case caller == Anonymous && code == http.StatusForbidden:
		return Pass, "refused as system:anonymous"
	case caller == Unprivileged && code == http.StatusForbidden:
		return Pass, "refused: authenticated, not authorized"
	case caller == Unprivileged && code == http.StatusUnauthorized:
		return Warn, "refused, but a valid ServiceAccount token was not accepted (audiences?)"
	default:
		return Warn, fmt.Sprintf("refused with %d, expected %s", code, map[string]string{Anonymous: "401", Unprivileged: "403"}[caller])
	}
}

func get(ctx context.Context, client *http.Client, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, nil
}
