// Package workload drives and measures a replicated log the same way for every system
// compared: cmd/raftbench (this library) and test/compare/hashicorp (hashicorp/raft) differ
// only in how they set up their cluster and submit one command.
package workload

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Warmup runs before the counted window and is not measured.
const Warmup = time.Second

// OpTimeout bounds one Submit/Apply.
const OpTimeout = 10 * time.Second

// Options are the command-line flags shared by both commands.
type Options struct {
	Nodes      int
	Clients    int
	Size       int
	Duration   time.Duration
	Durable    bool
	CPUProfile string
}

// ParseOptions reads the flags both commands share, exiting on bad input.
func ParseOptions() Options {
	var o Options
	flag.IntVar(&o.Nodes, "nodes", 3, "cluster size (voters, all in this process)")
	flag.IntVar(&o.Clients, "clients", 64, "concurrent client goroutines, each with one command in flight")
	flag.IntVar(&o.Size, "size", 128, "command size in bytes")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "length of the counted window (after a 1s warm-up)")
	flag.BoolVar(&o.Durable, "durable", true, "fsync log writes (false: same code path without fsync)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the counted window to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		Fail(fmt.Errorf("unexpected arguments: %v", flag.Args()))
	}
	if o.Nodes < 1 || o.Clients < 1 || o.Size < 1 || o.Duration <= 0 {
		Fail(errors.New("-nodes, -clients, -size and -duration must be positive"))
	}
	return o
}

// SubmitFunc replicates one command and returns once it is committed.
type SubmitFunc func(ctx context.Context, cmd []byte) error

// Report is the JSON line printed last on stdout.
type Report struct {
	System      string  `json:"system"`
	Nodes       int     `json:"nodes"`
	Clients     int     `json:"clients"`
	Size        int     `json:"size"`
	Durable     bool    `json:"durable"`
	DurationS   float64 `json:"duration_s"`
	Ops         int     `json:"ops"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	CPUMsPerKop float64 `json:"cpu_ms_per_kop"`
	PeakRSSMb   float64 `json:"peak_rss_mb"`
	Errors      int     `json:"errors"`
}

// clientStats is what one client goroutine measured; each client owns its own.
type clientStats struct {
	latencies    []time.Duration // ops that started and finished inside the window
	errors       int             // failed ops that started inside the window
	warmupErrors int             // failed ops that started before it
	firstErr     error
}

// Run runs o.Clients goroutines calling submit in a loop: a warm-up of 1s, then the
// counted window of o.Duration. Only ops that start and finish inside the window are
// counted. CPU time (getrusage, whole process) and the optional CPU profile cover exactly
// the window.
func Run(ctx context.Context, system string, o Options, submit SubmitFunc) (Report, error) {
	start := time.Now()
	windowStart := start.Add(Warmup)
	windowEnd := windowStart.Add(o.Duration)

	stats := make([]clientStats, o.Clients)
	perClient := 1 << 12
	var wg sync.WaitGroup
	for i := range stats {
		cmd := make([]byte, o.Size)
		_, _ = rand.Read(cmd) // incompressible; never modified after this
		s := &stats[i]
		s.latencies = make([]time.Duration, 0, perClient)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(windowEnd) {
					return
				}
				opCtx, cancel := context.WithTimeout(ctx, OpTimeout)
				err := submit(opCtx, cmd)
				cancel()
				t1 := time.Now()
				inWindow := !t0.Before(windowStart)
				switch {
				case err != nil:
					if ctx.Err() != nil {
						return
					}
					if inWindow {
						s.errors++
					} else {
						s.warmupErrors++
					}
					if s.firstErr == nil {
						s.firstErr = err
					}
					time.Sleep(10 * time.Millisecond) // no hot loop while the cluster is unhappy
				case inWindow && !t1.After(windowEnd):
					s.latencies = append(s.latencies, t1.Sub(t0))
				}
			}
		}()
	}

	var before, after syscall.Rusage
	sleepUntil(ctx, windowStart)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		return Report{}, fmt.Errorf("getrusage: %w", err)
	}
	var prof *os.File
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return Report{}, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return Report{}, err
		}
		prof = f
	}
	sleepUntil(ctx, windowEnd)
	if prof != nil {
		pprof.StopCPUProfile()
		if err := prof.Close(); err != nil {
			return Report{}, err
		}
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		return Report{}, fmt.Errorf("getrusage: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Report{}, fmt.Errorf("interrupted: %w", err)
	}
	Logf("window over; waiting for in-flight ops")
	wg.Wait()

	var all []time.Duration
	errCount, warmupErrs := 0, 0
	for i := range stats {
		s := &stats[i]
		all = append(all, s.latencies...)
		errCount += s.errors
		warmupErrs += s.warmupErrors
		if s.firstErr != nil {
			Logf("client %d: %d failed ops in the window, %d in the warm-up; first error: %v", i, s.errors, s.warmupErrors, s.firstErr)
		}
	}
	if errCount+warmupErrs > 0 {
		Logf("ERRORS: %d failed ops in the window, %d in the warm-up", errCount, warmupErrs)
	}
	slices.Sort(all)

	cpu := tvDuration(after.Utime) + tvDuration(after.Stime) - tvDuration(before.Utime) - tvDuration(before.Stime)
	r := Report{
		System:    system,
		Nodes:     o.Nodes,
		Clients:   o.Clients,
		Size:      o.Size,
		Durable:   o.Durable,
		DurationS: o.Duration.Seconds(),
		Ops:       len(all),
		OpsPerSec: round(float64(len(all))/o.Duration.Seconds(), 1),
		P50Ms:     ms(percentile(all, 0.50)),
		P90Ms:     ms(percentile(all, 0.90)),
		P99Ms:     ms(percentile(all, 0.99)),
		MaxMs:     ms(percentile(all, 1)),
		PeakRSSMb: round(float64(after.Maxrss)/1024, 1), // Maxrss is in KiB on Linux
		Errors:    errCount,
	}
	if len(all) > 0 {
		r.CPUMsPerKop = round(float64(cpu)/float64(time.Millisecond)/(float64(len(all))/1000), 2)
	}
	Logf("%d ops in %v: %.0f ops/s, p50 %.2fms p99 %.2fms, CPU %v", r.Ops, o.Duration, r.OpsPerSec, r.P50Ms, r.P99Ms, cpu.Round(time.Millisecond))
	return r, nil
}

// percentile is the nearest-rank percentile of sorted durations (q in (0, 1]).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

func tvDuration(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// PrintReport writes the JSON line; call it last, after every node is closed.
func PrintReport(r Report) {
	b, err := json.Marshal(r)
	if err != nil {
		Fail(err)
	}
	fmt.Println(string(b))
}

func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

func Fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
