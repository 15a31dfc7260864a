package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/secret"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// Environment of the crash child process.
const (
	envCrashDir   = "FLINKDROP_TEST_CRASH_DIR"
	envCrashPoint = "FLINKDROP_TEST_CRASH_POINT"
	envCrashSim   = "FLINKDROP_TEST_CRASH_SIM" // see simInfo
	crashExit     = 3
)

// crashLayout is the folders of a crash test, under one root.
type crashLayout struct{ root string }

func (c crashLayout) dir(name string) string { return filepath.Join(c.root, name) }

func (c crashLayout) options(hook func(string)) Options {
	return Options{
		Workers: 2,
		Inboxes: []InboxConfig{{
			Path: c.dir("inbox"), Outbox: c.dir("outbox"), Archive: c.dir("archive"), Failed: c.dir("failed"),
		}},
		FraudEnabled:   true,
		PollInterval:   5 * time.Millisecond,
		Log:            zerolog.Nop(),
		Backoff:        uploader.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		CredentialsMax: 10 * time.Millisecond,
		Once:           true,
		Hook:           hook,
	}
}

// rename is how files move in a crash test: across file systems (a copy)
// for the points on the copy path, else a plain rename.
func (c crashLayout) rename(point string) func(oldpath, newpath string) error {
	if point == "move-copied" {
		return exdev
	}
	return nil
}

// simInfo is what the child needs to reach the simulator, as one string:
// upload URL|fraud URL|client id|customer id|cert|key|CA|secret file|API key file.
func simInfo(sim *flinkssim.Sim) string {
	id, _, _, customer := sim.Credentials()
	certs := sim.Certs()
	secretFile, keyFile := sim.CredentialFiles()
	return strings.Join([]string{sim.UploadURL(), sim.FraudURL(), id, customer,
		certs.ClientCertFile, certs.ClientKeyFile, certs.CAFile, secretFile, keyFile}, "|")
}

// crashClient builds the real client from simInfo.
func crashClient(t *testing.T, info string) *uploader.Client {
	t.Helper()
	parts := strings.Split(info, "|")
	if len(parts) != 9 {
		t.Fatalf("bad %s %q", envCrashSim, info)
	}
	read := func(path string) secret.Value {
		return secret.New(strings.TrimSpace(string(testutil.ReadFile(t, path))))
	}
	c, err := uploader.New(uploader.Options{
		UploadURL: parts[0], ClientID: parts[2], ClientSecret: read(parts[7]),
		TLS:      uploader.TLSFiles{CertFile: parts[4], KeyFile: parts[5], CAFile: parts[6]},
		FraudURL: parts[1], CustomerID: parts[3], APIKey: read(parts[8]),
		Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCrashChild is the process that dies: it runs the pipeline and exits
// abruptly (no deferred call, no commit) at the first hit of the crash
// point. It does nothing unless started by TestCrashAtEveryPoint.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(envCrashDir)
	if root == "" {
		t.Skip("run by TestCrashAtEveryPoint")
	}
	c := crashLayout{root: root}
	point := os.Getenv(envCrashPoint)
	hook := func(p string) {
		if p == point {
			os.Exit(crashExit)
		}
	}
	st, err := store.Open(c.dir("state.db"), store.Options{Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	client := crashClient(t, os.Getenv(envCrashSim))
	p, err := New(st, client, c.options(hook))
	if err != nil {
		t.Fatal(err)
	}
	p.rename = c.rename(point)
	var batches []watcher.Batch
	for _, folder := range []string{"one", "two"} {
		dir := filepath.Join(c.dir("inbox"), folder)
		b := watcher.Batch{Inbox: c.dir("inbox"), Folder: folder, Dir: dir}
		for _, name := range []string{"a.pdf", "b.png"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			b.Files = append(b.Files, watcher.File{Path: filepath.Join(dir, name), Name: name, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		batches = append(batches, b)
	}
	ch := make(chan watcher.Batch, len(batches))
	for _, b := range batches {
		ch <- b
	}
	close(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx, ch); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("crash point %q never reached", point)
}

// TestCrashAtEveryPoint kills a real process at each named point (inside
// store transactions too), restarts on the same state, and checks SPEC §6:
// every session reported once, no file lost, every completed aggregation
// holding each of its folder's files exactly once, complete never
// succeeding twice.
func TestCrashAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per crash point")
	}
	points := []string{
		"taken", "store-tx:taken", "before-upload", "after-upload", "store-tx:uploading",
		"after-persist-sent", "before-complete", "store-tx:completing", "after-complete",
		"store-tx:polling", "report-temp-written", "after-report", "store-tx:reporting", "store-tx:moving",
		"move-copied", "after-move-file", "store-tx:done", "done",
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			crashAt(t, point)
		})
	}
}

func crashAt(t *testing.T, point string) {
	c := crashLayout{root: t.TempDir()}
	for _, d := range []string{"inbox/one", "inbox/two", "outbox", "archive", "failed", "sim"} {
		if err := os.MkdirAll(c.dir(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, folder := range []string{"one", "two"} {
		testutil.WriteFiles(t, filepath.Join(c.dir("inbox"), folder), map[string][]byte{"a.pdf": pdfData, "b.png": pngData})
	}
	sim, err := flinkssim.Start(flinkssim.Options{Dir: c.dir("sim"), FraudPolls: 1, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	info := simInfo(sim)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+c.root, envCrashPoint+"="+point, envCrashSim+"="+info)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != crashExit {
		t.Fatalf("child did not crash at %s (err %v):\n%s", point, err, out)
	}

	// Restart on the same state and finish.
	st, err := store.Open(c.dir("state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client := crashClient(t, info)
	defer client.Close()
	p, err := New(st, client, c.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	p.rename = c.rename(point)
	// The watcher would find the files not taken again: resend those.
	ch := make(chan watcher.Batch, 2)
	for _, folder := range []string{"one", "two"} {
		dir := filepath.Join(c.dir("inbox"), folder)
		b := watcher.Batch{Inbox: c.dir("inbox"), Folder: folder, Dir: dir}
		for _, name := range []string{"a.pdf", "b.png"} {
			path := filepath.Join(dir, name)
			fi, err := os.Stat(path)
			if err != nil || p.Taken(path) {
				continue
			}
			b.Files = append(b.Files, watcher.File{Path: path, Name: name, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		if len(b.Files) > 0 {
			ch <- b
		}
	}
	close(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx, ch); err != nil {
		t.Fatalf("restart Run: %v", err)
	}

	// Every session reported exactly once, reports valid.
	entries, _ := os.ReadDir(c.dir("outbox"))
	folders := map[string]report.Report{}
	for _, de := range entries {
		data := testutil.ReadFile(t, filepath.Join(c.dir("outbox"), de.Name()))
		if err := report.Validate(data); err != nil {
			t.Errorf("report %s invalid: %v", de.Name(), err)
		}
		var r report.Report
		if err := jsonUnmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if _, dup := folders[r.Folder]; dup {
			t.Errorf("two reports for folder %s", r.Folder)
		}
		folders[r.Folder] = r
	}
	if len(folders) != 2 {
		t.Fatalf("reports for %d folders, want 2 (%v)", len(folders), entries)
	}
	// No file lost: each of the four is in the archive or failed/, once.
	var placed []string
	for _, d := range []string{"archive", "failed"} {
		for _, f := range testutil.ListFiles(t, c.dir(d)) {
			if !strings.HasSuffix(f, ".json") {
				placed = append(placed, filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f))
			}
		}
	}
	if len(placed) != 4 {
		t.Errorf("files placed: %v, want the 4 files once each", placed)
	}
	if left := testutil.ListFiles(t, c.dir("inbox")); len(left) != 0 {
		t.Errorf("inbox still holds %v", left)
	}
	// Completed aggregations: each folder's files exactly once; complete
	// never succeeded twice; a failed session is a complete in doubt.
	reported := map[string]report.Report{}
	for _, r := range folders {
		reported[r.AggregationID] = r
		if r.Outcome == report.OutcomeFailed {
			if r.Error == nil || r.Error.Stage != "complete" || (point != "after-complete" && point != "store-tx:polling") {
				t.Errorf("folder %s failed (%+v) after a crash at %s", r.Folder, r.Error, point)
			}
		} else if r.Outcome != report.OutcomeClean {
			t.Errorf("folder %s outcome %s", r.Folder, r.Outcome)
		}
	}
	for _, a := range sim.Aggregations() {
		if !a.Completed {
			continue
		}
		r, ok := reported[a.ID]
		if !ok {
			t.Errorf("aggregation %s completed but not in any report", a.ID)
			continue
		}
		var names []string
		for _, f := range a.Files {
			names = append(names, f.Name)
		}
		sort.Strings(names)
		if fmt.Sprint(names) != "[a.pdf b.png]" {
			t.Errorf("aggregation %s of %s holds %v, want [a.pdf b.png]", a.ID, r.Folder, names)
		}
	}
}
