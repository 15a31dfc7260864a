package watcher

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// DefaultRescanInterval is the full rescan period of an inbox whose
// RescanInterval is 0.
const DefaultRescanInterval = 60 * time.Second

const (
	// debounce is how long an fsnotify event waits before its folder is
	// scanned, so a burst of writes costs one scan.
	debounce = 100 * time.Millisecond
	// probeRetry is how soon a file that failed the probe is tried again.
	probeRetry = 2 * time.Second
	// errorRetry is how soon a folder that could not be read is tried again
	// while it holds files waiting to be taken.
	errorRetry = 5 * time.Second
	// warnEvery throttles repeated warnings about one path.
	warnEvery = time.Hour
	// reofferSlack is added to twice stable_for to make the least time a
	// handed-over file waits before a rescan may offer it again.
	reofferSlack = 5 * time.Second
)

// Options configures a Watcher. The zero value of every field but Inboxes
// means the default.
type Options struct {
	// Inboxes to watch; at least one, with absolute paths, none inside another.
	Inboxes []Inbox
	// Taken tells which files a session already holds; nil = nothing taken.
	// With Taken set, a handed-over file still in place unchanged that no
	// session holds (its batch was dropped, or its session left it) is
	// offered again by a full rescan once the re-offer grace has passed
	// (see doc.go); with nil, a handed-over file is offered again only after
	// it leaves its folder or changes, or after a restart.
	Taken Taken
	// Clock drives stability, settle and rescans; nil = clock.Real().
	Clock clock.Clock
	// Log receives the watcher's messages (give it a component field); the
	// zero Logger discards them.
	Log zerolog.Logger
	// DisableEvents turns fsnotify off: the rescans alone find everything
	// (tests, and file systems where events do not work). The watcher also
	// falls back to this when fsnotify cannot start.
	DisableEvents bool
	// Probe is asked, once a file is otherwise stable, whether it can be
	// taken; an error means "not yet" and it is tried again later. nil = the
	// default per OS: on Windows an exclusive open that fails on a sharing
	// violation, on Unix nothing.
	Probe func(path string) error
}

// Watcher turns inbox folders into batches. Build it with New; it serves one
// Run or Once at a time.
type Watcher struct {
	inboxes       []*inbox
	taken         Taken
	clk           clock.Clock
	log           zerolog.Logger
	disableEvents bool
	probe         func(path string) error

	rescanCh chan struct{}
	running  atomic.Bool

	// Test seams, read only by the loop: syncCh answers with the number of
	// batches waiting to be sent once everything before it is handled;
	// errCh feeds watcher errors as fsnotify's Errors channel does.
	syncCh chan chan int
	errCh  chan error
}

// inbox is an Inbox with its paths cleaned and its defaults applied.
type inbox struct {
	Inbox
	root     string // cleaned Path
	interval time.Duration
	skip     []string // cleaned Skip
}

func (in *inbox) isMarker(name string) bool {
	return in.ReadyMarker != "" && sameName(name, in.ReadyMarker)
}

// reofferGrace is how long after the pipeline received a file a full rescan
// waits before offering it again when no session holds it: one rescan
// interval, and at least twice stable_for plus reofferSlack, so a batch the
// pipeline is still persisting is never offered twice.
func (in *inbox) reofferGrace() time.Duration {
	return max(in.interval, 2*in.StableFor+reofferSlack)
}

func (in *inbox) skipped(path string) bool {
	for _, s := range in.skip {
		if sameName(s, path) {
			return true
		}
	}
	return false
}

// New checks the options and returns a Watcher; nothing is read from disk
// until Run or Once.
func New(opts Options) (*Watcher, error) {
	if len(opts.Inboxes) == 0 {
		return nil, fmt.Errorf("%w (add at least one entry under inboxes)", ErrNoInboxes)
	}
	w := &Watcher{
		taken:         opts.Taken,
		clk:           opts.Clock,
		log:           opts.Log, // the caller names the component
		disableEvents: opts.DisableEvents,
		probe:         opts.Probe,
		rescanCh:      make(chan struct{}, 1),
		syncCh:        make(chan chan int),
		errCh:         make(chan error),
	}
	if w.clk == nil {
		w.clk = clock.Real()
	}
	if w.probe == nil {
		w.probe = defaultProbe()
	}
	for _, cfg := range opts.Inboxes {
		in, err := newInbox(cfg)
		if err != nil {
			return nil, err
		}
		for _, other := range w.inboxes {
			if within(in.root, other.root) || within(other.root, in.root) {
				return nil, fmt.Errorf("%w: inbox %s overlaps inbox %s (inboxes must not contain each other)",
					ErrBadInbox, cfg.Path, other.Path)
			}
		}
		w.inboxes = append(w.inboxes, in)
	}
	return w, nil
}

func newInbox(cfg Inbox) (*inbox, error) {
	if cfg.Path == "" || !filepath.IsAbs(cfg.Path) {
		return nil, fmt.Errorf("%w: path %q is not absolute (set inboxes[].path to an absolute folder)", ErrBadInbox, cfg.Path)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"stable_for", cfg.StableFor}, {"settle", cfg.Settle}, {"rescan_interval", cfg.RescanInterval}} {
		if d.v < 0 {
			return nil, fmt.Errorf("%w: inbox %s: %s %v is negative (use 0 or more)", ErrBadInbox, cfg.Path, d.key, d.v)
		}
	}
	for _, g := range cfg.Ignore {
		if _, err := filepath.Match(g, ""); err != nil {
			return nil, fmt.Errorf("%w: inbox %s: ignore glob %q: %v (fix the pattern)", ErrBadInbox, cfg.Path, g, err)
		}
	}
	if strings.ContainsAny(cfg.ReadyMarker, `/\`) {
		return nil, fmt.Errorf("%w: inbox %s: ready_marker %q must be a file name, not a path", ErrBadInbox, cfg.Path, cfg.ReadyMarker)
	}
	in := &inbox{Inbox: cfg, root: filepath.Clean(cfg.Path), interval: cfg.RescanInterval}
	if in.interval == 0 {
		in.interval = DefaultRescanInterval
	}
	for _, s := range cfg.Skip {
		if !filepath.IsAbs(s) {
			return nil, fmt.Errorf("%w: inbox %s: skip folder %q is not absolute", ErrBadInbox, cfg.Path, s)
		}
		in.skip = append(in.skip, filepath.Clean(s))
	}
	return in, nil
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}

// Run watches the inboxes and sends each batch on out as it closes, until
// ctx is done; it then returns nil. It never closes out. A full rescan runs
// at start, every rescan interval, after any fsnotify error and on Rescan.
func (w *Watcher) Run(ctx context.Context, out chan<- Batch) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer w.running.Store(false)
	e := newEngine(ctx, w, false)
	defer e.close()
	if !w.disableEvents {
		e.startEvents()
	}
	e.fullRescan()
	return e.loop(out)
}

// Once takes the files present in the inboxes now, each once it is stable
// for stable_for; folders close without waiting for settle (a ready marker
// present is still reported in Batch.Marker). Files and folders that appear
// after the start are left for the next run. It returns nil once every batch
// has been sent on out (the caller then closes out), or ctx.Err() if ctx is
// done first. A file that never stops changing keeps Once waiting.
func (w *Watcher) Once(ctx context.Context, out chan<- Batch) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer w.running.Store(false)
	e := newEngine(ctx, w, true)
	defer e.close()
	e.fullRescan()
	e.initial = false
	return e.loop(out)
}

// Rescan asks for a full rescan of every inbox as soon as possible. It never
// blocks; requests made while one is pending are merged.
func (w *Watcher) Rescan() {
	select {
	case w.rescanCh <- struct{}{}:
	default:
	}
}
