package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

func TestRunOnceInterruptedIsNotSuccess(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{FraudPolls: flinkssim.FraudNever})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})
	testutil.WriteFiles(t, ws.inbox, map[string][]byte{"applicant-4/jan.pdf": samples.PDF("January")})

	b := startCLI(t, "run", "--once", "--config", cfg)
	testutil.WaitFor(t, 20*time.Second, "the session to be completed and polled", func() bool {
		if b.exited() {
			t.Fatalf("run --once ended before it was interrupted: %v", b.stop(t))
		}
		return sim.Stats().FraudPolls > 0
	})
	res := b.stop(t)
	if res.code != exitFailure || !strings.Contains(res.stderr, "interrupted") {
		t.Errorf("run --once interrupted while a session waits for its analysis: want exit 1 saying it was interrupted\n%v", res)
	}
	for _, line := range strings.Split(res.stderr, "\n") {
		if strings.Count(line, `"component":`) > 1 {
			t.Errorf("a log line carries the component field twice: %s", line)
		}
	}
	if _, err := os.Stat(filepath.Join(ws.inbox, "applicant-4", "jan.pdf")); err != nil {
		t.Errorf("the file of the unfinished session left the inbox: %v", err)
	}
}
