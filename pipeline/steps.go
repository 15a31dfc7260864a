package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/filetype"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
	"github.com/flinkdrop/flinkdrop/uploader"
)

// Stages named in a report's error.
const (
	stageLimits   = "limits"
	stageUpload   = "upload"
	stageComplete = "complete"
	stageAnalysis = "analysis"
)

const reasonDeleted = "deleted before the session completed"

// errWait means the session waits for its scheduled time; not an error.
var errWait = errors.New("session waits")

// process carries one session as far as it can go now: to done, to a wait
// (fraud poll, retry), or to a stop.
func (p *Pipeline) process(ctx context.Context, id string) {
	s, err := p.st.Get(id)
	if err != nil {
		p.retryLater(id, err)
		return
	}
	for ctx.Err() == nil {
		log := sessionLog(p.log, s)
		var next store.Session
		switch s.State {
		case store.StateTaken:
			next, err = p.check(s, log)
		case store.StateUploading:
			next, err = p.upload(ctx, s, log)
		case store.StateCompleting:
			next, err = p.complete(ctx, s, log)
		case store.StatePolling:
			next, err = p.poll(ctx, s, log)
		case store.StateReporting:
			next, err = p.writeReport(s, log)
		case store.StateMoving:
			next, err = p.moveFiles(ctx, s, log)
		case store.StateDone:
			return
		default:
			p.setLastError(fmt.Errorf("session %s has unknown state %q: left alone", id, s.State))
			return
		}
		switch {
		case errors.Is(err, errWait), errors.Is(err, errStop):
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			p.retryLater(id, err)
			return
		}
		p.mu.Lock()
		delete(p.retries, id)
		p.mu.Unlock()
		s = next
		if s.State == store.StateDone {
			log.Info().Str("outcome", s.Outcome).Str("report", s.ReportPath).Msg("session done")
			p.hook("done")
			return
		}
	}
}

// sessionLog carries the fields every line about a session has: folder,
// session_id, aggregation_id and login_id (empty until known).
func sessionLog(log zerolog.Logger, s store.Session) zerolog.Logger {
	return log.With().Str("folder", s.Folder).Str("session_id", s.ID).
		Str("aggregation_id", s.AggregationID).Str("login_id", s.LoginID).Logger()
}

// retryLater schedules a session again after a local error (store, outbox,
// folders), with backoff; the error shows in the status.
func (p *Pipeline) retryLater(id string, err error) {
	p.mu.Lock()
	p.retries[id]++
	n := p.retries[id]
	p.mu.Unlock()
	p.setLastError(fmt.Errorf("session %s: %w (retrying)", id, err))
	p.sched.schedule(id, p.clk.Now().Add(p.delay(n, localRetryMax)))
}

// check makes the local checks: session limits, then each file's type,
// content, size and readability.
func (p *Pipeline) check(s store.Session, log zerolog.Logger) (store.Session, error) {
	lim := p.opts.Limits
	reasons := make([]string, len(s.Files))
	infos := make([]fs.FileInfo, len(s.Files))
	var total int64
	for i, f := range s.Files {
		fi, err := os.Stat(f.Path)
		if err == nil {
			infos[i] = fi
			total += fi.Size()
		} else {
			total += f.Size
		}
		reasons[i] = p.checkFile(f, fi, err)
	}
	var sessionReason string
	switch {
	case len(s.Files) > lim.MaxFiles:
		sessionReason = fmt.Sprintf("%d files, more than the %d allowed in one session (limits.max_files_per_session): split the folder", len(s.Files), lim.MaxFiles)
	case total > lim.MaxSessionBytes:
		got, allowed := overLimit(total, lim.MaxSessionBytes)
		sessionReason = fmt.Sprintf("%s in total, more than the %s allowed in one session (limits.max_session_mb): split the folder", got, allowed)
	}
	return p.save(s.ID, func(x *store.Session) {
		ok := 0
		for i := range x.Files {
			if infos[i] != nil {
				x.Files[i].Size, x.Files[i].ModTime = infos[i].Size(), infos[i].ModTime()
			}
			switch {
			case sessionReason != "":
				x.Files[i].State, x.Files[i].Reason = store.FileRejected, "not uploaded: the session is over its limits"
			case reasons[i] != "":
				x.Files[i].State, x.Files[i].Reason = store.FileRejected, reasons[i]
			default:
				ok++
			}
		}
		switch {
		case sessionReason != "":
			x.State, x.Outcome = store.StateReporting, report.OutcomeRejected
			x.Error = &store.ErrorInfo{Stage: stageLimits, Message: sessionReason}
			log.Warn().Str("reason", sessionReason).Msg("session rejected before upload")
		case ok == 0:
			x.State, x.Outcome = store.StateReporting, report.OutcomeRejected
			x.Error = &store.ErrorInfo{Stage: stageLimits, Message: "every file was rejected by the local checks"}
			log.Warn().Msg("every file rejected before upload")
		default:
			x.State, x.Attempt = store.StateUploading, 1
		}
	})
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// overLimit returns size n and its limit as a message shows them: in MB,
// or in exact bytes when both round to the same MB figure ("18874369
// bytes" and "18874368", never "18.0 MB, more than the 18.0 MB allowed").
func overLimit(n, limit int64) (got, allowed string) {
	got, allowed = mb(n), mb(limit)
	if got == allowed {
		return fmt.Sprintf("%d bytes", n), fmt.Sprintf("%d", limit)
	}
	return got, allowed
}

// checkFile returns why a file cannot be uploaded, "" when it can.
func (p *Pipeline) checkFile(f store.File, fi fs.FileInfo, statErr error) string {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(f.Name), "."))
	switch {
	case !p.types[ext]:
		return fmt.Sprintf("type %q is not accepted (limits.types: %s)", "."+ext, strings.Join(p.opts.Limits.Types, ", "))
	case statErr != nil:
		return fmt.Sprintf("unreadable: %v", statErr)
	case !fi.Mode().IsRegular():
		return "not a regular file"
	case fi.Size() == 0:
		return "empty file"
	case fi.Size() > p.opts.Limits.MaxFileBytes:
		got, allowed := overLimit(fi.Size(), p.opts.Limits.MaxFileBytes)
		return fmt.Sprintf("%s, more than the %s allowed per file (limits.max_file_mb)", got, allowed)
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return fmt.Sprintf("unreadable: %v", err)
	}
	defer fh.Close()
	header := make([]byte, filetype.HeaderLen)
	n, err := io.ReadFull(fh, header)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Sprintf("unreadable: %v", err)
	}
	if !filetype.Matches(ext, header[:n]) {
		got := filetype.Sniff(header[:n])
		if got == "" {
			got = "an unknown type"
		} else {
			got = "a " + strings.ToUpper(got) + " file"
		}
		return fmt.Sprintf("content does not match its .%s extension (it is %s)", ext, got)
	}
	return ""
}

// restart abandons the current aggregation: every file not rejected goes
// back to pending on a fresh one. The abandoned aggregation is never
// completed.
func (p *Pipeline) restart(s store.Session, log zerolog.Logger, why string, change func(*store.Session)) (store.Session, error) {
	old := s.AggregationID
	next, err := p.save(s.ID, func(x *store.Session) {
		if change != nil {
			change(x)
		}
		x.AggregationID = ""
		x.Attempt++
		for i := range x.Files {
			if x.Files[i].State == store.FileSending || x.Files[i].State == store.FileSent {
				x.Files[i].State, x.Files[i].SHA256 = store.FilePending, ""
			}
		}
	})
	if err == nil {
		log.Warn().Str("abandoned_aggregation_id", old).Int("attempt", next.Attempt).Str("reason", why).
			Msg("starting over on a fresh aggregation")
	}
	return next, err
}

// fail ends a session with outcome failed. The report's message is the
// server's message when err is an API error, else err's text.
func (p *Pipeline) fail(s store.Session, log zerolog.Logger, stage string, err error) (store.Session, error) {
	return p.failWith(s, log, stage, uploader.HTTPStatusOf(err), apiMessage(err))
}

func (p *Pipeline) failWith(s store.Session, log zerolog.Logger, stage string, status int, msg string) (store.Session, error) {
	info := &store.ErrorInfo{Stage: stage, HTTPStatus: status, Message: msg}
	log.Error().Str("stage", stage).Int("http_status", status).Str("err", msg).Msg("session failed")
	return p.save(s.ID, func(x *store.Session) {
		x.State, x.Outcome, x.Error = store.StateReporting, report.OutcomeFailed, info
	})
}

// apiMessage is the server's message of an API error, or err's text.
func apiMessage(err error) string {
	var ue *uploader.Error
	if errors.As(err, &ue) && ue.Message != "" {
		return fmt.Sprintf("%s: %s", ue.Op, ue.Message)
	}
	return err.Error()
}

// upload sends every pending file to the session's aggregation, then
// re-checks them all and moves to completing.
func (p *Pipeline) upload(ctx context.Context, s store.Session, log zerolog.Logger) (store.Session, error) {
	for _, f := range s.Files {
		if f.State == store.FileSending {
			return p.restart(s, log, fmt.Sprintf("upload of %s was in doubt (interrupted)", f.Name), nil)
		}
	}
	for i := range s.Files {
		if s.Files[i].State != store.FilePending {
			continue
		}
		var err error
		s, err = p.save(s.ID, func(x *store.Session) { x.Files[i].State = store.FileSending })
		if err != nil {
			return s, err
		}
		f := s.Files[i]
		p.hook("before-upload")
		var res uploader.UploadResult
		for {
			err = p.call(ctx, log, false, func(ctx context.Context) error {
				var err error
				res, err = p.up.Upload(ctx, uploader.UploadRequest{
					AggregationID: s.AggregationID, FileName: f.Name, Path: f.Path,
					Tag: s.Tag, ClientName: s.ClientName,
				})
				return err
			})
			if uploader.KindOf(err) != uploader.Transient || (s.AggregationID != "" && !notSent(err)) {
				break
			}
			// Nothing in doubt: the server never took the file, or no
			// aggregation exists yet (a retry starts a new one). The file
			// stays "sending": a crash now still means a fresh aggregation.
			if p.transientRetry(ctx, log, err, p.transientFailed(s.ID)) != nil {
				return s, errStop
			}
		}
		if errors.Is(err, errStop) {
			return s, errStop
		}
		p.hook("after-upload")
		if err == nil {
			p.callSucceeded(s.ID)
			if s.AggregationID != "" && res.AggregationID != s.AggregationID {
				return p.fail(s, log, stageUpload, fmt.Errorf("upload of %s: reply AggregationId %q differs from %q", f.Name, res.AggregationID, s.AggregationID))
			}
			if res.AggregationID == "" {
				return p.fail(s, log, stageUpload, fmt.Errorf("upload of %s: reply has no AggregationId", f.Name))
			}
			if res.Size != f.Size {
				return p.restart(s, log, fmt.Sprintf("%s changed after it was taken (%d bytes sent, %d taken)", f.Name, res.Size, f.Size), p.restat)
			}
			s, err = p.save(s.ID, func(x *store.Session) {
				x.AggregationID = res.AggregationID
				x.Files[i].State, x.Files[i].Size, x.Files[i].SHA256 = store.FileSent, res.Size, res.SHA256
			})
			if err != nil {
				return s, err
			}
			log = sessionLog(p.log, s)
			log.Debug().Str("file", f.Name).Int64("bytes", res.Size).Msg("file uploaded")
			p.hook("after-persist-sent")
			continue
		}
		switch uploader.KindOf(err) {
		case uploader.Rejected:
			reason := err.Error()
			var ue *uploader.Error
			if errors.As(err, &ue) && ue.Message != "" {
				reason = fmt.Sprintf("refused by the server (HTTP %d): %s", ue.HTTPStatus, ue.Message)
			}
			status := uploader.HTTPStatusOf(err)
			log.Warn().Str("file", f.Name).Str("reason", reason).Msg("file rejected by the server")
			s, err = p.save(s.ID, func(x *store.Session) {
				x.Files[i].State, x.Files[i].Reason, x.Files[i].HTTPStatus = store.FileRejected, reason, status
			})
			if err != nil {
				return s, err
			}
		case uploader.Transient:
			// The upload may have reached the aggregation: start over on a
			// fresh one, after a wait that grows with the session's
			// transient errors since its last successful call (not with
			// s.Attempt, which only grows: a session that had met a few
			// errors over its life would wait minutes after one 503).
			if p.transientRetry(ctx, log, err, p.transientFailed(s.ID)) != nil {
				return s, errStop
			}
			return p.restart(s, log, "upload of "+f.Name+" in doubt after a transient error", nil)
		case uploader.Local:
			return p.localUploadError(s, i, log, err)
		default:
			return p.fail(s, log, stageUpload, err)
		}
	}
	return p.recheck(ctx, s, log)
}

// restat refreshes size and mtime of every file not rejected (after one
// changed), and rejects the ones that are gone.
func (p *Pipeline) restat(x *store.Session) {
	for i := range x.Files {
		if x.Files[i].State == store.FileRejected {
			continue
		}
		fi, err := os.Stat(x.Files[i].Path)
		if err != nil {
			x.Files[i].State, x.Files[i].Reason = store.FileRejected, reasonDeleted
			if !errors.Is(err, fs.ErrNotExist) {
				x.Files[i].Reason = fmt.Sprintf("unreadable: %v", err)
			}
			continue
		}
		x.Files[i].Size, x.Files[i].ModTime = fi.Size(), fi.ModTime()
	}
}

// localUploadError handles a file that could not be read or changed while it
// was sent: the upload is in doubt, so the session starts over without the
// file if it is gone or unreadable, with its new size if it changed.
func (p *Pipeline) localUploadError(s store.Session, i int, log zerolog.Logger, err error) (store.Session, error) {
	f := s.Files[i]
	fi, serr := os.Stat(f.Path)
	change := p.restat
	if serr == nil && fi.Size() == f.Size && fi.ModTime().Equal(f.ModTime) {
		// Unchanged but unreadable: reject the file.
		reason := fmt.Sprintf("unreadable: %v", err)
		change = func(x *store.Session) {
			x.Files[i].State, x.Files[i].Reason = store.FileRejected, reason
		}
	}
	if s.AggregationID == "" {
		return p.save(s.ID, func(x *store.Session) {
			change(x)
			if x.Files[i].State == store.FileSending {
				x.Files[i].State = store.FilePending
			}
		})
	}
	return p.restart(s, log, fmt.Sprintf("%s: %v", f.Name, err), change)
}

// recheck runs when every file is sent or rejected: each sent file must be
// as it was sent (size, mtime, SHA-256) before complete makes it final.
func (p *Pipeline) recheck(ctx context.Context, s store.Session, log zerolog.Logger) (store.Session, error) {
	sent := 0
	for _, f := range s.Files {
		if f.State == store.FileSent {
			sent++
		}
	}
	if sent == 0 {
		log.Warn().Msg("every file was refused: session rejected")
		return p.save(s.ID, func(x *store.Session) {
			x.State, x.Outcome = store.StateReporting, report.OutcomeRejected
			x.AggregationID = ""
			x.Error = &store.ErrorInfo{Stage: stageUpload, Message: "every file was refused"}
			for _, f := range x.Files {
				if f.HTTPStatus != 0 {
					x.Error.HTTPStatus = f.HTTPStatus
				}
			}
		})
	}
	for _, f := range s.Files {
		if f.State != store.FileSent {
			continue
		}
		why, err := changed(ctx, f)
		if err != nil {
			return s, err
		}
		if why != "" {
			return p.restart(s, log, why, p.restat)
		}
	}
	return p.save(s.ID, func(x *store.Session) {
		x.State = store.StateCompleting
		x.Times.Uploaded = p.clk.Now()
	})
}

// changed says how a sent file differs from what was sent ("" if it does
// not). An error means the file could not be checked now (retry later), or
// ctx is done.
func changed(ctx context.Context, f store.File) (string, error) {
	fi, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return f.Name + " was " + reasonDeleted, nil
	}
	if err != nil {
		return "", fmt.Errorf("re-check %s: %w", f.Path, err)
	}
	if fi.Size() != f.Size || !fi.ModTime().Equal(f.ModTime) {
		return fmt.Sprintf("%s changed after it was sent (size or modification time)", f.Name), nil
	}
	sum, err := report.HashFile(ctx, f.Path)
	if err != nil {
		return "", fmt.Errorf("re-check %s: %w", f.Path, err)
	}
	if sum != f.SHA256 {
		return fmt.Sprintf("%s changed after it was sent (SHA-256)", f.Name), nil
	}
	return "", nil
}

// complete calls complete for the session's aggregation. It runs right
// after the state completing is persisted, and again at resume when a crash
// left the session there; a refusal then means the first call went through
// unheard, and the session fails at stage complete, never completed twice.
func (p *Pipeline) complete(ctx context.Context, s store.Session, log zerolog.Logger) (store.Session, error) {
	p.hook("before-complete")
	var res uploader.CompleteResult
	err := p.call(ctx, log, true, func(ctx context.Context) error {
		var err error
		res, err = p.up.Complete(ctx, s.AggregationID)
		return err
	})
	if errors.Is(err, errStop) {
		return s, errStop
	}
	p.hook("after-complete")
	if err == nil {
		p.callSucceeded(s.ID)
	}
	if err == nil && res.LoginID == "" {
		err = fmt.Errorf("complete of aggregation %s: reply has no Login.Id", s.AggregationID)
	}
	if err != nil {
		return p.failWith(s, log, stageComplete, uploader.HTTPStatusOf(err),
			fmt.Sprintf("complete of aggregation %s refused: %s (an earlier, unanswered call may have completed it: look the aggregation up with Flinks)", s.AggregationID, apiMessage(err)))
	}
	now := p.clk.Now()
	done := s
	done.LoginID = res.LoginID
	doneLog := sessionLog(p.log, done)
	doneLog.Info().Msg("session completed")
	return p.save(s.ID, func(x *store.Session) {
		x.LoginID = res.LoginID
		x.Times.Completed = now
		if p.opts.FraudEnabled {
			x.State, x.NextPollAt = store.StatePolling, now.Add(p.opts.PollInterval)
			return
		}
		x.State, x.Outcome = store.StateReporting, report.OutcomeUploaded
	})
}

// poll asks for the fraud analysis once, when its time has come, and
// schedules the next poll; no worker waits in between.
func (p *Pipeline) poll(ctx context.Context, s store.Session, log zerolog.Logger) (store.Session, error) {
	now := p.clk.Now()
	if now.Before(s.NextPollAt) {
		p.sched.schedule(s.ID, s.NextPollAt)
		return s, errWait
	}
	deadline := s.Times.Completed.Add(p.opts.FraudTimeout)
	var res uploader.FraudResult
	err := p.call(ctx, log, false, func(ctx context.Context) error {
		var err error
		res, err = p.up.FraudAnalysis(ctx, s.LoginID)
		return err
	})
	if errors.Is(err, errStop) {
		return s, errStop
	}
	if err == nil {
		p.callSucceeded(s.ID)
	}
	now = p.clk.Now()
	switch {
	case err == nil && res.Done:
		outcome := report.OutcomeClean
		if res.SignalCount > 0 {
			outcome = report.OutcomeFraudSignals
		}
		var info *store.ErrorInfo
		if res.Failed {
			outcome = report.OutcomeFailed
			info = &store.ErrorInfo{Stage: stageAnalysis, Message: "the analysis of at least one document ended in an error status: see fraud.documents"}
		}
		log.Info().Str("outcome", outcome).Int("signals", res.SignalCount).Msg("fraud analysis finished")
		return p.save(s.ID, func(x *store.Session) {
			x.State, x.Outcome, x.Error = store.StateReporting, outcome, info
			if res.RequestID != "" {
				x.RequestID = res.RequestID
			}
			x.Fraud = &store.Fraud{SignalCount: res.SignalCount, Documents: res.Documents}
			x.Times.Analysed = now
		})
	case err == nil || uploader.KindOf(err) == uploader.Transient || uploader.KindOf(err) == uploader.Protocol:
		switch {
		case uploader.KindOf(err) == uploader.Protocol:
			// A reply we cannot read (no Status, a proxy's HTML page) is no
			// verdict: poll again until fraud.timeout.
			p.setLastErrorQuiet(err)
			if p.firstProtocolError(s.ID) {
				log.Warn().Err(err).Msg("fraud analysis reply not understood: polling again until fraud.timeout (further such replies for this session logged at debug)")
			} else {
				log.Debug().Err(err).Msg("fraud analysis reply not understood: polling again later")
			}
		case err != nil:
			p.setLastErrorQuiet(err)
			log.Debug().Err(err).Msg("transient fraud analysis error: polling again later")
		}
		if !now.Before(deadline) {
			log.Warn().Dur("timeout", p.opts.FraudTimeout).Msg("fraud analysis not finished in time")
			return p.save(s.ID, func(x *store.Session) {
				x.State, x.Outcome = store.StateReporting, report.OutcomeTimedOut
			})
		}
		next := now.Add(p.opts.PollInterval)
		if next.After(deadline) {
			next = deadline
		}
		if _, err := p.save(s.ID, func(x *store.Session) { x.NextPollAt = next }); err != nil {
			return s, err
		}
		p.sched.schedule(s.ID, next)
		return s, errWait
	default:
		return p.fail(s, log, stageAnalysis, err)
	}
}
