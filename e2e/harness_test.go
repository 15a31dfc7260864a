package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/samples"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// binPath is the flinkdrop binary TestMain builds once for every test; it is
// set before any test runs and never changed after.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	if runtime.GOOS == "windows" {
		// The tests lean on POSIX signals (SIGTERM, SIGKILL exit status)
		// and file semantics; the service package covers the Windows stop.
		fmt.Println("e2e: skipped on Windows")
		return 0
	}
	if bin := os.Getenv("FLINKDROP_E2E_BIN"); bin != "" {
		// A binary built elsewhere (a release build, or one made while
		// the working tree does not build).
		binPath = bin
		return m.Run()
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go env GOMOD:", err)
		return 1
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	tmp, err := os.MkdirTemp("", "flinkdrop-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "flinkdrop")
	if filepath.Separator == '\\' {
		binPath += ".exe"
	}
	build := exec.Command("go", "build", "-tags", "flinkdrop_crashtest", "-o", binPath, "./cmd/flinkdrop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/flinkdrop: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// simOptions are the simulator settings a test needs; zero means default.
type simOptions struct {
	// FraudPolls: 0 means flinkssim.FraudImmediate (the fastest reports).
	FraudPolls int
	Faults     flinkssim.Faults
}

// cfgOptions shape the config file; zero means the test default.
type cfgOptions struct {
	Workers      int
	StableFor    string // default 0s
	Settle       string // default 0s
	Fraud        bool   // poll the fraud analysis (poll_interval 1s)
	SecretFile   string // client_secret_file; default the simulator's
	APIKeyFile   string // fraud api_key_file; default the simulator's
	MaxFileMB    int
	MaxSessionMB int
	AfterSuccess string
	LogLevel     string // default info
	FraudTimeout string // default 5m
	ReadyMarker  string
	RetryMax     string // retry.max; default the daemon's (2m)
}

// env is one test's world: a simulator and the folders of one inbox.
type env struct {
	t        *testing.T
	sim      *flinkssim.Sim
	root     string
	inbox    string
	outbox   string
	archive  string
	failed   string
	state    string
	staging  string
	cfgPath  string
	inputs   []input
	inputsMu sync.Mutex
	// keep names top-level inbox entries the daemon must leave alone
	// (hidden folders): inboxEntries does not list them.
	keep map[string]bool
	// deleteMode: after_success is delete, so uploaded files end nowhere.
	deleteMode bool
}

// input is one file a test dropped into the inbox.
type input struct {
	folder string // path under the inbox with / separators; "" for the root
	name   string
	sha256 string
	size   int64
}

func newEnv(t *testing.T, so simOptions, co cfgOptions) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{
		t:       t,
		root:    root,
		inbox:   filepath.Join(root, "inbox"),
		outbox:  filepath.Join(root, "outbox"),
		archive: filepath.Join(root, "archive"),
		failed:  filepath.Join(root, "failed"),
		state:   filepath.Join(root, "state"),
		staging: filepath.Join(root, "staging"),
		cfgPath: filepath.Join(root, "config.yaml"),
	}
	for _, d := range []string{e.inbox, e.outbox, e.archive, e.failed, e.staging} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	polls := so.FraudPolls
	if polls == 0 {
		polls = flinkssim.FraudImmediate
	}
	sim, err := flinkssim.Start(flinkssim.Options{
		Dir:        filepath.Join(root, "sim"),
		FraudPolls: polls,
		Faults:     so.Faults,
	})
	if err != nil {
		t.Fatalf("flinkssim.Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	e.sim = sim
	e.writeConfig(co)
	return e
}

func q(s string) string { return strconv.Quote(filepath.ToSlash(s)) }

// writeConfig (re)writes the config file.
func (e *env) writeConfig(co cfgOptions) {
	e.t.Helper()
	certs := e.sim.Certs()
	clientID, _, _, customerID := e.sim.Credentials()
	secretFile, apiKeyFile := e.sim.CredentialFiles()
	if co.SecretFile != "" {
		secretFile = co.SecretFile
	}
	if co.APIKeyFile != "" {
		apiKeyFile = co.APIKeyFile
	}
	if co.Workers == 0 {
		co.Workers = 4
	}
	if co.StableFor == "" {
		co.StableFor = "0s"
	}
	if co.Settle == "" {
		co.Settle = "0s"
	}
	if co.AfterSuccess == "" {
		co.AfterSuccess = "move"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flinks:\n  upload_url: %s\n  client_id: %s\n  client_secret_file: %s\n", q(e.sim.UploadURL()), q(clientID), q(secretFile))
	fmt.Fprintf(&b, "  tls:\n    cert_file: %s\n    key_file: %s\n    ca_file: %s\n", q(certs.ClientCertFile), q(certs.ClientKeyFile), q(certs.CAFile))
	if co.Fraud {
		if co.FraudTimeout == "" {
			co.FraudTimeout = "5m"
		}
		fmt.Fprintf(&b, "  fraud:\n    url: %s\n    customer_id: %s\n    api_key_file: %s\n    poll_interval: 1s\n    timeout: %s\n",
			q(e.sim.FraudURL()), q(customerID), q(apiKeyFile), co.FraudTimeout)
	}
	if co.MaxFileMB != 0 || co.MaxSessionMB != 0 {
		b.WriteString("limits:\n")
		if co.MaxFileMB != 0 {
			fmt.Fprintf(&b, "  max_file_mb: %d\n", co.MaxFileMB)
		}
		if co.MaxSessionMB != 0 {
			fmt.Fprintf(&b, "  max_session_mb: %d\n", co.MaxSessionMB)
		}
	}
	fmt.Fprintf(&b, "state_dir: %s\nworkers: %d\n", q(e.state), co.Workers)
	if co.RetryMax != "" {
		fmt.Fprintf(&b, "retry:\n  base: 100ms\n  max: %s\n", co.RetryMax)
	}
	fmt.Fprintf(&b, "inboxes:\n  - path: %s\n    outbox: %s\n    archive: %s\n    failed: %s\n    after_success: %s\n",
		q(e.inbox), q(e.outbox), q(e.archive), q(e.failed), co.AfterSuccess)
	fmt.Fprintf(&b, "    stable_for: %s\n    settle: %s\n    rescan_interval: 1s\n", co.StableFor, co.Settle)
	if co.ReadyMarker != "" {
		fmt.Fprintf(&b, "    ready_marker: %s\n", q(co.ReadyMarker))
	}
	e.deleteMode = co.AfterSuccess == "delete"
	if co.LogLevel == "" {
		co.LogLevel = "info"
	}
	fmt.Fprintf(&b, "log:\n  level: %s\n  console: json\n", co.LogLevel)
	testutil.WriteFile(e.t, e.cfgPath, []byte(b.String()))
}

// ---- processes ----

// proc is one flinkdrop process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer // the process's two output streams
	done chan struct{}
	// state is set once done is closed.
	state *os.ProcessState
}

// start runs flinkdrop with args and the config, plus extra environment.
func (e *env) start(extraEnv []string, args ...string) *proc {
	e.t.Helper()
	return e.startCmd(extraEnv, nil, args...)
}

// startCmd is start with a chance to adjust the command before it runs.
func (e *env) startCmd(extraEnv []string, adjust func(*exec.Cmd), args ...string) *proc {
	e.t.Helper()
	args = append(args, "--config", e.cfgPath)
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	if adjust != nil {
		adjust(cmd)
	}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start flinkdrop %v: %v", args, err)
	}
	p := &proc{t: e.t, name: strings.Join(args[:len(args)-2], " "), cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		e.checkNoSecrets("the output of flinkdrop "+p.name, out.String())
		if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
			// Keep every process's output for a closer look.
			name := strings.NewReplacer("/", "_", "#", "_").Replace(e.t.Name()) + "-" + strconv.Itoa(cmd.Process.Pid) + ".log"
			_ = os.WriteFile(filepath.Join(dir, name), []byte(out.String()), 0o644)
		}
		if e.t.Failed() {
			e.t.Logf("output of flinkdrop %s (%s):\n%s", p.name, strings.Join(extraEnv, " "), tail(out.String(), 6000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end and returns its exit code (-1
// when a signal ended it).
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.state.ExitCode()
	case <-time.After(d):
		p.t.Fatalf("flinkdrop %s still running after %s", p.name, d)
		return 0
	}
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	p.t.Helper()
	_ = p.cmd.Process.Kill()
	p.wait(30 * time.Second)
}

// stop asks the daemon to stop (SIGTERM) and wants exit code 0.
func (p *proc) stop() {
	p.t.Helper()
	// A SIGTERM before the signal handler is installed would kill the
	// process outright: wait until it says it started.
	waitFor(p.t, p, 30*time.Second, "flinkdrop started", func() bool {
		return strings.Contains(p.out.String(), `"flinkdrop started"`)
	})
	if err := terminate(p.cmd.Process); err != nil {
		p.t.Fatalf("signal flinkdrop %s: %v", p.name, err)
	}
	if code := p.wait(20 * time.Second); code != 0 {
		p.t.Fatalf("flinkdrop %s exited %d after SIGTERM, want 0", p.name, code)
	}
}

// runOnce runs `flinkdrop run --once` to its end and wants exit code 0.
func (e *env) runOnce(timeout time.Duration) {
	e.t.Helper()
	p := e.start(nil, "run", "--once")
	if code := p.wait(timeout); code != 0 {
		e.t.Fatalf("flinkdrop run --once exited %d, want 0", code)
	}
}

// runCmd runs a short flinkdrop command and returns its exit code and output.
func (e *env) runCmd(timeout time.Duration, args ...string) (int, string, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append(args, "--config", e.cfgPath)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("flinkdrop %v did not finish within %s", args, timeout)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("flinkdrop %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// waitFor polls cond until it holds; it fails the test after timeout, or as
// soon as p (when not nil) exits.
func waitFor(t *testing.T, p *proc, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if p != nil && p.exited() {
			if cond() {
				return
			}
			t.Fatalf("waiting for %s: flinkdrop %s exited (code %d)", what, p.name, p.state.ExitCode())
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// ---- inputs ----

// addFolder makes folder (under the inbox, / separated) with files of the
// given contents: written in a staging folder first and renamed in, so the
// daemon never sees a half-made folder even with stable_for 0 and settle 0.
func (e *env) addFolder(folder string, files map[string][]byte) {
	e.t.Helper()
	e.addFolderFunc(folder, func(dir string) { testutil.WriteFiles(e.t, dir, files) })
}

// addFolderFunc makes folder with whatever fill writes into dir, records
// every file in it as an input and renames it into the inbox. An empty
// folder name puts the files in the inbox root, one rename each.
func (e *env) addFolderFunc(folder string, fill func(dir string)) {
	e.t.Helper()
	stage, err := os.MkdirTemp(e.staging, "f")
	if err != nil {
		e.t.Fatal(err)
	}
	fill(stage)
	entries, err := os.ReadDir(stage)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ent := range entries {
		if ent.Type().IsRegular() {
			sum, size := hashFile(e.t, filepath.Join(stage, ent.Name()))
			e.recordHash(folder, ent.Name(), sum, size)
		}
	}
	if folder == "" {
		for _, ent := range entries {
			if err := os.Rename(filepath.Join(stage, ent.Name()), filepath.Join(e.inbox, ent.Name())); err != nil {
				e.t.Fatal(err)
			}
		}
		return
	}
	dst := filepath.Join(e.inbox, filepath.FromSlash(folder))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(stage, dst); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) recordHash(folder, name, sum string, size int64) {
	e.inputsMu.Lock()
	defer e.inputsMu.Unlock()
	e.inputs = append(e.inputs, input{folder: folder, name: name, sha256: sum, size: size})
}

// forget drops an input the test removed itself.
func (e *env) forget(folder, name string) {
	e.inputsMu.Lock()
	defer e.inputsMu.Unlock()
	for i, in := range e.inputs {
		if in.folder == folder && in.name == name {
			e.inputs = append(e.inputs[:i], e.inputs[i+1:]...)
			return
		}
	}
}

// pdfs returns n small PDFs with unique contents, named 01.pdf, 02.pdf…
func pdfs(tag string, n int) map[string][]byte {
	files := make(map[string][]byte, n)
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("%02d.pdf", i)] = samples.PDF(fmt.Sprintf("%s file %d", tag, i))
	}
	return files
}

// addFolders makes n folders f01… of perFolder PDFs each.
func (e *env) addFolders(n, perFolder int) []string {
	e.t.Helper()
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("f%02d", i)
		e.addFolder(name, pdfs(e.t.Name()+"/"+name, perFolder))
		names = append(names, name)
	}
	return names
}

func hashFile(t *testing.T, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// ---- observations ----

// reportCount is the number of finished reports in the outbox.
func (e *env) reportCount() int {
	entries, err := os.ReadDir(e.outbox)
	if err != nil {
		return 0
	}
	n := 0
	for _, ent := range entries {
		if strings.HasSuffix(ent.Name(), ".json") && !strings.HasPrefix(ent.Name(), ".") {
			n++
		}
	}
	return n
}

// inboxFiles lists every entry left under the inbox (paths relative to it).
func (e *env) inboxEntries() []string {
	var out []string
	_ = filepath.WalkDir(e.inbox, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == e.inbox {
			return nil
		}
		rel, _ := filepath.Rel(e.inbox, path)
		rel = filepath.ToSlash(rel)
		if e.keep[strings.SplitN(rel, "/", 2)[0]] {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	return out
}

// inboxEmpty reports whether nothing is left under the inbox.
func (e *env) inboxEmpty() bool { return len(e.inboxEntries()) == 0 }

// finished reports whether n reports are written and the inbox is empty.
func (e *env) finished(n int) func() bool {
	return func() bool { return e.reportCount() >= n && e.inboxEmpty() }
}

// statusReport is the part of `flinkdrop status --json` the tests read.
type statusReport struct {
	Running bool   `json:"running"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason"`
	Status  struct {
		Counts       map[string]int `json:"counts"`
		Paused       bool           `json:"paused"`
		PausedReason string         `json:"paused_reason"`
		LastError    *struct {
			Message string `json:"message"`
		} `json:"last_error"`
		Sessions []struct {
			Folder string `json:"folder"`
			State  string `json:"state"`
			Detail string `json:"detail"`
		} `json:"sessions"`
	} `json:"status"`
}

// status runs `flinkdrop status --json` and returns its exit code and report.
func (e *env) status() (int, statusReport, string) {
	e.t.Helper()
	code, stdout, stderr := e.runCmd(30*time.Second, "status", "--json")
	e.checkNoSecrets("flinkdrop status --json", stdout+stderr)
	var rep statusReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		e.t.Fatalf("flinkdrop status --json (exit %d) printed no JSON: %v\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
	}
	return code, rep, stdout
}

// checkAllDone wants the stopped daemon's database to hold no unfinished
// session: `flinkdrop status` exits 3 and counts only done sessions.
func (e *env) checkAllDone() {
	e.t.Helper()
	code, rep, out := e.status()
	if code != 3 || rep.Running {
		e.t.Errorf("flinkdrop status after the daemon stopped: exit %d, running %v, want 3 and false", code, rep.Running)
	}
	for state, n := range rep.Status.Counts {
		if state != "done" && n != 0 {
			e.t.Errorf("flinkdrop status: %d sessions %s after every report, want none unfinished\n%s", n, state, out)
		}
	}
}

// statusFile is the part of state_dir/status.json the waits read.
type statusFile struct {
	PID       int            `json:"pid"`
	UpdatedAt time.Time      `json:"updated_at"`
	Counts    map[string]int `json:"counts"`
	Paused    bool           `json:"paused"`
	LastError *struct {
		Message string `json:"message"`
	} `json:"last_error"`
	Sessions []struct {
		Folder string `json:"folder"`
		State  string `json:"state"`
	} `json:"sessions"`
}

func (e *env) readStatusFile() (statusFile, bool) {
	var s statusFile
	data, err := os.ReadFile(filepath.Join(e.state, "status.json"))
	if err != nil || json.Unmarshal(data, &s) != nil {
		return s, false
	}
	return s, true
}

// waitSettled waits until the daemon p wrote n reports, emptied the inbox
// and, in a status file written after that, counts no unfinished session.
func (e *env) waitSettled(p *proc, n int, timeout time.Duration) {
	e.t.Helper()
	waitFor(e.t, p, timeout, fmt.Sprintf("%d reports and an empty inbox", n), e.finished(n))
	since := time.Now()
	waitFor(e.t, p, 30*time.Second, "a status file with no unfinished session", func() bool {
		s, ok := e.readStatusFile()
		if !ok || s.PID != p.cmd.Process.Pid || s.UpdatedAt.Before(since) {
			return false
		}
		for state, c := range s.Counts {
			if state != "done" && c != 0 {
				return false
			}
		}
		return true
	})
}

// bigPDF returns size bytes that start as a PDF, unique to tag.
func bigPDF(tag string, size int) []byte {
	b := make([]byte, size)
	n := copy(b, "%PDF-1.4\n%"+tag+"\n")
	for i := n; i < size; i++ {
		b[i] = byte('a' + i%23)
	}
	return b
}

func faultsLatency(d time.Duration) flinkssim.Faults { return flinkssim.Faults{Latency: d} }

// checkNoSecrets fails the test if text holds the client secret or the API
// key (SPEC §6: never in logs, reports, status or error messages).
func (e *env) checkNoSecrets(what, text string) {
	e.t.Helper()
	_, secret, apiKey, _ := e.sim.Credentials()
	for name, v := range map[string]string{"client secret": secret, "API key": apiKey} {
		if v != "" && strings.Contains(text, v) {
			e.t.Errorf("%s shows the %s", what, name)
		}
	}
}
