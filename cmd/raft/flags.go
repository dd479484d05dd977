package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/raftsidecar/raft/actors"
)

// Defaults derived from the node id, so that `raft -id 1`, `raft -id 2`, ... run side by
// side on one machine with no other flags.
const (
	defaultHost         = "127.0.0.1"
	defaultPeerPortBase = 7000 // -addr defaults to 127.0.0.1:(7000+id)
	defaultAPIPortBase  = 9000 // -api defaults to 127.0.0.1:(9000+id)
	defaultDataPrefix   = "./raft-data-"
	defaultClusterID    = "raft"
	defaultLogLevel     = "warn"
)

// errUsage marks a command line that cannot be run; the usage text has been printed.
var errUsage = errors.New("usage error")

// options is the parsed command line.
type options struct {
	id             uint64
	addr           string
	api            string
	data           string
	bootstrap      bool
	logLevel       slog.Level
	clusterID      string
	maxCommand     int
	catchUpTimeout time.Duration

	// metrics is where /metrics and /debug/pprof/ are served ("": nowhere).
	metrics string
	// TLS of the client API (apiCert and apiKey; apiClientCA: client certificates
	// required) and mutual TLS between peers (all three or none). PEM file paths.
	apiCert, apiKey, apiClientCA string
	peerCert, peerKey, peerCA    string
}

const usageHeader = `raft: one Raft node run as a sidecar, serving the gRPC API raft.v1.PeerService.

Usage:
  raft -id N [-addr HOST:PORT] [-api HOST:PORT] [-data DIR] [-bootstrap] [flags]

Every flag but -id has a default derived from the id, so that "raft -id 1", "raft -id 2"
and "raft -id 3" run side by side on one machine:
  -addr  127.0.0.1:(7000+id)   peer address (protoactor remoting), as it appears in configurations
  -api   127.0.0.1:(9000+id)   client gRPC API (with server reflection)
  -data  ./raft-data-<id>      LevelDB data directory, created if missing, reused on restart

A node started with an empty data directory and no -bootstrap never campaigns: it waits
until a leader adds it with ChangeConfiguration (raftctl member add / config set).
SIGTERM or SIGINT shut the node down cleanly; exit status 0 after a clean shutdown, 1 when
the node could not start or failed, 2 for a bad command line.

Observability and security are off unless asked for: -metrics HOST:PORT serves Prometheus
metrics at /metrics and Go's pprof at /debug/pprof/ (bind it to 127.0.0.1); -api-cert and
-api-key make the client API serve TLS (-api-client-ca: clients must present a certificate
it signed); -peer-cert, -peer-key and -peer-ca together turn on mutual TLS between peers
(a peer whose certificate -peer-ca did not sign is refused).

Flags:
`

// parseFlags reads the command line. It returns flag.ErrHelp for -h and errUsage (after
// printing the problem and the usage) for a command line that cannot be run.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("raft", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHeader)
		fs.PrintDefaults()
	}
	var o options
	var logLevel string
	fs.Uint64Var(&o.id, "id", 0, "node `id`, a positive integer unique in the cluster (required)")
	fs.StringVar(&o.addr, "addr", "", "peer `address` host:port where protoactor remoting listens (default 127.0.0.1:(7000+id))")
	fs.StringVar(&o.api, "api", "", "client API `address` host:port where gRPC listens (default 127.0.0.1:(9000+id))")
	fs.StringVar(&o.data, "data", "", "data `directory` (LevelDB), created if missing (default ./raft-data-<id>)")
	fs.BoolVar(&o.bootstrap, "bootstrap", false, "on first start with an empty data directory, create a one-member cluster holding just this node; ignored when state exists")
	fs.StringVar(&logLevel, "log-level", defaultLogLevel, "least `level` logged to stderr: debug, info, warn or error")
	fs.StringVar(&o.clusterID, "cluster-id", defaultClusterID, "cluster `name`; peers of another cluster are ignored, and a data directory stays bound to it")
	fs.IntVar(&o.maxCommand, "max-command-bytes", actors.DefaultMaxCommandBytes, "largest command Submit accepts, in `bytes`")
	fs.DurationVar(&o.catchUpTimeout, "catch-up-timeout", actors.DefaultCatchUpTimeout, "how long new members may take to catch up before a configuration change fails")
	registerExtraFlags(fs, &o)

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, flag.ErrHelp
		}
		return o, errUsage // the flag package printed the problem and the usage
	}
	fail := func(format string, a ...any) (options, error) {
		fmt.Fprintf(stderr, "raft: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run raft -h for help.")
		return o, errUsage
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q: every setting is a flag", fs.Arg(0))
	}
	if o.id == 0 {
		return fail("-id is required and must be a positive integer (0 means \"none\")")
	}
	if err := o.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return fail("-log-level %q: want debug, info, warn or error", logLevel)
	}
	if o.clusterID == "" {
		return fail("-cluster-id must not be empty")
	}
	if o.maxCommand <= 0 {
		return fail("-max-command-bytes must be positive")
	}
	if o.catchUpTimeout <= 0 {
		return fail("-catch-up-timeout must be positive")
	}
	var err error
	if o.addr, err = defaultAddress(o.addr, defaultPeerPortBase, o.id, "-addr"); err != nil {
		return fail("%v", err)
	}
	if o.api, err = defaultAddress(o.api, defaultAPIPortBase, o.id, "-api"); err != nil {
		return fail("%v", err)
	}
	if o.data == "" {
		o.data = defaultDataPrefix + strconv.FormatUint(o.id, 10)
	}
	if err := checkAddress(o.addr); err != nil {
		return fail("-addr: %v", err)
	}
	if err := checkAddress(o.api); err != nil {
		return fail("-api: %v", err)
	}
	if o.addr == o.api {
		return fail("-addr and -api are both %s: they need different ports", o.addr)
	}
	if err := checkExtraFlags(o); err != nil {
		return fail("%v", err)
	}
	return o, nil
}

// defaultAddress returns addr, or 127.0.0.1:(base+id) when addr is empty.
func defaultAddress(addr string, base int, id uint64, flagName string) (string, error) {
	if addr != "" {
		return addr, nil
	}
	if id > uint64(65535-base) {
		return "", fmt.Errorf("%s has no default for id %d (port %d+id is past 65535): give it explicitly", flagName, id, base)
	}
	return fmt.Sprintf("%s:%d", defaultHost, base+int(id)), nil
}
