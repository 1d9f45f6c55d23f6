package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDiscoveredBoundWired runs the real bootd with --discovered-max and
// --discovered-rate: the API's discovered list reports them, and /metrics
// exports the bound's counters.
func TestDiscoveredBoundWired(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--discovered-max", "3", "--discovered-rate", "7")
	token, err := os.ReadFile(d.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: pinnedTLS(adminFingerprint(d.dataDir), "test")}}
	get := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, d.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
		}
		return b
	}
	var body struct {
		Nodes []json.RawMessage `json:"nodes"`
		Bound struct {
			Max       int `json:"max"`
			PerMinute int `json:"per_minute"`
		} `json:"bound"`
	}
	if err := json.Unmarshal(get("/api/v1/discovered"), &body); err != nil {
		t.Fatal(err)
	}
	if body.Nodes == nil || body.Bound.Max != 3 || body.Bound.PerMinute != 7 {
		t.Errorf("GET /api/v1/discovered = %+v, want no nodes and the bound 3, 7 a minute", body)
	}
	metrics := string(get("/metrics"))
	for _, want := range []string{"\nbootd_discovered_refused_total 0\n", "\nbootd_discovered_pruned_total 0\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}
