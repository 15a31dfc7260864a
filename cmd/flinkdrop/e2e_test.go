package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
)

// e2eInbox is what the end-to-end tests drop into the inbox: a file in the
// root, two folders that go through, one with a fraud-named file, and one
// with a file whose content does not match its type.
func e2eInbox() map[string][]byte {
	return map[string][]byte{
		"root-statement.pdf":             samples.PDF("root statement"),
		"applicant-1/jan.pdf":            samples.PDF("January"),
		"applicant-1/feb.png":            samples.PNG(1),
		"applicant-2/fraud-altered.pdf":  samples.PDF("altered"),
		"applicant-2/page-2.jpg":         samples.JPEG(2),
		"applicant-3/march.tiff":         samples.TIFF(3),
		"applicant-3/not-really-a.pdf":   []byte("this is a text file with a pdf name\n"),
		"applicant-3/nested/april.pdf":   samples.PDF("nested April"),
		"applicant-3/nested/Thumbs.db":   []byte("ignored"),
		"applicant-3/.hidden-scan.pdf":   samples.PDF("hidden, ignored"),
		"applicant-3/scan-in-flight.tmp": []byte("ignored"),
	}
}

func TestRunOnceEndToEnd(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{})
	testutil.WriteFiles(t, ws.inbox, e2eInbox())

	res := runCLI(context.Background(), "run", "--once", "--config", cfg)
	if res.code != exitOK {
		t.Fatalf("run --once: %v", res)
	}

	reports := readReports(t, ws.outbox)
	type want struct {
		outcome  string
		uploaded []string
		rejected []string
		signals  int
	}
	wants := map[string]want{
		"root-statement.pdf": {outcome: report.OutcomeClean, uploaded: []string{"root-statement.pdf"}},
		"applicant-1":        {outcome: report.OutcomeClean, uploaded: []string{"feb.png", "jan.pdf"}},
		"applicant-2":        {outcome: report.OutcomeFraudSignals, uploaded: []string{"fraud-altered.pdf", "page-2.jpg"}, signals: 2},
		"applicant-3":        {outcome: report.OutcomeClean, uploaded: []string{"march.tiff"}, rejected: []string{"not-really-a.pdf"}},
		"applicant-3/nested": {outcome: report.OutcomeClean, uploaded: []string{"april.pdf"}},
	}
	if len(reports) != len(wants) {
		t.Errorf("%d reports in the outbox, want %d: %v", len(reports), len(wants), slices.Sorted(maps.Keys(reports)))
	}
	seen := map[string]bool{}
	for name, r := range reports {
		key := r.Folder
		if key == "" && len(r.Files) == 1 {
			key = r.Files[0].Name
		}
		w, ok := wants[key]
		if !ok {
			t.Errorf("report %s is for folder %q, which was not dropped", name, r.Folder)
			continue
		}
		seen[key] = true
		if want := report.SafeName(key) + "__" + r.LoginID + ".json"; r.Folder != "" && name != want {
			t.Errorf("report for %s is named %s, want %s", key, name, want)
		}
		if r.Outcome != w.outcome {
			t.Errorf("report for %s: outcome %q, want %q (error %+v)", key, r.Outcome, w.outcome, r.Error)
		}
		var up, rej []string
		for _, f := range r.Files {
			switch f.Status {
			case report.FileUploaded:
				up = append(up, f.Name)
			case report.FileRejected:
				rej = append(rej, f.Name)
				if f.Reason == "" {
					t.Errorf("report for %s: rejected file %s has no reason", key, f.Name)
				}
			}
		}
		sort.Strings(up)
		sort.Strings(rej)
		if !slices.Equal(up, w.uploaded) || !slices.Equal(rej, w.rejected) {
			t.Errorf("report for %s: uploaded %v rejected %v, want %v and %v", key, up, rej, w.uploaded, w.rejected)
		}
		gotSignals := 0
		if r.Fraud != nil {
			gotSignals = r.Fraud.SignalCount
		}
		if gotSignals != w.signals {
			t.Errorf("report for %s: %d fraud signals, want %d", key, gotSignals, w.signals)
		}
		if r.LoginID == "" || r.AggregationID == "" {
			t.Errorf("report for %s has login_id %q and aggregation_id %q, want both", key, r.LoginID, r.AggregationID)
		}
	}
	for key := range wants {
		if !seen[key] {
			t.Errorf("no report for %s", key)
		}
	}

	// Every file taken is in the archive or in failed/, next to a copy of
	// its report; the inbox holds only what is ignored.
	archived := testutil.ListFiles(t, ws.archive)
	for _, name := range []string{"root-statement.pdf", "jan.pdf", "feb.png", "fraud-altered.pdf", "page-2.jpg", "march.tiff", "april.pdf"} {
		if !slices.ContainsFunc(archived, func(p string) bool { return filepath.Base(filepath.FromSlash(p)) == name }) {
			t.Errorf("%s is not in the archive; archive holds %v", name, archived)
		}
	}
	if n := countSuffix(archived, ".json"); n != 5 {
		t.Errorf("the archive holds %d report copies, want 5: %v", n, archived)
	}
	failed := testutil.ListFiles(t, ws.failed)
	if !slices.ContainsFunc(failed, func(p string) bool { return strings.HasSuffix(p, "/not-really-a.pdf") }) ||
		countSuffix(failed, ".json") != 1 {
		t.Errorf("failed/ holds %v, want the rejected file and a copy of its session's report", failed)
	}
	left := testutil.ListFiles(t, ws.inbox)
	sort.Strings(left)
	wantLeft := []string{"applicant-3/.hidden-scan.pdf", "applicant-3/nested/Thumbs.db", "applicant-3/scan-in-flight.tmp"}
	if !slices.Equal(left, wantLeft) {
		t.Errorf("inbox holds %v after the run, want only the ignored files %v", left, wantLeft)
	}
	for _, gone := range []string{"applicant-1", "applicant-2"} {
		if _, err := os.Stat(filepath.Join(ws.inbox, gone)); !os.IsNotExist(err) {
			t.Errorf("emptied folder %s was not removed (stat: %v)", gone, err)
		}
	}
	if got := len(sim.Aggregations()); got != 5 {
		t.Errorf("the simulator saw %d aggregations, want 5", got)
	}

	// A second run with nothing new writes nothing.
	res = runCLI(context.Background(), "run", "--once", "--config", cfg)
	if res.code != exitOK {
		t.Fatalf("second run --once: %v", res)
	}
	if again := readReports(t, ws.outbox); len(again) != len(reports) {
		t.Errorf("second run: %d reports, want the same %d", len(again), len(reports))
	}
	if got := len(sim.Aggregations()); got != 5 {
		t.Errorf("second run: the simulator saw %d aggregations, want still 5", got)
	}
}

func countSuffix(list []string, suffix string) int {
	n := 0
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			n++
		}
	}
	return n
}

func TestRunOnceStopsOnRefusedCredentials(t *testing.T) {
	t.Parallel()
	sim := startSim(t, flinkssim.Options{})
	ws := newWorkspace(t)
	cfg := writeConfig(t, sim, ws, testConfig{clientSecret: "not-the-secret"})
	files := map[string][]byte{"applicant-5/jan.pdf": samples.PDF("January"), "root.pdf": samples.PDF("root")}
	testutil.WriteFiles(t, ws.inbox, files)

	res := runCLI(context.Background(), "run", "--once", "--config", cfg)
	if res.code != exitFailure {
		t.Fatalf("run --once with a refused secret: exit %d, want %d\n%v", res.code, exitFailure, res)
	}
	for _, want := range []string{"flinks.client_secret", "flinkdrop check", "left in place"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("run --once with a refused secret: stderr lacks %q\n%v", want, res)
		}
	}
	for name := range files {
		if _, err := os.Stat(filepath.Join(ws.inbox, filepath.FromSlash(name))); err != nil {
			t.Errorf("%s left the inbox: %v", name, err)
		}
	}
	if n := len(readReports(t, ws.outbox)); n != 0 {
		t.Errorf("%d reports written, want none", n)
	}
}
