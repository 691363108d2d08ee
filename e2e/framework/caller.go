// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Response is what a caller got back.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Client returns an HTTP client for the diagnostics endpoint. It does not verify the server certificate:
// without a configured certificate, controller-runtime serves a self-signed one made at start-up.
func Client(minVersion, maxVersion uint16) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				InsecureSkipVerify: true, //nolint:gosec // the test inspects the endpoint, not its certificate
				MinVersion:         minVersion,
				MaxVersion:         maxVersion,
			},
			DisableKeepAlives: true,
		},
	}
}

// Call sends one request with an optional bearer token.
func Call(ctx context.Context, client *http.Client, method, url, token, body string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("build request %s %s: %w", method, url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Response{}, fmt.Errorf("read response of %s %s: %w", method, url, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}
