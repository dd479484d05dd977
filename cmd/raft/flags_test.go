package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"testing"
)

func TestDefaultsDeriveFromID(t *testing.T) {
	o, err := parseFlags([]string{"-id", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:7002" || o.api != "127.0.0.1:9002" || o.data != "./raft-data-2" || o.bootstrap ||
		o.logLevel != slog.LevelWarn || o.clusterID != "raft" {
		t.Errorf("defaults for id 2: %+v", o)
	}
	o, err = parseFlags([]string{"-id", "1", "-bootstrap", "-addr", "10.0.0.1:1", "-api", "10.0.0.1:2", "-data", "/d", "-log-level", "debug"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "10.0.0.1:1" || o.api != "10.0.0.1:2" || o.data != "/d" || !o.bootstrap || o.logLevel != slog.LevelDebug {
		t.Errorf("explicit flags: %+v", o)
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-id", "0"},
		{"-id", "-1"},
		{"-id", "x"},
		{"-id", "1", "extra"},
		{"-id", "1", "-addr", "nohost"},
		{"-id", "1", "-api", "127.0.0.1:0"},
		{"-id", "1", "-addr", "127.0.0.1:5", "-api", "127.0.0.1:5"},
		{"-id", "1", "-log-level", "loud"},
		{"-id", "1", "-cluster-id", ""},
		{"-id", "60000"},
		{"-nope"},
	} {
		if _, err := parseFlags(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: got %v", err)
	}
	if code := run([]string{"-id", "0"}, io.Discard); code != 2 {
		t.Errorf("run with -id 0: exit %d, want 2", code)
	}
}
