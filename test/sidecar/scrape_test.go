package sidecar

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sampleLine is one sample of the Prometheus text format: a name, optional labels, a value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)

// scrape fetches http://addr/metrics and returns its samples by series ("name{labels}" as
// written), checking the format on the way: every sample is well formed and belongs to a
// family declared by # HELP and # TYPE lines before it.
func scrape(addr string) (map[string]float64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		return nil, fmt.Errorf("GET /metrics: Content-Type %q", ct)
	}
	samples := map[string]float64{}
	types := map[string]string{}
	helps := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ := strings.Cut(rest, " ")
			helps[name] = true
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if !helps[name] {
				return nil, fmt.Errorf("# TYPE %s before its # HELP", name)
			}
			types[name] = typ
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("malformed sample line %q", line)
		}
		family := m[1]
		if types[family] == "" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(family, suffix); ok && types[base] == "histogram" {
					family = base
				}
			}
		}
		if types[family] == "" {
			return nil, fmt.Errorf("sample %q of an undeclared family", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("sample %q: %v", line, err)
		}
		samples[m[1]+m[2]] = v
	}
	return samples, sc.Err()
}

// mustScrape is scrape that fails the test.
func mustScrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	s, err := scrape(addr)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return s
}

// series returns the value of one series, and whether it is there.
func series(samples map[string]float64, key string) (float64, bool) {
	v, ok := samples[key]
	return v, ok
}

// httpGet returns the status code and body of GET url.
func httpGet(url string) (int, string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}
