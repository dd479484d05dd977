package main

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestObservabilityAndSecurityAreOffByDefault(t *testing.T) {
	o, err := parseFlags([]string{"-id", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.metrics != "" || o.apiCert != "" || o.apiKey != "" || o.apiClientCA != "" || o.peerCert != "" || o.peerKey != "" || o.peerCA != "" {
		t.Errorf("defaults: %+v", o)
	}
	if !strings.HasPrefix(o.addr, "127.0.0.1:") || !strings.HasPrefix(o.api, "127.0.0.1:") {
		t.Errorf("default listeners are not on loopback: -addr %s, -api %s", o.addr, o.api)
	}
	for _, metrics := range []string{"127.0.0.1:9100", ":9100", "[::1]:9100", "localhost:9100"} {
		o, err := parseFlags([]string{"-id", "1", "-metrics", metrics}, io.Discard)
		if err != nil || o.metrics != metrics {
			t.Errorf("-metrics %s: %v, %q", metrics, err, o.metrics)
		}
	}
}

func TestBadSecurityCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{"-metrics", "9100"},
		{"-metrics", "127.0.0.1:0"},
		{"-metrics", "127.0.0.1:7001"}, // the default -addr of node 1
		{"-api-cert", "c.pem"},
		{"-api-key", "k.pem"},
		{"-api-client-ca", "ca.pem"},
		{"-peer-cert", "c.pem", "-peer-key", "k.pem"},
		{"-peer-ca", "ca.pem"},
		{"-peer-cert", "c.pem", "-peer-ca", "ca.pem"},
	} {
		args = append([]string{"-id", "1"}, args...)
		if _, err := parseFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

// Certificate files that cannot be read stop the daemon before it listens: exit 1.
func TestUnreadableCertificatesFailTheStart(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, args := range [][]string{
		{"-api-cert", missing, "-api-key", missing},
		{"-peer-cert", missing, "-peer-key", missing, "-peer-ca", missing},
	} {
		var stderr bytes.Buffer
		args = append([]string{"-id", "1", "-data", filepath.Join(dir, "data"), "-api", "127.0.0.1:1", "-addr", "127.0.0.1:2"}, args...)
		if code := run(args, &stderr); code != 1 {
			t.Errorf("%q: exit %d, want 1\n%s", args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "missing.pem") {
			t.Errorf("%q: the error does not name the file:\n%s", args, stderr.String())
		}
	}
}

func TestHelpDescribesTheNewFlags(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &out); err == nil {
		t.Fatal("-h: no ErrHelp")
	}
	for _, flag := range []string{"-metrics", "-api-cert", "-api-key", "-api-client-ca", "-peer-cert", "-peer-key", "-peer-ca", "/debug/pprof/"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("-h does not mention %s", flag)
		}
	}
}
