package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flinkdrop/flinkdrop/report"
)

// want is what a test expects of one folder's session.
type want struct {
	// outcome is the report's outcome; "" means clean (uploaded without
	// fraud polling).
	outcome string
	// rejected names the files expected in failed/ with status rejected and
	// a reason holding the given text.
	rejected map[string]string
	// errStage, when set, is the report's error.stage.
	errStage string
	// allowCompleteInDoubt accepts the one outcome a crash during complete
	// may leave: failed at stage complete, every file in failed/, and the
	// aggregation completed once (its second complete refused).
	allowCompleteInDoubt bool
	// gone names files the test deleted itself: the report lists them as
	// rejected with a reason holding the given text; they are nowhere.
	gone map[string]string
}

// result is what verify found.
type result struct {
	reports        map[string]report.Report // by folder
	reuploads      int64
	completeDoubts int // sessions failed at complete after a crash
}

// parsedReport is a report and where it was found.
type parsedReport struct {
	path string
	raw  []byte
	r    report.Report
}

// verify checks every promise of SPEC §6 the test can see from outside:
// the inbox is empty, one valid report per folder with the wanted outcome,
// each input file in the archive or failed/ exactly once (by content), no
// temporary files left, and each completed aggregation holding exactly its
// folder's uploaded files once, never completed twice; an abandoned
// aggregation is never completed. wants is keyed by folder; folders of the
// inputs without an entry want a clean (or uploaded) session with every
// file archived.
func (e *env) verify(wants map[string]want, defaultOutcome string) result {
	t := e.t
	t.Helper()
	if defaultOutcome == "" {
		defaultOutcome = report.OutcomeClean
	}
	res := result{reports: map[string]report.Report{}}

	byFolder := map[string][]input{}
	for _, in := range e.inputs {
		byFolder[in.folder] = append(byFolder[in.folder], in)
	}
	for f := range wants {
		if _, ok := byFolder[f]; !ok {
			byFolder[f] = nil
		}
	}
	wantOf := func(folder string) want {
		w, ok := wants[folder]
		if !ok || w.outcome == "" {
			w.outcome = defaultOutcome
		}
		return w
	}

	// 1. Nothing left in the inbox.
	if left := e.inboxEntries(); len(left) > 0 {
		t.Errorf("inbox still holds %d entries, want none: %v", len(left), left)
	}

	// 2. Reports: one per folder, valid, complete JSON, no temporary files.
	reports := map[string]parsedReport{}
	entries, err := os.ReadDir(e.outbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		name := ent.Name()
		path := filepath.Join(e.outbox, name)
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") || !ent.Type().IsRegular() {
			t.Errorf("outbox holds %s, want only reports (a temporary file left behind?)", name)
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := report.Validate(raw); err != nil {
			t.Errorf("report %s does not validate: %v", name, err)
		}
		e.checkNoSecrets("report "+name, string(raw))
		var r report.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Errorf("report %s is not complete JSON: %v", name, err)
			continue
		}
		if prev, dup := reports[r.Folder]; dup {
			t.Errorf("folder %q has two reports: %s and %s, want one", r.Folder, filepath.Base(prev.path), name)
		}
		if r.Inbox != e.inbox {
			t.Errorf("report %s: inbox %q, want %q", name, r.Inbox, e.inbox)
		}
		reports[r.Folder] = parsedReport{path: path, raw: raw, r: r}
		res.reports[r.Folder] = r
	}
	for folder := range byFolder {
		if _, ok := reports[folder]; !ok {
			t.Errorf("folder %q has no report in the outbox", folder)
		}
	}
	for folder := range reports {
		if _, ok := byFolder[folder]; !ok {
			t.Errorf("report for folder %q, which the test never made", folder)
		}
	}

	// 3. Each report against its folder's inputs and the wanted outcome.
	// placeOf says where each input should be: "archive", "failed" or "gone".
	placeOf := map[string]string{} // sha256 → place
	for folder, ins := range byFolder {
		pr, ok := reports[folder]
		if !ok {
			continue
		}
		r, w := pr.r, wantOf(folder)
		doubt := w.allowCompleteInDoubt && r.Outcome == report.OutcomeFailed && r.Error != nil && r.Error.Stage == "complete"
		if doubt {
			res.completeDoubts++
		} else {
			if r.Outcome != w.outcome {
				t.Errorf("folder %q: outcome %q, want %q (error %+v)", folder, r.Outcome, w.outcome, r.Error)
			}
			if w.errStage != "" && (r.Error == nil || r.Error.Stage != w.errStage) {
				t.Errorf("folder %q: error %+v, want stage %q", folder, r.Error, w.errStage)
			}
		}
		failedSession := r.Outcome == report.OutcomeFailed || r.Outcome == report.OutcomeRejected
		files := map[string]report.File{}
		for _, f := range r.Files {
			if _, dup := files[f.Name]; dup {
				t.Errorf("folder %q: report lists %s twice", folder, f.Name)
			}
			files[f.Name] = f
		}
		if got, wantN := len(r.Files), len(ins)+len(w.gone); got != wantN {
			t.Errorf("folder %q: report lists %d files, want %d", folder, got, wantN)
		}
		for name, reason := range w.gone {
			f, ok := files[name]
			if !ok || f.Status != report.FileRejected || !strings.Contains(f.Reason, reason) {
				t.Errorf("folder %q: file %s in the report is %+v, want rejected with a reason holding %q", folder, name, f, reason)
			}
		}
		for _, in := range ins {
			f, ok := files[in.name]
			if !ok {
				t.Errorf("folder %q: report does not list %s", folder, in.name)
				continue
			}
			if f.SHA256 != "" && f.SHA256 != in.sha256 {
				t.Errorf("folder %q: %s in the report has sha256 %s, want %s (as dropped)", folder, in.name, f.SHA256, in.sha256)
			}
			if doubt && f.SHA256 == "" {
				t.Errorf("folder %q: failed at complete, yet %s has no sha256: complete runs only once every file is sent", folder, in.name)
			}
			reason, isRejected := w.rejected[in.name]
			switch {
			case isRejected:
				if f.Status != report.FileRejected || !strings.Contains(f.Reason, reason) {
					t.Errorf("folder %q: %s is %s (%q), want rejected with a reason holding %q", folder, in.name, f.Status, f.Reason, reason)
				}
				placeOf[in.sha256] = "failed"
			case failedSession:
				placeOf[in.sha256] = "failed"
			default:
				if f.Status != report.FileUploaded {
					t.Errorf("folder %q: %s is %s (%q), want uploaded", folder, in.name, f.Status, f.Reason)
				}
				if f.SHA256 != in.sha256 || f.Size != in.size {
					t.Errorf("folder %q: %s in the report is %d bytes sha256 %s, want %d bytes %s", folder, in.name, f.Size, f.SHA256, in.size, in.sha256)
				}
				placeOf[in.sha256] = "archive"
				if e.deleteMode {
					placeOf[in.sha256] = "gone"
				}
			}
		}
	}

	// 4. Every input exactly once in the archive or failed/, by content; a
	// copy of the report beside the files; no temporary files.
	found := map[string][]string{} // sha256 → paths
	copies := map[string]int{}     // folder → report copies in it
	dataDirs := map[string]bool{}  // folders holding files
	for _, root := range []string{e.archive, e.failed} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				return nil
			}
			if strings.HasPrefix(name, ".flinkdrop-") || strings.HasSuffix(name, ".tmp") {
				t.Errorf("temporary file left behind: %s", path)
				return nil
			}
			if strings.HasSuffix(name, ".json") {
				e.checkReportCopy(path, reports)
				copies[filepath.Dir(path)]++
				return nil
			}
			dataDirs[filepath.Dir(path)] = true
			sum, _ := hashFile(t, path)
			found[sum] = append(found[sum], path)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for dir := range dataDirs {
		if copies[dir] != 1 {
			t.Errorf("%s holds %d copies of the report, want 1", dir, copies[dir])
		}
	}
	for _, in := range e.inputs {
		paths := found[in.sha256]
		if placeOf[in.sha256] == "gone" {
			// after_success: delete, and the report is written.
			if len(paths) != 0 {
				t.Errorf("%s/%s is still in %v, want it deleted after its report", in.folder, in.name, paths)
			}
			delete(found, in.sha256)
			continue
		}
		if len(paths) != 1 {
			t.Errorf("%s/%s (sha256 %.12s) is in the archive or failed/ %d times, want once: %v", in.folder, in.name, in.sha256, len(paths), paths)
			delete(found, in.sha256)
			continue
		}
		rel, _ := filepath.Rel(e.root, paths[0])
		place := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		if wantPlace := placeOf[in.sha256]; wantPlace != "" && place != wantPlace {
			t.Errorf("%s/%s is in %s (%s), want %s", in.folder, in.name, place, rel, wantPlace)
		}
		if pr, ok := reports[in.folder]; ok {
			id := pr.r.LoginID
			if place == "failed" {
				id = pr.r.SessionID
			}
			if dir := filepath.Base(filepath.Dir(paths[0])); !strings.HasSuffix(dir, "__"+id) {
				t.Errorf("%s/%s is in folder %s, want one named …__%s", in.folder, in.name, dir, id)
			}
		}
		delete(found, in.sha256)
	}
	for sum, paths := range found {
		t.Errorf("unexpected file (sha256 %.12s) in the archive or failed/: %v", sum, paths)
	}

	// 5. The simulator's aggregations.
	e.checkAggregations(reports, &res)
	return res
}

// checkReportCopy wants path to be a byte-for-byte copy of an outbox report.
func (e *env) checkReportCopy(path string, reports map[string]parsedReport) {
	t := e.t
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range reports {
		if bytes.Equal(pr.raw, raw) {
			return
		}
	}
	t.Errorf("%s is not a copy of any report in the outbox", path)
}

// checkAggregations checks the simulator's view: each completed aggregation
// belongs to exactly one report and holds exactly that folder's uploaded
// files once; no aggregation was completed twice; an abandoned one was
// never completed.
func (e *env) checkAggregations(reports map[string]parsedReport, res *result) {
	t := e.t
	t.Helper()
	byAgg := map[string]parsedReport{}
	for _, pr := range reports {
		if pr.r.AggregationID != "" {
			if other, dup := byAgg[pr.r.AggregationID]; dup {
				t.Errorf("aggregation %s is in two reports: %s and %s", pr.r.AggregationID, pr.path, other.path)
			}
			byAgg[pr.r.AggregationID] = pr
		}
	}
	aggs := e.sim.Aggregations()
	completed := 0
	var uploadedFiles int64
	seen := map[string]bool{}
	for _, a := range aggs {
		pr, ours := byAgg[a.ID]
		if !ours {
			if a.Completed || a.CompleteCalls > 0 {
				t.Errorf("abandoned aggregation %s was completed (%d complete calls), want never", a.ID, a.CompleteCalls)
			}
			continue
		}
		seen[a.ID] = true
		r := pr.r
		if !a.Completed {
			if r.Outcome != report.OutcomeRejected {
				t.Errorf("folder %q: aggregation %s of its %s report was never completed", r.Folder, a.ID, r.Outcome)
			}
			continue
		}
		completed++
		switch {
		case a.CompleteCalls == 1:
			if r.Outcome == report.OutcomeFailed && r.Error != nil && r.Error.Stage == "complete" {
				t.Errorf("folder %q: failed at complete, yet its aggregation had one complete call", r.Folder)
			}
		case a.CompleteCalls == 2:
			if r.Outcome != report.OutcomeFailed || r.Error == nil || r.Error.Stage != "complete" {
				t.Errorf("folder %q: aggregation %s had 2 complete calls, want its report failed at stage complete, got %s %+v", r.Folder, a.ID, r.Outcome, r.Error)
			}
		default:
			t.Errorf("folder %q: aggregation %s had %d complete calls, want 1 (2 only after a crash during complete)", r.Folder, a.ID, a.CompleteCalls)
		}
		if r.LoginID != "" && a.LoginID != r.LoginID {
			t.Errorf("folder %q: report login_id %s, aggregation's %s", r.Folder, r.LoginID, a.LoginID)
		}
		// What the aggregation holds must be exactly the files the report
		// lists with a sha256 (uploaded, or sent before a failed complete).
		var got, wantFiles []string
		for _, f := range a.Files {
			got = append(got, f.Name+" "+f.SHA256)
		}
		for _, f := range r.Files {
			if f.Status == report.FileUploaded || (r.Outcome == report.OutcomeFailed && f.SHA256 != "") {
				wantFiles = append(wantFiles, f.Name+" "+f.SHA256)
			}
		}
		sort.Strings(got)
		sort.Strings(wantFiles)
		if strings.Join(got, "\n") != strings.Join(wantFiles, "\n") {
			t.Errorf("folder %q: completed aggregation %s holds\n%s\nwant exactly\n%s", r.Folder, a.ID, strings.Join(got, "\n"), strings.Join(wantFiles, "\n"))
		}
		uploadedFiles += int64(len(a.Files))
	}
	for id, pr := range byAgg {
		if !seen[id] && pr.r.Outcome != report.OutcomeRejected {
			t.Errorf("folder %q: report names aggregation %s, which the simulator never saw", pr.r.Folder, id)
		}
	}
	st := e.sim.Stats()
	if st.Completes != int64(completed) {
		t.Errorf("simulator accepted %d complete calls for %d completed aggregations, want equal", st.Completes, completed)
	}
	res.reuploads = st.Uploads - uploadedFiles
}

func describe(res result) string {
	return fmt.Sprintf("%d reports, %d re-uploads, %d complete-in-doubt", len(res.reports), res.reuploads, res.completeDoubts)
}
