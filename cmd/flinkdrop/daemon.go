package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/pipeline"
	"github.com/flinkdrop/flinkdrop/status"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// daemon is everything one run of the daemon needs.
type daemon struct {
	cfg   *config.Config
	log   zerolog.Logger
	clock clock.Clock
	once  bool
	// hook, when set, is called at the pipeline's named points.
	hook func(point string)
	// startedAt and version go into the status file.
	startedAt time.Time
	// stopWait bounds the wait for the watcher, pipeline and status writer
	// once the run is cancelled; zero means defaultStopWait.
	stopWait time.Duration
}

// defaultStopWait is how long a stopping daemon waits for its parts: under
// the 10 s the service managers allow, so the process ends by itself.
const defaultStopWait = 9 * time.Second

// task is one goroutine of the run, by name, closed done when it returns.
type task struct {
	name string
	done chan struct{}
}

// startTask runs fn in a goroutine.
func startTask(name string, fn func()) *task {
	t := &task{name: name, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		fn()
	}()
	return t
}

// awaitTasks waits for every task, at most limit on clk, and returns the
// names of those still running then (nil when all returned).
func awaitTasks(clk clock.Clock, limit time.Duration, tasks ...*task) []string {
	timeout := clk.After(limit)
	for _, t := range tasks {
		select {
		case <-t.done:
			continue
		case <-timeout:
		}
		var stuck []string
		for _, t := range tasks {
			select {
			case <-t.done:
			default:
				stuck = append(stuck, t.name)
			}
		}
		return stuck
	}
	return nil
}

var (
	// errCredentialsOnce ends `run --once` on a credential or certificate error.
	errCredentialsOnce = errors.New("credentials or certificate refused")
	// errInterrupted is returned by `run --once` when it is stopped before
	// every session has its report.
	errInterrupted = errors.New("interrupted before every session had its report (the rest resume at the next run)")
)

// run carries the daemon until ctx is done (or, with once, until every
// session taken at start has its report).
func (d *daemon) run(ctx context.Context) error {
	cfg := d.cfg
	if err := prepareFolders(cfg, d.once, d.log); err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(cfg.StateDir, stateDBName), store.Options{Hook: d.hook, Retention: cfg.Retention})
	if err != nil {
		return err
	}
	// A part that did not stop may hold a transaction, and closing would
	// wait for it: then the database is left to the process's exit.
	var stuck []string
	defer func() {
		if len(stuck) == 0 {
			st.Close()
		}
	}()

	client, err := newClient(cfg, d.log, d.clock)
	if err != nil {
		return err
	}
	defer client.Close()

	p, err := pipeline.New(st, client, pipelineOptions(cfg, d))
	if err != nil {
		return err
	}
	w, err := watcher.New(watcher.Options{
		Inboxes: watcherInboxes(cfg),
		Taken:   p,
		Clock:   d.clock,
		Log:     d.log.With().Str("component", "watcher").Logger(),
	})
	if err != nil {
		return err
	}
	oc := &outcomeCounter{st: st, clock: d.clock, every: outcomesEvery, log: d.log}
	sw := &status.Writer{
		Path:    filepath.Join(cfg.StateDir, status.FileName),
		Clock:   d.clock,
		Log:     d.log,
		Collect: func() status.Status { return d.collectStatus(p, client, st, oc) },
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan watcher.Batch)
	errc := make(chan error, 3)
	watcherTask := startTask("watcher", func() {
		if d.once {
			err := w.Once(ctx, batches)
			close(batches)
			if err != nil {
				errc <- fmt.Errorf("watcher: %w", err)
			}
			return
		}
		if err := w.Run(ctx, batches); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("watcher: %w", err)
			return
		}
		errc <- nil
	})
	pipelineTask := startTask("pipeline", func() {
		err := p.Run(ctx, batches)
		if errors.Is(err, pipeline.ErrCredentials) {
			err = fmt.Errorf("%w: %v", errCredentialsOnce, err)
		}
		errc <- err
	})
	statusTask := startTask("status writer", func() { _ = sw.Run(ctx) })

	d.log.Info().Str("version", version).Int("inboxes", len(cfg.Inboxes)).Int("workers", cfg.Workers).
		Bool("once", d.once).Msg("flinkdrop started")
	// The first of watcher and pipeline to return ends the run, and so does
	// a stop from outside even while both are blocked (a hung share): the
	// wait for them is bounded below either way. The status writer stops
	// with them.
	stopped := false
	select {
	case err = <-errc:
	case <-parent.Done():
		stopped = true
	}
	cancel()
	wait := d.stopWait
	if wait <= 0 {
		wait = defaultStopWait
	}
	stuck = awaitTasks(d.clock, wait, watcherTask, pipelineTask, statusTask)
	if len(stuck) > 0 {
		d.log.Error().Strs("not_stopped", stuck).Dur("waited", wait).
			Msg("stopping without waiting longer for: " + strings.Join(stuck, ", ") + " (interrupted work resumes at the next start)")
	}
	if stopped {
		// Take what the parts that did stop reported; the first error wins.
		err = context.Canceled
	drain:
		for {
			select {
			case e := <-errc:
				if e != nil && !errors.Is(e, context.Canceled) {
					err = e
					break drain
				}
			default:
				break drain
			}
		}
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped from outside (the run's own cancel comes only after the
		// first error). A daemon stopping is a success; --once stopping
		// before every session has its report is not.
		err = nil
		if d.once {
			err = errInterrupted
		}
	}
	d.log.Info().Msg("flinkdrop stopped")
	return err
}

func newClient(cfg *config.Config, log zerolog.Logger, clk clock.Clock) (*uploader.Client, error) {
	f := cfg.Flinks
	return uploader.New(uploader.Options{
		UploadURL:    f.UploadURL,
		ClientID:     f.ClientID,
		ClientSecret: f.ClientSecret,
		Scope:        f.Scope,
		TLS: uploader.TLSFiles{
			CertFile:    f.TLS.CertFile,
			KeyFile:     f.TLS.KeyFile,
			PFXFile:     f.TLS.PFXFile,
			PFXPassword: f.TLS.PFXPassword,
			CAFile:      f.TLS.CAFile,
		},
		FraudURL:   f.Fraud.URL,
		CustomerID: f.Fraud.CustomerID,
		APIKey:     f.Fraud.APIKey,
		UserAgent:  "flinkdrop/" + version,
		Clock:      clk,
		Log:        log, // the uploader adds its component field
	})
}

func pipelineOptions(cfg *config.Config, d *daemon) pipeline.Options {
	var inboxes []pipeline.InboxConfig
	for _, in := range cfg.Inboxes {
		inboxes = append(inboxes, pipeline.InboxConfig{
			Path: in.Path, Outbox: in.Outbox, Archive: in.Archive, Failed: in.Failed,
			AfterSuccess: in.AfterSuccess, Tag: in.Tag, ClientName: in.ClientName,
		})
	}
	types := make([]string, len(cfg.Limits.Types))
	for i, t := range cfg.Limits.Types {
		types[i] = strings.ToLower(strings.TrimPrefix(t, "."))
	}
	return pipeline.Options{
		Workers: cfg.Workers,
		Inboxes: inboxes,
		Limits: pipeline.Limits{
			MaxFileBytes:    cfg.Limits.MaxFileBytes(),
			MaxSessionBytes: cfg.Limits.MaxSessionBytes(),
			MaxFiles:        cfg.Limits.MaxFilesPerSession,
			Types:           types,
		},
		FraudEnabled:   cfg.Flinks.Fraud.URL != "",
		PollInterval:   cfg.Flinks.Fraud.PollInterval,
		FraudTimeout:   cfg.Flinks.Fraud.Timeout,
		Clock:          d.clock,
		Log:            d.log, // the pipeline adds its component field
		Backoff:        uploader.Backoff{Base: cfg.Retry.Base, Max: cfg.Retry.Max},
		CredentialsMax: cfg.Retry.CredentialsMax,
		Once:           d.once,
		Hook:           d.hook,
	}
}

func watcherInboxes(cfg *config.Config) []watcher.Inbox {
	var out []watcher.Inbox
	for _, in := range cfg.Inboxes {
		out = append(out, watcher.Inbox{
			Path: in.Path, Ignore: in.Ignore, StableFor: in.StableFor, Settle: in.Settle,
			ReadyMarker: in.ReadyMarker, RescanInterval: in.RescanInterval,
		})
	}
	return out
}
