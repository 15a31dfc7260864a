package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/store"
)

// reportName is the session's name in file names: its folder, or the file's
// name for a file directly in the inbox root.
func reportName(s store.Session) string {
	if s.Folder != "" {
		return s.Folder
	}
	if len(s.Files) > 0 {
		return s.Files[0].Name
	}
	return s.ID
}

// failedOutcome reports whether every file of the session goes to failed/.
func failedOutcome(outcome string) bool {
	return outcome == report.OutcomeFailed || outcome == report.OutcomeRejected
}

// buildReport returns the session's report document (SPEC §5).
func buildReport(s store.Session) *report.Report {
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		SessionID:     s.ID,
		Inbox:         s.Inbox,
		Folder:        s.Folder,
		Outcome:       s.Outcome,
		AggregationID: s.AggregationID,
		LoginID:       s.LoginID,
		RequestID:     s.RequestID,
		Tag:           s.Tag,
		ClientName:    s.ClientName,
		Files:         make([]report.File, 0, len(s.Files)),
		Times: report.Times{
			FirstSeen: s.Times.FirstSeen,
			Uploaded:  timePtr(s.Times.Uploaded),
			Completed: timePtr(s.Times.Completed),
			Analysed:  timePtr(s.Times.Analysed),
			Reported:  timePtr(s.Times.Reported),
		},
	}
	for _, f := range s.Files {
		rf := report.File{Name: f.Name, Size: f.Size, SHA256: f.SHA256}
		switch {
		case f.State == store.FileSent && s.Outcome != report.OutcomeRejected:
			rf.Status = report.FileUploaded
		case f.State == store.FileRejected:
			rf.Status, rf.Reason = report.FileRejected, f.Reason
		default:
			rf.Status, rf.Reason, rf.SHA256 = report.FileRejected, "not uploaded: the session failed before this file was sent", ""
		}
		r.Files = append(r.Files, rf)
	}
	if s.Fraud != nil {
		r.Fraud = &report.Fraud{SignalCount: s.Fraud.SignalCount, Documents: s.Fraud.Documents}
	}
	if s.Error != nil {
		r.Error = &report.Error{Stage: s.Error.Stage, HTTPStatus: s.Error.HTTPStatus, Message: s.Error.Message}
	}
	return r
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// writeReport writes the report to the outbox and records where the files
// go. An outbox that cannot be written keeps the session here (retried with
// backoff); no file moves before the report is on disk.
func (p *Pipeline) writeReport(s store.Session, log zerolog.Logger) (store.Session, error) {
	ib, ok := p.inboxes[filepath.Clean(s.Inbox)]
	if !ok {
		return s, fmt.Errorf("inbox %s is no longer configured: add it back to finish this session", s.Inbox)
	}
	if s.Times.Reported.IsZero() {
		// Reported is when the report is written; persisted before the
		// report is encoded, so a rewrite after a crash writes the same
		// document and files the session under the same archive date.
		// An outbox that is not there (an unmounted share) is waited for
		// first, so the time is not that of the first failed attempt.
		if fi, err := os.Stat(ib.Outbox); err != nil || !fi.IsDir() {
			if err == nil {
				err = errors.New("not a folder")
			}
			return s, fmt.Errorf("write report: outbox %s: %w (create the folder or fix inboxes[].outbox)", ib.Outbox, err)
		}
		now := p.clk.Now()
		var err error
		s, err = p.save(s.ID, func(x *store.Session) {
			if x.Times.Reported.IsZero() {
				x.Times.Reported = now
			}
		})
		if err != nil {
			return s, fmt.Errorf("record report time: %w", err)
		}
	}
	name := reportName(s)
	id := s.LoginID
	if id == "" {
		id = s.ID
	}
	path, err := report.Write(ib.Outbox, report.SessionBase(name, id), buildReport(s), report.Options{Hook: p.opts.Hook})
	if err != nil {
		return s, fmt.Errorf("write report: %w", err)
	}
	p.hook("after-report")
	var archive, failed string
	deleteUploaded := false
	for _, f := range s.Files {
		switch {
		case failedOutcome(s.Outcome) || f.State != store.FileSent:
			failed = report.FailedDir(ib.Failed, name, s.ID)
		case ib.AfterSuccess == AfterSuccessDelete:
			deleteUploaded = true
		default:
			archive = report.ArchiveDir(ib.Archive, s.Times.Reported.Local(), name, s.LoginID)
		}
	}
	log.Info().Str("report", path).Str("outcome", s.Outcome).Msg("report written")
	return p.save(s.ID, func(x *store.Session) {
		x.State, x.ReportPath = store.StateMoving, path
		x.ArchiveDir, x.FailedDir, x.DeleteUploaded = archive, failed, deleteUploaded
	})
}

// moveFiles moves (or deletes) each file to its destination with a copy of
// the report, removes the marker and the emptied folder, and marks the
// session done. Every step is safe to repeat. An uploaded file that is no
// longer as it was sent (overwritten under the same name while the session
// polled) is new content: it is left in the inbox, where the watcher takes
// it as a new session once this one is done.
func (p *Pipeline) moveFiles(ctx context.Context, s store.Session, log zerolog.Logger) (store.Session, error) {
	used := map[string]bool{}
	opts := report.Options{Hook: p.opts.Hook, Rename: p.rename}
	for _, f := range s.Files {
		uploaded := f.State == store.FileSent && !failedOutcome(s.Outcome)
		item := report.MoveItem{Src: f.Path, Size: f.Size, SHA256: f.SHA256, ModTime: f.ModTime, Verify: f.State == store.FileSent}
		var res []report.MoveResult
		var err error
		if uploaded && s.DeleteUploaded {
			res, err = report.DeleteFilesContext(ctx, []report.MoveItem{item})
		} else {
			dest := s.FailedDir
			if uploaded {
				dest = s.ArchiveDir
			}
			if dest == "" {
				return s, fmt.Errorf("no destination recorded for %s", f.Path)
			}
			used[dest] = true
			res, err = report.MoveFilesContext(ctx, []report.MoveItem{item}, dest, opts)
		}
		switch {
		case errors.Is(err, report.ErrSourceMissing):
			// Removed by someone else after the report was written: there
			// is nothing left to move; say so rather than retry forever.
			log.Warn().Str("file", f.Path).Msg("file vanished before it could be moved; the report lists it")
		case err != nil:
			return s, err
		case len(res) == 1 && res[0].Changed != "":
			log.Warn().Str("file", f.Path).Str("reason", res[0].Changed).Str("archived_copy", res[0].Dest).
				Msg("file changed after it was sent: left in the inbox as new content (it becomes a new session); the report describes the content sent")
		}
		p.hook("after-move-file")
	}
	for dest := range used {
		if err := report.CopyReport(s.ReportPath, dest); err != nil {
			return s, err
		}
	}
	if s.Marker != "" {
		if err := os.Remove(s.Marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s, fmt.Errorf("remove ready marker: %w", err)
		}
	}
	if filepath.Clean(s.Dir) != filepath.Clean(s.Inbox) {
		if err := report.RemoveEmptyDirs(s.Dir, s.Inbox); err != nil {
			log.Warn().Err(err).Msg("remove emptied session folder")
		}
	}
	return p.save(s.ID, func(x *store.Session) {
		x.State, x.Times.Done = store.StateDone, p.clk.Now()
	})
}
