package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// apiClient talks to a gateway's admin API: GATEHOUSE_URL (default
// http://127.0.0.1:8080) with GATEHOUSE_TOKEN as the bearer token.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(needToken bool) (*apiClient, error) {
	c := &apiClient{base: strings.TrimRight(os.Getenv("GATEHOUSE_URL"), "/"), token: os.Getenv("GATEHOUSE_TOKEN"),
		http: &http.Client{Timeout: 30 * time.Second}}
	if c.base == "" {
		c.base = "http://127.0.0.1:8080"
	}
	if needToken && c.token == "" {
		return nil, fmt.Errorf("GATEHOUSE_TOKEN is not set: export an OIDC token of someone in access.admins or access.auditors")
	}
	return c, nil
}

// do sends a request and decodes a JSON answer into out. Non-2xx answers
// become errors carrying the API's message.
func (c *apiClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the gateway at %s (set GATEHOUSE_URL): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
