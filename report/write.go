package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxNumbered bounds the numbered variants of a name tried before giving up
// with ErrTooManyNames.
const maxNumbered = 1000

// tempPrefix starts the names of every temporary file this package creates.
// The leading dot hides them from the operator's tools and from our watcher;
// the ".tmp" suffix is on the watcher's ignore list too.
const tempPrefix = ".flinkdrop-"

// reportPerm is the permission of a written report: the folder's own
// permissions decide who may see it.
const reportPerm = 0o644

// Encode returns the JSON document for r, as Write writes it: indented, with
// a final newline, schema_version set to SchemaVersion, and "files" and
// "fraud.documents" written as [] rather than null when empty.
//
// Empty strings are written as "" (never omitted), so every field of SPEC §5
// is always present; "fraud" and "error" are null when there is none; of
// "times", only the milestones that happened are written (first_seen always).
// Encode does not change r.
func Encode(r *Report) ([]byte, error) {
	if r == nil {
		return nil, errors.New("report: encode: nil report")
	}
	doc := *r
	doc.SchemaVersion = SchemaVersion
	if doc.Files == nil {
		doc.Files = []File{}
	}
	if doc.Fraud != nil && doc.Fraud.Documents == nil {
		f := *doc.Fraud
		f.Documents = []json.RawMessage{}
		doc.Fraud = &f
	}
	data, err := json.MarshalIndent(&doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: encode session %s: %w", r.SessionID, err)
	}
	return append(data, '\n'), nil
}

// Write writes r atomically to outbox as base+".json" and returns the path
// written. It sets r.SchemaVersion to SchemaVersion.
//
// The document goes to a hidden temporary file in outbox first, is synced,
// and is then given its final name without ever replacing a file (a hard
// link, which fails if the name exists; where links are not supported, a
// rename after checking the name is free); the folder is synced after.
// A reader never sees half a report.
//
// If base.json exists and holds another session_id, Write tries base-2.json,
// base-3.json and so on. If a candidate already holds this report's
// session_id, Write leaves it as it is and returns its path, so writing the
// same session again after a crash is harmless. Temporary files left by an
// earlier, interrupted write of the same report (same base and session) are
// removed once the report is in place.
//
// The outbox must exist: a missing outbox is more likely an unmounted share
// than a folder to create. base must be one file-name component (see
// SessionBase); anything else is ErrUnsafeName.
//
// opts is optional (at most one is used): its Hook is called at
// "report-temp-written".
func Write(outbox, base string, r *Report, opts ...Options) (string, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := checkBase(base); err != nil {
		return "", fmt.Errorf("report: write %q in outbox %s: %w (build the name with report.SessionBase)", base, outbox, err)
	}
	if r == nil {
		return "", fmt.Errorf("report: write %s in outbox %s: nil report", base, outbox)
	}
	if r.SessionID == "" {
		return "", fmt.Errorf("report: write %s in outbox %s: %w", base, outbox, ErrNoSessionID)
	}
	r.SchemaVersion = SchemaVersion
	data, err := Encode(r)
	if err != nil {
		return "", err
	}
	if err := checkFolder("outbox", outbox); err != nil {
		return "", err
	}
	// Temporary files are named for the base and the session, so a Write
	// removes only what an interrupted Write of the same report left. It
	// does so once its report is in place: a concurrent Write of the same
	// report that loses its temporary file then finds that report.
	prefix := tempPrefixFor(base + "\x00" + r.SessionID)
	for range maxAttempts {
		final, lost, err := writeOnce(outbox, base, r.SessionID, prefix, data, o)
		if lost {
			continue
		}
		if err == nil {
			// Leftovers are harmless and a later Write retries: the report
			// is on disk, which is what counts.
			_ = removeStaleTemps(outbox, prefix)
		}
		return final, err
	}
	return "", fmt.Errorf("report: outbox %s: write %s.json: temporary file removed %d times by other writers of the same report (write each report once at a time)",
		outbox, base, maxAttempts)
}

// maxAttempts bounds how often Write starts over when a concurrent Write of
// the same report removed its temporary file. Each loss means another
// writer's report is in place, so the next attempt normally finds it.
const maxAttempts = 10

// writeOnce writes data to a temporary file and places it at the first free
// numbered name, or finds the session's report already there. lost reports
// that the temporary file disappeared before it could be placed.
func writeOnce(outbox, base, sessionID, prefix string, data []byte, o Options) (final string, lost bool, err error) {
	tmp, err := writeTemp(outbox, prefix, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("report: outbox %s: %w%s", outbox, err, hint(err))
	}
	defer os.Remove(tmp) // gone already once linked or renamed
	// Temporary files are private; a report is for the operator's tools.
	if err := os.Chmod(tmp, reportPerm); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", true, nil
		}
		return "", false, fmt.Errorf("report: outbox %s: %w%s", outbox, err, hint(err))
	}
	o.hook("report-temp-written")

	for n := 1; n <= maxNumbered; n++ {
		final := filepath.Join(outbox, numberedBase(base, n)+".json")
		err := placeNoReplace(tmp, final)
		if err == nil {
			if err := syncDir(outbox); err != nil {
				return "", false, fmt.Errorf("report: outbox %s: %w", outbox, err)
			}
			return final, false, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			if _, serr := os.Lstat(tmp); errors.Is(serr, fs.ErrNotExist) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("report: outbox %s: place %s: %w%s", outbox, filepath.Base(final), err, hint(err))
		}
		same, err := holdsSession(final, sessionID)
		if err != nil {
			return "", false, fmt.Errorf("report: outbox %s: read existing %s: %w%s", outbox, filepath.Base(final), err, hint(err))
		}
		if same {
			// Written before a crash or by an earlier attempt: make sure its
			// name is on disk and keep it.
			if err := syncDir(outbox); err != nil {
				return "", false, fmt.Errorf("report: outbox %s: %w", outbox, err)
			}
			return final, false, nil
		}
	}
	return "", false, fmt.Errorf("report: outbox %s: %s.json … %s.json: %w (move old reports away)",
		outbox, base, numberedBase(base, maxNumbered), ErrTooManyNames)
}

// numberedBase returns base for n = 1 and base-n after.
func numberedBase(base string, n int) string {
	if n == 1 {
		return base
	}
	return base + "-" + strconv.Itoa(n)
}

// holdsSession reports whether path is a regular file holding a report with
// the given session_id. A file that is not a report is not ours.
func holdsSession(path, sessionID string) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var doc struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return false, nil
	}
	return doc.SessionID == sessionID, nil
}

// checkFolder returns a clear error unless dir is an existing folder.
func checkFolder(what, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("report: %s %s: %w%s", what, dir, err, hint(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("report: %s %s is not a folder (point inboxes[].%s at a folder the service user can write)", what, dir, what)
	}
	return nil
}

// hint returns " (the fix)" for the errors an operator can fix, or "".
func hint(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return " (make it writable by the service user)"
	case errors.Is(err, fs.ErrNotExist):
		return " (create the folder, or fix its path in the config)"
	}
	if h := platformHint(err); h != "" {
		return " (" + h + ")"
	}
	return ""
}

// tempPrefixFor returns the prefix of the temporary files made on the way to
// the file named target: the same target always gets the same prefix, so a
// later attempt finds and removes what a crashed one left, without touching
// the temporary files of other targets being written at the same time.
func tempPrefixFor(target string) string {
	sum := sha256.Sum256([]byte(target))
	return tempPrefix + hex.EncodeToString(sum[:4]) + "-"
}

// removeStaleTemps removes the temporary files in dir whose names start with
// prefix and end in ".tmp".
func removeStaleTemps(dir, prefix string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, ".tmp") || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale temporary file %s: %w", n, err)
		}
	}
	return nil
}

// writeTemp creates a temporary file in dir named prefix*.tmp, fills it with
// write, syncs and closes it, and returns its path. On error nothing is left.
func writeTemp(dir, prefix string, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, prefix+"*.tmp")
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	name := f.Name()
	fail := func(what string, err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("%s temporary file %s: %w", what, filepath.Base(name), err)
	}
	if err := write(f); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("close temporary file %s: %w", filepath.Base(name), err)
	}
	return name, nil
}

// placeNoReplace gives the complete file tmp the name final, failing with an
// error that matches fs.ErrExist if final exists. It links, which is atomic
// and never replaces; where the file system has no hard links it checks that
// final is free and renames, which leaves only a tiny window.
func placeNoReplace(tmp, final string) error {
	return placeWith(os.Link, tmp, final)
}

// placeWith is placeNoReplace with the link call given, so that tests can
// take the path of file systems without hard links.
func placeWith(link func(oldname, newname string) error, tmp, final string) error {
	err := link(tmp, final)
	if err == nil {
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove temporary file %s: %w", filepath.Base(tmp), err)
		}
		return nil
	}
	if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, serr := os.Lstat(final); serr == nil {
		return &fs.PathError{Op: "place", Path: final, Err: fs.ErrExist}
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return serr
	}
	return os.Rename(tmp, final)
}

// sameBytes reports whether the file at path holds exactly data.
func sameBytes(path string, data []byte) (bool, error) {
	got, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, data), nil
}
