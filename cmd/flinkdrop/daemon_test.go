package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

func TestCrashHook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec  string
		point string
		nth   int
	}{
		{"after-upload", "after-upload", 1},
		{"after-upload:3", "after-upload", 3},
		{"store-tx:polling", "store-tx:polling", 1},
		{"store-tx:polling:2", "store-tx:polling", 2},
		{"x:0", "x:0", 1},
	}
	for _, tt := range tests {
		point, nth := parseCrashSpec(tt.spec)
		if point != tt.point || nth != tt.nth {
			t.Errorf("parseCrashSpec(%q) = %q, %d, want %q, %d", tt.spec, point, nth, tt.point, tt.nth)
		}
	}
	kills := 0
	h := newCrashHook("after-upload", 3, func() { kills++ })
	for i, p := range []string{"before-upload", "after-upload", "done", "after-upload", "after-upload:3"} {
		h(p)
		if kills != 0 {
			t.Fatalf("killed at call %d (%q), before the third after-upload", i, p)
		}
	}
	h("after-upload")
	if kills != 1 {
		t.Errorf("kills after the third after-upload = %d, want 1", kills)
	}
	h("after-upload")
	if kills != 1 {
		t.Errorf("kills after a fourth after-upload = %d, want still 1", kills)
	}
}

func TestCrashHookOffInReleaseBuild(t *testing.T) {
	if crashTagged {
		t.Skip("built with the flinkdrop_crashtest tag")
	}
	h := crashHookFromEnv(func(string) string { return "after-upload" })
	if h != nil {
		t.Error("a release build returned a crash hook for " + crashEnv)
	}
}

func TestAwaitTasks(t *testing.T) {
	t.Parallel()
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })
	never := func() { <-unblock } // hangs until the test ends
	tests := []struct {
		name  string
		fns   map[string]func()
		order []string
		want  []string
	}{
		{"all return", map[string]func(){"a": func() {}, "b": func() {}}, []string{"a", "b"}, nil},
		{"one hangs", map[string]func(){"a": func() {}, "b": never}, []string{"a", "b"}, []string{"b"}},
		{"first hangs", map[string]func(){"a": never, "b": func() {}}, []string{"a", "b"}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			var tasks []*task
			for _, n := range tt.order {
				tasks = append(tasks, startTask(n, tt.fns[n]))
			}
			if tt.want != nil {
				// Let the returning tasks return first: only the hanging
				// one may be named.
				for _, tk := range tasks {
					if !slices.Contains(tt.want, tk.name) {
						<-tk.done
					}
				}
			}
			got := make(chan []string, 1)
			go func() { got <- awaitTasks(clk, 9*time.Second, tasks...) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				select {
				case g := <-got:
					if !slices.Equal(g, tt.want) {
						t.Errorf("awaitTasks = %v, want %v", g, tt.want)
					}
					return
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("awaitTasks did not return after its limit passed on the clock")
				}
				clk.Advance(time.Second)
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestDaemonStopIsBounded: a pipeline that ignores the cancel does not keep
// the daemon from returning; the log names what did not stop.
func TestDaemonStopIsBounded(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfgPath := writeConfig(t, sim, ws, testConfig{})
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, ws.inbox, map[string][]byte{"applicant-3/jan.pdf": samples.PDF("January")})
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { close(release) })
	var logs testutil.SyncBuffer
	d := &daemon{cfg: cfg, clock: clock.Real(), log: zerolog.New(&logs), startedAt: time.Now(),
		stopWait: 200 * time.Millisecond,
		hook: func(point string) {
			if point == "after-report" {
				once.Do(func() { close(reached) })
				<-release // ignores the cancel
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("run returned before the report was written: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the session never reached after-report\n%s", logs.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil (a stopped daemon succeeded)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its stop bound with the pipeline stuck")
	}
	if out := logs.String(); !strings.Contains(out, `"not_stopped":["pipeline"]`) {
		t.Errorf("log does not name the pipeline as not stopped:\n%s", out)
	}
}
