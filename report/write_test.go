package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fullReport returns a report with every field set, as the pipeline writes
// one for a session whose analysis found signals.
func fullReport(sessionID string) *Report {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	t1, t2, t3, t4 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(30*time.Minute), t0.Add(31*time.Minute)
	return &Report{
		SessionID:     sessionID,
		Inbox:         "/srv/scans/inbox",
		Folder:        "applicant-1234",
		Outcome:       OutcomeFraudSignals,
		AggregationID: "agg-1",
		LoginID:       "login-1",
		RequestID:     "req-1",
		Tag:           "branch-7",
		ClientName:    "",
		Files: []File{
			{Name: "jan.pdf", Size: 123, SHA256: strings.Repeat("ab", 32), Status: FileUploaded},
			{Name: "feb.exe", Size: 9, SHA256: strings.Repeat("0f", 32), Status: FileRejected, Reason: "type exe not allowed"},
		},
		Fraud: &Fraud{SignalCount: 2, Documents: []json.RawMessage{
			json.RawMessage(`{"Status":"COMPLETED","FraudSignals":[{"Type":"a"},{"Type":"b"}]}`),
		}},
		Times: Times{FirstSeen: t0, Uploaded: &t1, Completed: &t2, Analysed: &t3, Reported: &t4},
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%s): %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// readSession returns the session_id of the report at path.
func readSession(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return r.SessionID
}

func TestWrite(t *testing.T) {
	outbox := t.TempDir()
	r := fullReport("s-1")
	got, err := Write(outbox, "applicant-1234__login-1", r)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := filepath.Join(outbox, "applicant-1234__login-1.json"); got != want {
		t.Errorf("Write = %q, want %q", got, want)
	}
	if r.SchemaVersion != SchemaVersion {
		t.Errorf("r.SchemaVersion = %d after Write, want %d", r.SchemaVersion, SchemaVersion)
	}
	if names, want := listDir(t, outbox), []string{"applicant-1234__login-1.json"}; !slices.Equal(names, want) {
		t.Errorf("outbox holds %q, want %q (no temporary file left)", names, want)
	}
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(data); err != nil {
		t.Errorf("Validate(written report): %v", err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("decode written report: %v", err)
	}
	if back.SessionID != "s-1" || back.Outcome != OutcomeFraudSignals || len(back.Files) != 2 || back.Fraud.SignalCount != 2 {
		t.Errorf("written report = %+v, want the fields given", back)
	}
	if !back.Times.Analysed.Equal(*r.Times.Analysed) {
		t.Errorf("times.analysed = %v, want %v", back.Times.Analysed, r.Times.Analysed)
	}
	fi, err := os.Stat(got)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != reportPerm {
		t.Errorf("report permissions = %v, want %v", perm, os.FileMode(reportPerm))
	}
}

func TestEncodeEmptyFields(t *testing.T) {
	r := &Report{SessionID: "s", Outcome: OutcomeRejected, Times: Times{FirstSeen: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	data, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"inbox", "folder", "aggregation_id", "login_id", "request_id", "tag", "client_name"} {
		if v, ok := m[k]; !ok || v != "" {
			t.Errorf("Encode: %q = %v (present %v), want \"\"", k, v, ok)
		}
	}
	if files, ok := m["files"].([]any); !ok || len(files) != 0 {
		t.Errorf("Encode: files = %v, want []", m["files"])
	}
	for _, k := range []string{"fraud", "error"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("Encode: %q = %v (present %v), want null", k, v, ok)
		}
	}
	times := m["times"].(map[string]any)
	if _, ok := times["uploaded"]; ok {
		t.Errorf("Encode: times.uploaded present for a session never uploaded: %v", times)
	}
	if m["schema_version"] != float64(1) {
		t.Errorf("Encode: schema_version = %v, want 1", m["schema_version"])
	}
	if r.SchemaVersion != 0 {
		t.Errorf("Encode changed r.SchemaVersion to %d, want it untouched", r.SchemaVersion)
	}
	if err := Validate(data); err != nil {
		t.Errorf("Validate(Encode(minimal rejected report)): %v", err)
	}
	withFraud := &Report{SessionID: "s", Outcome: OutcomeClean, Fraud: &Fraud{}}
	data, err = Encode(withFraud)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"documents": []`) {
		t.Errorf("Encode(fraud with nil documents) = %s, want \"documents\": []", data)
	}
}

func TestWriteCollision(t *testing.T) {
	outbox := t.TempDir()
	base := "a__x"
	other := filepath.Join(outbox, base+".json")
	if err := os.WriteFile(other, []byte(`{"session_id":"someone-else"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Write(outbox, base, fullReport("s-1"))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := filepath.Join(outbox, base+"-2.json"); got != want {
		t.Errorf("Write over another session's report = %q, want %q", got, want)
	}
	if s := readSession(t, other); s != "someone-else" {
		t.Errorf("existing report now holds session %q, want it untouched", s)
	}
	got, err = Write(outbox, base, fullReport("s-2"))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := filepath.Join(outbox, base+"-3.json"); got != want {
		t.Errorf("third Write = %q, want %q", got, want)
	}
	// Not a report at all: never ours, never replaced.
	junk := filepath.Join(outbox, "j.json")
	if err := os.WriteFile(junk, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = Write(outbox, "j", fullReport("s-3"))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := filepath.Join(outbox, "j-2.json"); got != want {
		t.Errorf("Write over a non-report = %q, want %q", got, want)
	}
	if data, _ := os.ReadFile(junk); string(data) != "not json" {
		t.Errorf("non-report now holds %q, want it untouched", data)
	}
}

func TestWriteIdempotent(t *testing.T) {
	outbox := t.TempDir()
	first, err := Write(outbox, "b", fullReport("s-1"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(first)
	// A rewrite after a crash carries a later time: the first one stays.
	again := fullReport("s-1")
	later := again.Times.Reported.Add(time.Hour)
	again.Times.Reported = &later
	second, err := Write(outbox, "b", again)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second Write of the same session = %q, want %q", second, first)
	}
	after, _ := os.ReadFile(first)
	if string(after) != string(before) {
		t.Errorf("second Write changed the report")
	}
	if names, want := listDir(t, outbox), []string{"b.json"}; !slices.Equal(names, want) {
		t.Errorf("outbox holds %q, want %q", names, want)
	}

	// The session's report already sits at a numbered name.
	outbox = t.TempDir()
	if err := os.WriteFile(filepath.Join(outbox, "c.json"), []byte(`{"session_id":"other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p1, err := Write(outbox, "c", fullReport("s-9"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Write(outbox, "c", fullReport("s-9"))
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 || filepath.Base(p2) != "c-2.json" {
		t.Errorf("Write twice after a collision = %q then %q, want c-2.json both times", p1, p2)
	}
	if n := len(listDir(t, outbox)); n != 2 {
		t.Errorf("outbox holds %d files, want 2", n)
	}
}

func TestWriteRemovesStaleTemps(t *testing.T) {
	outbox := t.TempDir()
	ours := filepath.Join(outbox, tempPrefixFor("d\x00s-1")+"123.tmp")
	otherBase := filepath.Join(outbox, tempPrefixFor("e\x00s-1")+"456.tmp")
	otherSession := filepath.Join(outbox, tempPrefixFor("d\x00s-2")+"789.tmp")
	for _, p := range []string{ours, otherBase, otherSession} {
		if err := os.WriteFile(p, []byte(`{"sess`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Write(outbox, "d", fullReport("s-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ours); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file of the same report: Stat err = %v, want it removed", err)
	}
	for _, p := range []string{otherBase, otherSession} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("temporary file of another report: Stat err = %v, want it kept", err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "outbox")
	if err := os.WriteFile(file, []byte("a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nowhere")
	noSession := fullReport("")
	tests := []struct {
		name     string
		outbox   string
		base     string
		r        *Report
		wantErr  error
		wantText []string
	}{
		{"outbox is a file", file, "x", fullReport("s"), nil, []string{file, "not a folder"}},
		{"outbox missing", missing, "x", fullReport("s"), os.ErrNotExist, []string{missing, "create the folder"}},
		{"under a file", filepath.Join(file, "sub"), "x", fullReport("s"), nil, []string{file}},
		{"separator in base", dir, "a/b", fullReport("s"), ErrUnsafeName, []string{"SessionBase"}},
		{"backslash in base", dir, `a\b`, fullReport("s"), ErrUnsafeName, nil},
		{"dot-dot base", dir, "..", fullReport("s"), ErrUnsafeName, nil},
		{"empty base", dir, "", fullReport("s"), ErrUnsafeName, nil},
		{"no session id", dir, "x", noSession, ErrNoSessionID, nil},
		{"nil report", dir, "x", nil, nil, []string{"nil report"}},
	}
	for _, tt := range tests {
		got, err := Write(tt.outbox, tt.base, tt.r)
		if err == nil {
			t.Errorf("%s: Write = %q, nil error; want an error", tt.name, got)
			continue
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Write error = %v, want %v", tt.name, err, tt.wantErr)
		}
		for _, s := range tt.wantText {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: Write error = %q, want it to mention %q", tt.name, err, s)
			}
		}
	}
	// Nothing was written anywhere.
	if names, want := listDir(t, dir), []string{"outbox"}; !slices.Equal(names, want) {
		t.Errorf("folder holds %q after failed writes, want %q", names, want)
	}
	if data, _ := os.ReadFile(file); string(data) != "a file" {
		t.Errorf("the file in the outbox's place now holds %q, want it untouched", data)
	}
}

// TestWriteConcurrentNoClobber writes reports of distinct sessions under the
// same base from many goroutines while a reader watches the outbox: every
// session ends in its own file, and the reader never sees a partial one.
func TestWriteConcurrentNoClobber(t *testing.T) {
	outbox := t.TempDir()
	const writers = 8
	const rounds = 5
	stop := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		defer close(readerErr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			entries, err := os.ReadDir(outbox)
			if err != nil {
				readerErr <- err
				return
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					continue // hidden: temporary files
				}
				data, err := os.ReadFile(filepath.Join(outbox, e.Name()))
				if err != nil {
					readerErr <- err
					return
				}
				var r Report
				if err := json.Unmarshal(data, &r); err != nil || r.SessionID == "" {
					readerErr <- fmt.Errorf("visible file %s is not a whole report: %v (%d bytes)", e.Name(), err, len(data))
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	paths := make([][]string, writers)
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				p, err := Write(outbox, "same", fullReport(fmt.Sprintf("s-%d-%d", w, i)))
				if err != nil {
					errs[w] = err
					return
				}
				paths[w] = append(paths[w], p)
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-readerErr; err != nil {
		t.Errorf("reader: %v", err)
	}
	seen := map[string]string{}
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: %v", w, errs[w])
		}
		for i, p := range paths[w] {
			want := fmt.Sprintf("s-%d-%d", w, i)
			if prev, dup := seen[p]; dup {
				t.Errorf("sessions %s and %s both written to %s", prev, want, p)
			}
			seen[p] = want
			if got := readSession(t, p); got != want {
				t.Errorf("%s holds session %q, want %q", p, got, want)
			}
		}
	}
	names := listDir(t, outbox)
	if len(names) != writers*rounds {
		t.Errorf("outbox holds %d files, want %d: %q", len(names), writers*rounds, names)
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			t.Errorf("temporary file %s left in the outbox", n)
		}
	}
}

// TestWriteConcurrentSameSession writes one session's report from many
// goroutines at once: one file, and every call returns its path.
func TestWriteConcurrentSameSession(t *testing.T) {
	outbox := t.TempDir()
	const writers = 8
	paths := make([]string, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { paths[w], errs[w] = Write(outbox, "one", fullReport("s-1")) })
	}
	wg.Wait()
	want := filepath.Join(outbox, "one.json")
	for w := range writers {
		if errs[w] != nil || paths[w] != want {
			t.Errorf("writer %d: Write = %q, %v; want %q, nil", w, paths[w], errs[w], want)
		}
	}
	if names := listDir(t, outbox); !slices.Equal(names, []string{"one.json"}) {
		t.Errorf("outbox holds %q, want only one.json", names)
	}
}

// TestPlaceWithoutLinks takes the path for file systems without hard links
// (some network shares): check the name is free, then rename.
func TestPlaceWithoutLinks(t *testing.T) {
	noLinks := func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errors.ErrUnsupported}
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".t.tmp")
	final := filepath.Join(dir, "r.json")
	if err := os.WriteFile(tmp, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(final, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := placeWith(noLinks, tmp, final); !errors.Is(err, os.ErrExist) {
		t.Errorf("placeWith(no links) onto an existing name = %v, want ErrExist", err)
	}
	if data, _ := os.ReadFile(final); string(data) != "old" {
		t.Errorf("existing file now holds %q, want it untouched", data)
	}
	free := filepath.Join(dir, "r-2.json")
	if err := placeWith(noLinks, tmp, free); err != nil {
		t.Fatalf("placeWith(no links) onto a free name: %v", err)
	}
	if data, _ := os.ReadFile(free); string(data) != "new" {
		t.Errorf("placed file holds %q, want %q", data, "new")
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file: Lstat err = %v, want it gone", err)
	}
}

// Write calls its hook once the temporary file is written, before the
// report has its name; a crash there leaves only a temporary file, which
// the next Write of the same report removes.
func TestWriteHook(t *testing.T) {
	outbox := t.TempDir()
	var seen []string
	hook := func(p string) {
		seen = append(seen, p)
		names := listDir(t, outbox)
		if len(names) != 1 || !strings.HasPrefix(names[0], tempPrefix) {
			t.Errorf("at %s the outbox holds %q, want only the temporary file", p, names)
		}
	}
	path, err := Write(outbox, "s__1", fullReport("sess-1"), Options{Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "report-temp-written" {
		t.Errorf("hook points %q, want [report-temp-written]", seen)
	}
	if got := listDir(t, outbox); len(got) != 1 || got[0] != filepath.Base(path) {
		t.Errorf("outbox holds %q, want only %s", got, filepath.Base(path))
	}
}
