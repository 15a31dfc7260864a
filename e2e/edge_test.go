package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/report"
)

// TestSessionOverLimits uses limits of 1 MB per file and 2 MB per session
// (the same code path as the default 18 and 180 MB): a folder over the session
// limit is not uploaded at all, reported rejected with the reason, its
// files in failed/; a file over the file limit is rejected alone.
func TestSessionOverLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{}, cfgOptions{MaxFileMB: 1, MaxSessionMB: 2})
	e.addFolder("toobig", map[string][]byte{
		"a.pdf": bigPDF("toobig a", 800<<10),
		"b.pdf": bigPDF("toobig b", 800<<10),
		"c.pdf": bigPDF("toobig c", 800<<10),
	})
	e.addFolder("filetoobig", map[string][]byte{"big.pdf": bigPDF("filetoobig", 1<<20+1), "ok.pdf": bigPDF("filetoobig ok", 1000)})
	e.addFolder("fine", map[string][]byte{"ok.pdf": bigPDF("fine", 900<<10)})

	d := e.start(nil, "run")
	e.waitSettled(d, 3, 60*time.Second)
	d.stop()
	res := e.verify(map[string]want{
		"toobig": {outcome: report.OutcomeRejected, errStage: "limits",
			rejected: map[string]string{"a.pdf": "limits", "b.pdf": "limits", "c.pdf": "limits"}},
		"filetoobig": {rejected: map[string]string{"big.pdf": "max_file_mb"}},
	}, report.OutcomeUploaded)
	if r := res.reports["toobig"]; r.Error == nil || !strings.Contains(r.Error.Message, "max_session_mb") {
		t.Errorf("folder toobig: error %+v, want a message naming limits.max_session_mb", r.Error)
	}
	for _, a := range e.sim.Aggregations() {
		for _, f := range a.Files {
			if strings.HasPrefix(f.Name, "a.pdf") || f.Size == 800<<10 {
				t.Errorf("aggregation %s holds %s of the rejected session, want nothing of it uploaded", a.ID, f.Name)
			}
		}
	}
}

// TestFileChangedWhileUploading deletes one file of a session and truncates
// one already sent while the session uploads (the simulator slowed down):
// the session starts over on a fresh aggregation, the deleted file is
// reported, the truncated one goes up as it is now, and the abandoned
// aggregation is never completed.
func TestFileChangedWhileUploading(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{Faults: faultsLatency(400 * time.Millisecond)}, cfgOptions{})
	e.addFolder("f", pdfs(t.Name(), 4))
	d := e.start(nil, "run")
	waitFor(t, d, 60*time.Second, "the first upload", func() bool { return e.sim.Stats().Uploads >= 1 })
	aggs := e.sim.Aggregations()
	if len(aggs) != 1 || len(aggs[0].Files) != 1 {
		t.Fatalf("aggregations after the first upload: %+v, want one with one file", aggs)
	}
	sent := aggs[0].Files[0].Name
	var victim string
	for _, n := range []string{"01.pdf", "02.pdf", "03.pdf", "04.pdf"} {
		if n != sent {
			victim = n // any file not accepted yet
		}
	}
	if err := os.Remove(filepath.Join(e.inbox, "f", victim)); err != nil {
		t.Fatal(err)
	}
	e.forget("f", victim)
	// Truncate the sent file in place, as a scanner saving again would.
	sentPath := filepath.Join(e.inbox, "f", sent)
	fi, err := os.Stat(sentPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sentPath, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	e.forget("f", sent)
	sum, size := hashFile(t, sentPath)
	e.recordHash("f", sent, sum, size)

	e.waitSettled(d, 1, 60*time.Second)
	d.stop()
	e.verify(map[string]want{"f": {gone: map[string]string{victim: "deleted"}}}, report.OutcomeUploaded)
	if n := len(e.sim.Aggregations()); n < 2 {
		t.Errorf("%d aggregations, want a fresh one after the change (at least 2)", n)
	}
}

// TestOutboxUnwritable makes the outbox a regular file: the session waits
// after complete and nothing moves; once the outbox is a folder again the
// report is written and the files move.
func TestOutboxUnwritable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, simOptions{}, cfgOptions{})
	d := e.start(nil, "run")
	waitFor(t, d, 30*time.Second, "the daemon's status file", func() bool {
		s, ok := e.readStatusFile()
		return ok && s.PID == d.cmd.Process.Pid
	})
	if err := os.Remove(e.outbox); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.outbox, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.addFolders(2, 2)
	before := e.inboxEntries()
	waitFor(t, d, 60*time.Second, "a status error about the outbox", func() bool {
		s, ok := e.readStatusFile()
		return ok && s.LastError != nil && strings.Contains(s.LastError.Message, "outbox") && e.sim.Stats().Completes == 2
	})
	if got := e.inboxEntries(); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("with no outbox the inbox changed to %v, want it untouched %v", got, before)
	}
	for _, dir := range []string{e.failed, e.archive} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s holds %d entries before any report, want none", dir, len(entries))
		}
	}
	if err := os.Remove(e.outbox); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	e.waitSettled(d, 2, 90*time.Second)
	d.stop()
	e.verify(nil, report.OutcomeUploaded)
}
