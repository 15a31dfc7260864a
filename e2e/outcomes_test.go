package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
)

// TestFraudSignalsAndDelete: with fraud polling and after_success: delete,
// a folder whose file the simulator flags ends fraud_signals with the
// signal count, a plain one ends clean, uploaded files are deleted once the
// report is written, and a rejected file still goes to failed/.
func TestFraudSignalsAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{FraudPolls: 1}, cfgOptions{Fraud: true, AfterSuccess: "delete"})
	e.addFolder("plain", pdfs(t.Name()+"/plain", 2))
	e.addFolder("flagged", map[string][]byte{"fraud-statement.pdf": samples.PDF(t.Name() + " fraud"), "ok.pdf": samples.PDF(t.Name() + " ok")})
	e.addFolder("mixed", map[string][]byte{"ok.pdf": samples.PDF(t.Name() + " mixed"), "notes.txt": []byte("not a statement")})

	d := e.start(nil, "run")
	e.waitSettled(d, 3, 60*time.Second)
	d.stop()
	res := e.verify(map[string]want{
		"flagged": {outcome: report.OutcomeFraudSignals},
		"mixed":   {rejected: map[string]string{"notes.txt": "not accepted"}},
	}, report.OutcomeClean)
	if r := res.reports["flagged"]; r.Fraud == nil || r.Fraud.SignalCount != 2 || len(r.Fraud.Documents) == 0 {
		t.Errorf("folder flagged: fraud %+v, want signal_count 2 and the documents as received", r.Fraud)
	}
	if r := res.reports["plain"]; r.Fraud == nil || r.Fraud.SignalCount != 0 || r.Times.Analysed == nil {
		t.Errorf("folder plain: fraud %+v, analysed %v; want signal_count 0 and an analysed time", r.Fraud, r.Times.Analysed)
	}
	if entries, _ := os.ReadDir(e.archive); len(entries) != 0 {
		t.Errorf("archive holds %d entries with after_success: delete, want none", len(entries))
	}
}

// TestFraudTimeout: an analysis that never completes ends timed_out once
// fraud.timeout has passed; the files were uploaded and completed, so they
// are archived.
func TestFraudTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{FraudPolls: flinkssim.FraudNever}, cfgOptions{Fraud: true, FraudTimeout: "3s"})
	e.addFolders(2, 1)
	d := e.start(nil, "run")
	e.waitSettled(d, 2, 60*time.Second)
	d.stop()
	res := e.verify(nil, report.OutcomeTimedOut)
	for f, r := range res.reports {
		if r.Times.Completed == nil || r.Times.Analysed != nil {
			t.Errorf("folder %q: completed %v, analysed %v; want completed and never analysed", f, r.Times.Completed, r.Times.Analysed)
		}
	}
}

// TestReadyMarker: with a long settle, a folder closes only when its ready
// marker appears; the marker is removed with the folder.
func TestReadyMarker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{}, cfgOptions{Settle: "1h", ReadyMarker: "READY"})
	d := e.start(nil, "run")
	e.addFolder("waiting", pdfs(t.Name()+"/waiting", 2))
	marked := pdfs(t.Name()+"/marked", 2)
	e.addFolderFunc("marked", func(dir string) { testutil.WriteFiles(t, dir, marked) })
	// The marker arrives after the files, as a scanner would write it.
	if err := os.WriteFile(filepath.Join(e.inbox, "marked", "READY"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, d, 60*time.Second, "the marked folder's report", func() bool { return e.reportCount() == 1 })
	// "waiting" was in the inbox before "marked": it had every chance.
	if _, err := os.Stat(filepath.Join(e.inbox, "waiting", "01.pdf")); err != nil {
		t.Errorf("the folder without a marker was taken before settle (1h): %v", err)
	}
	if err := os.WriteFile(filepath.Join(e.inbox, "waiting", "READY"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.waitSettled(d, 2, 60*time.Second)
	d.stop()
	e.verify(nil, report.OutcomeUploaded)
}
