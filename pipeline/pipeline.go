// Package pipeline carries each batch of files through its session: local
// checks, upload to one aggregation, re-check, complete, fraud polling,
// report, and moving the files. Every step is persisted in the store before
// it is taken, so a crash at any moment resumes from the last step on disk.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// Uploader is the part of the Flinks client the pipeline uses.
type Uploader interface {
	Upload(ctx context.Context, r uploader.UploadRequest) (uploader.UploadResult, error)
	Complete(ctx context.Context, aggregationID string) (uploader.CompleteResult, error)
	FraudAnalysis(ctx context.Context, loginID string) (uploader.FraudResult, error)
}

var _ watcher.Taken = (*Pipeline)(nil)

// Values of InboxConfig.AfterSuccess.
const (
	AfterSuccessMove   = "move"
	AfterSuccessDelete = "delete"
)

// InboxConfig is what the pipeline needs to know about one inbox.
type InboxConfig struct {
	// Path is the inbox root, as in watcher.Batch.Inbox.
	Path    string
	Outbox  string
	Archive string
	Failed  string
	// AfterSuccess is "move" (default, to Archive) or "delete".
	AfterSuccess string
	// Tag and ClientName are sent with every upload of the inbox's sessions.
	Tag, ClientName string
}

// Limits are the local checks made before upload. Zero fields mean the
// defaults (SPEC §1): 18 MB per file, 180 MB per session, 24 files, types
// pdf png jpg jpeg tif tiff.
type Limits struct {
	MaxFileBytes    int64
	MaxSessionBytes int64
	MaxFiles        int
	// Types are lower-case extensions without the dot.
	Types []string
}

// Options configure a Pipeline. Zero fields mean the defaults.
type Options struct {
	// Workers is the number of sessions worked on at once (default 4).
	Workers int
	Inboxes []InboxConfig
	Limits  Limits
	// FraudEnabled polls the fraud analysis after complete; without it the
	// outcome is "uploaded".
	FraudEnabled bool
	// PollInterval (default 30s) and FraudTimeout (default 6h, counted from
	// complete) govern fraud polling.
	PollInterval time.Duration
	FraudTimeout time.Duration
	// Clock defaults to clock.Real().
	Clock clock.Clock
	// Log is the logger; the zero value logs nothing.
	Log zerolog.Logger
	// Backoff bounds retries (credentials, transient errors, outbox and
	// folder errors). Zero fields: Base 1s, Max 2m, Jitter 0.5. Its Max
	// does not apply to the credentials probe: see CredentialsMax.
	Backoff uploader.Backoff
	// CredentialsMax caps the credentials probe's backoff (default 5m).
	CredentialsMax time.Duration
	// Once makes Run return when the batches channel is closed and every
	// session is done, and stop at once on a credentials error.
	Once bool
	// Hook, when set, is called at named points for crash tests: "taken",
	// "before-upload", "after-upload", "after-persist-sent",
	// "before-complete", "after-complete", "report-temp-written",
	// "after-report", "move-copied" (a cross-device copy in place, its
	// source not yet deleted), "after-move-file", "done". Pass the same
	// hook in store.Options to reach the points inside transactions.
	Hook func(point string)
}

// Pipeline carries sessions from batch to report. Its methods are safe for
// concurrent use.
type Pipeline struct {
	st      *store.Store
	up      Uploader
	opts    Options
	clk     clock.Clock
	log     zerolog.Logger
	inboxes map[string]InboxConfig
	types   map[string]bool

	gate  *gate
	queue *queue
	sched *scheduler

	// rename replaces os.Rename when files move (nil: os.Rename); tests
	// set it to take the cross-device copy path.
	rename func(oldpath, newpath string) error

	running atomic.Bool
	fatal   chan error
	idle    chan struct{}

	mu        sync.Mutex
	counts    map[store.State]int
	firstSeen map[string]time.Time // unfinished sessions
	retries   map[string]int       // local-error retries per session
	protoSeen map[string]bool      // sessions whose fraud reply was not understood
	// transients counts each session's transient API errors since its last
	// successful call: the upload backoff grows with it, and a success
	// resets it (a restart too, which is fine: it only shortens one wait).
	transients map[string]int
	inflight   int
	retrying   int
	lastErr    LastError
}

// LastError is the most recent error worth showing in status.
type LastError struct {
	Time    time.Time
	Message string
}

// Snapshot is the pipeline at a glance, for the status file.
type Snapshot struct {
	// Counts holds the sessions in each state (done: since the last prune).
	Counts map[store.State]int
	// Unfinished is the number of sessions not done.
	Unfinished int
	// OldestPending is the first_seen of the oldest unfinished session.
	OldestPending time.Time
	// Paused is true while credentials are refused; PausedReason says why.
	Paused       bool
	PausedReason string
	PausedSince  time.Time
	// RetryingTransient is the number of calls waiting to retry after a
	// transient error.
	RetryingTransient int
	LastError         LastError
	// InFlight is the number of sessions a worker is on right now.
	InFlight int
	// Scheduled is the number of sessions waiting for a poll or a retry.
	Scheduled int
}

// New returns a pipeline over the store st and the client up.
func New(st *store.Store, up Uploader, opts Options) (*Pipeline, error) {
	if st == nil || up == nil {
		return nil, errors.New("pipeline: New needs a store and an uploader")
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.FraudTimeout <= 0 {
		opts.FraudTimeout = DefaultFraudTimeout
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Limits.MaxFileBytes <= 0 {
		opts.Limits.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.Limits.MaxSessionBytes <= 0 {
		opts.Limits.MaxSessionBytes = DefaultMaxSessionBytes
	}
	if opts.Limits.MaxFiles <= 0 {
		opts.Limits.MaxFiles = DefaultMaxFiles
	}
	if len(opts.Limits.Types) == 0 {
		opts.Limits.Types = DefaultTypes()
	}
	p := &Pipeline{
		st:         st,
		up:         up,
		opts:       opts,
		clk:        opts.Clock,
		log:        opts.Log.With().Str("component", "pipeline").Logger(),
		inboxes:    map[string]InboxConfig{},
		types:      map[string]bool{},
		gate:       newGate(),
		queue:      newQueue(),
		fatal:      make(chan error, 1),
		idle:       make(chan struct{}, 1),
		counts:     map[store.State]int{},
		firstSeen:  map[string]time.Time{},
		retries:    map[string]int{},
		protoSeen:  map[string]bool{},
		transients: map[string]int{},
	}
	p.sched = newScheduler(p.clk, p.queue)
	for _, t := range opts.Limits.Types {
		p.types[strings.ToLower(strings.TrimPrefix(t, "."))] = true
	}
	for _, ib := range opts.Inboxes {
		switch {
		case ib.Path == "":
			return nil, fmt.Errorf("pipeline: %w: an inbox has no path", ErrNoInbox)
		case ib.Outbox == "":
			return nil, fmt.Errorf("pipeline: inbox %s: %w: no outbox (set inboxes[].outbox)", ib.Path, ErrNoInbox)
		case ib.Failed == "":
			return nil, fmt.Errorf("pipeline: inbox %s: %w: no failed folder (set inboxes[].failed)", ib.Path, ErrNoInbox)
		}
		switch ib.AfterSuccess {
		case "":
			ib.AfterSuccess = AfterSuccessMove
		case AfterSuccessMove, AfterSuccessDelete:
		default:
			return nil, fmt.Errorf("pipeline: inbox %s: after_success %q: want move or delete", ib.Path, ib.AfterSuccess)
		}
		if ib.AfterSuccess == AfterSuccessMove && ib.Archive == "" {
			return nil, fmt.Errorf("pipeline: inbox %s: %w: no archive (set inboxes[].archive, or after_success: delete)", ib.Path, ErrNoInbox)
		}
		p.inboxes[filepath.Clean(ib.Path)] = ib
	}
	return p, nil
}

func (p *Pipeline) hook(point string) {
	if p.opts.Hook != nil {
		p.opts.Hook(point)
	}
}

// Run resumes every unfinished session from the store, then turns batches
// into sessions until ctx is done. In Once mode it returns nil once batches
// is closed and every session is done, and an error wrapping ErrCredentials
// at the first credentials error. Otherwise it returns nil when ctx is done;
// interrupted work resumes from its persisted step at the next Run.
func (p *Pipeline) Run(ctx context.Context, batches <-chan watcher.Batch) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer p.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if err := p.load(); err != nil {
		return err
	}
	p.prune()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.sched.run(ctx) }()
	go func() { defer wg.Done(); p.pruneLoop(ctx) }()
	for range p.opts.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); p.work(ctx) }()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	closed := false
	for {
		if closed && p.opts.Once && p.unfinished() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if p.opts.Once {
				return fmt.Errorf("pipeline: stopped before every session finished: %w", ctx.Err())
			}
			return nil
		case err := <-p.fatal:
			return err
		case <-p.idle:
		case b, ok := <-batches:
			if !ok {
				closed, batches = true, nil
				continue
			}
			p.accept(b)
		}
	}
}

// pruneEvery is how often finished sessions past retention are pruned.
const pruneEvery = time.Hour

func (p *Pipeline) pruneLoop(ctx context.Context) {
	for p.sleep(ctx, pruneEvery) == nil {
		p.prune()
	}
}

// prune deletes finished sessions older than the store's retention.
func (p *Pipeline) prune() {
	n, err := p.st.Prune(p.clk.Now())
	if err != nil {
		p.setLastError(fmt.Errorf("prune finished sessions: %w", err))
		return
	}
	if n > 0 {
		p.mu.Lock()
		p.counts[store.StateDone] -= n
		p.mu.Unlock()
		p.log.Info().Int("sessions", n).Msg("pruned finished sessions past retention")
	}
}

// load reads the counts and queues every unfinished session. It reads the
// store's unfinished index, not the finished sessions kept for retention.
func (p *Pipeline) load() error {
	counts, err := p.st.Counts()
	if err != nil {
		return fmt.Errorf("pipeline: load sessions: %w", err)
	}
	active, err := p.st.Unfinished()
	if err != nil {
		return fmt.Errorf("pipeline: load sessions: %w", err)
	}
	p.mu.Lock()
	p.counts = counts
	p.firstSeen = make(map[string]time.Time, len(active))
	for _, s := range active {
		p.firstSeen[s.ID] = s.Times.FirstSeen
	}
	p.mu.Unlock()
	for _, s := range active {
		if s.State == store.StatePolling {
			p.sched.schedule(s.ID, s.NextPollAt)
			continue
		}
		p.queue.push(s.ID)
	}
	if len(active) > 0 {
		p.log.Info().Int("sessions", len(active)).Msg("resuming unfinished sessions")
	}
	return nil
}

func (p *Pipeline) unfinished() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.firstSeen)
}

// Taken reports whether path (a file or a ready marker) belongs to an
// unfinished session. It implements watcher.Taken.
func (p *Pipeline) Taken(path string) bool {
	ok, err := p.st.IsTaken(path)
	if err != nil {
		p.log.Error().Err(err).Str("path", path).Msg("look up taken path")
		return true // never queue a file twice; the next rescan asks again
	}
	return ok
}

// accept turns a batch into a session: persisted (state taken) before
// anything else happens to it.
func (p *Pipeline) accept(b watcher.Batch) {
	ib, ok := p.inboxes[filepath.Clean(b.Inbox)]
	if !ok {
		p.setLastError(fmt.Errorf("batch from inbox %s, which is not configured: ignored", b.Inbox))
		return
	}
	sess := store.Session{
		Inbox:      b.Inbox,
		Folder:     b.Folder,
		Dir:        b.Dir,
		Tag:        ib.Tag,
		ClientName: ib.ClientName,
		Times:      store.Times{FirstSeen: p.clk.Now()},
	}
	for _, f := range b.Files {
		if p.Taken(f.Path) {
			continue
		}
		sess.Files = append(sess.Files, store.File{Path: f.Path, Name: f.Name, Size: f.Size, ModTime: f.ModTime})
	}
	if len(sess.Files) == 0 {
		return
	}
	if b.Marker != "" && !p.Taken(b.Marker) {
		sess.Marker = b.Marker
	}
	sess, err := p.st.Create(sess)
	if err != nil {
		p.setLastError(fmt.Errorf("record batch %s: %w", b.Dir, err))
		return
	}
	p.mu.Lock()
	p.counts[store.StateTaken]++
	p.firstSeen[sess.ID] = sess.Times.FirstSeen
	p.mu.Unlock()
	p.log.Info().Str("session_id", sess.ID).Str("inbox", sess.Inbox).Str("folder", sess.Folder).
		Int("files", len(sess.Files)).Msg("session taken")
	p.hook("taken")
	p.queue.push(sess.ID)
}

// Snapshot returns the pipeline's state for status.
func (p *Pipeline) Snapshot() Snapshot {
	paused, reason, since := p.gate.state()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Snapshot{
		Counts:            make(map[store.State]int, len(p.counts)),
		Unfinished:        len(p.firstSeen),
		Paused:            paused,
		PausedReason:      reason,
		RetryingTransient: p.retrying,
		LastError:         p.lastErr,
		InFlight:          p.inflight,
		Scheduled:         p.sched.pending(),
	}
	if paused {
		s.PausedSince = since
	}
	for k, v := range p.counts {
		if v != 0 {
			s.Counts[k] = v
		}
	}
	for _, t := range p.firstSeen {
		if s.OldestPending.IsZero() || t.Before(s.OldestPending) {
			s.OldestPending = t
		}
	}
	return s
}

// setLastError records err for the status and logs it; an error identical
// to the last one is logged at debug only, so a long outage does not flood
// the log.
func (p *Pipeline) setLastError(err error) {
	msg := err.Error()
	p.mu.Lock()
	repeat := p.lastErr.Message == msg
	p.lastErr = LastError{Time: p.clk.Now(), Message: msg}
	p.mu.Unlock()
	if repeat {
		p.log.Debug().Err(err).Msg("pipeline error (repeated)")
		return
	}
	p.log.Warn().Err(err).Msg("pipeline error")
}

// work is one worker: it takes sessions from the queue until ctx is done.
func (p *Pipeline) work(ctx context.Context) {
	for {
		id, ok := p.queue.pop(ctx)
		if !ok {
			return
		}
		p.mu.Lock()
		p.inflight++
		p.mu.Unlock()
		p.process(ctx, id)
		p.mu.Lock()
		p.inflight--
		p.mu.Unlock()
		p.queue.done(id)
	}
}

// save persists a change to a session (one transaction) and keeps the
// counts in step.
func (p *Pipeline) save(id string, fn func(*store.Session)) (store.Session, error) {
	var from store.State
	s, err := p.st.Update(id, func(s *store.Session) error {
		from = s.State
		fn(s)
		return nil
	})
	if err != nil {
		return s, err
	}
	if from != s.State {
		p.mu.Lock()
		p.counts[from]--
		p.counts[s.State]++
		if s.State == store.StateDone {
			delete(p.firstSeen, id)
			delete(p.retries, id)
			delete(p.protoSeen, id)
			delete(p.transients, id)
		}
		p.mu.Unlock()
		if s.State == store.StateDone {
			select {
			case p.idle <- struct{}{}:
			default:
			}
		}
	}
	return s, nil
}
