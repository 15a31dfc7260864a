package main

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
)

// addDone stores a session walked to done with outcome.
func addDone(t *testing.T, st *store.Store, inbox, folder, outcome string, at time.Time) {
	t.Helper()
	s, err := st.Create(store.Session{Inbox: inbox, Folder: folder, Dir: filepath.Join(inbox, folder), Times: store.Times{FirstSeen: at},
		Files: []store.File{{Path: filepath.Join(inbox, folder, "a.pdf"), Name: "a.pdf", Size: 1, ModTime: at}}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, to := range []store.State{store.StateReporting, store.StateMoving, store.StateDone} {
		if _, err := st.Update(s.ID, func(x *store.Session) error {
			x.State, x.Outcome, x.Times.Done = to, outcome, at
			return nil
		}); err != nil {
			t.Fatalf("walk %s to %s: %v", s.ID, to, err)
		}
	}
}

func TestOutcomeCounterRecountsAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, stateDBName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clock.NewFake(start)
	oc := &outcomeCounter{st: st, clock: clk, every: time.Minute, log: zerolog.Nop()}

	addDone(t, st, dir, "a", report.OutcomeClean, start)
	addDone(t, st, dir, "b", report.OutcomeRejected, start)
	steps := []struct {
		name    string
		advance time.Duration
		add     string // outcome of a session finished before the read; "" for none
		want    map[string]int
	}{
		{"first read counts", 0, "", map[string]int{"clean": 1, "rejected": 1}},
		{"within the interval keeps the count", 30 * time.Second, report.OutcomeFailed, map[string]int{"clean": 1, "rejected": 1}},
		{"after the interval recounts", 31 * time.Second, "", map[string]int{"clean": 1, "rejected": 1, "failed": 1}},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if s.add != "" {
			addDone(t, st, dir, "x"+string(rune('0'+i)), s.add, clk.Now())
		}
		if got := oc.get(); !maps.Equal(got, s.want) {
			t.Errorf("%s: outcomes = %v, want %v", s.name, got, s.want)
		}
	}
}

// TestStatusShowsOutcomes: a rejected session and a clean one are counted
// by outcome, in the JSON and the table, running and stopped.
func TestStatusShowsOutcomes(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})
	testutil.WriteFiles(t, ws.inbox, map[string][]byte{
		"applicant-1/jan.pdf":   samples.PDF("January"),
		"applicant-2/notes.txt": []byte("not a statement"),
	})
	daemon := startCLI(t, "run", "--config", cfg)
	waitForStatusFile(t, ws, daemon)
	testutil.WaitFor(t, 30*time.Second, "both sessions done", func() bool {
		_, rep := statusJSON(t, cfg)
		return rep.Status.Counts[string(store.StateDone)] == 2
	})
	if res := daemon.stop(t); res.code != exitOK {
		t.Fatalf("run after cancel: %v", res)
	}
	// The daemon's last status write (at stop) is after its first count,
	// less than a minute before: the running status is checked on the
	// stopped daemon's database and on the file it left.
	res, rep := statusJSON(t, cfg)
	want := map[string]int{report.OutcomeClean: 1, report.OutcomeRejected: 1}
	if !maps.Equal(rep.Status.Outcomes, want) {
		t.Errorf("status --json after stop: outcomes %v, want %v\n%v", rep.Status.Outcomes, want, res)
	}
	text := runCLI(context.Background(), "status", "--config", cfg)
	for _, w := range []string{"DONE BY OUTCOME", "clean", "rejected"} {
		if !strings.Contains(text.stdout, w) {
			t.Errorf("status table lacks %q\n%v", w, text)
		}
	}
}
