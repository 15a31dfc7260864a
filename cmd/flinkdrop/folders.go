package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/config"
)

// errInboxMissing is returned by prepareFolders for `run --once` when an
// inbox root does not exist: there is nothing it could take from it.
var errInboxMissing = errors.New("inbox folder does not exist")

// folderMode is the mode of the folders flinkdrop creates.
const folderMode = 0o750

// prepareFolders creates state_dir, and checks every inbox's outbox, failed
// and (with after_success: move) archive folder.
//
// `run --once`, started by a person, creates missing output folders, so it
// never waits on a folder that is not there. The daemon does not: a missing
// output folder at start most often means a share not mounted yet, and
// creating it would put reports and archived files on the local disk under
// the mount point, hidden once the share mounts. It logs the folder and goes
// on; sessions wait for it (the status shows why).
//
// Inbox roots are never created: a missing one fails `run --once`
// (errInboxMissing) and is logged by the daemon, which goes on (the share
// may be mounted later; the watcher retries it).
func prepareFolders(cfg *config.Config, once bool, log zerolog.Logger) error {
	if err := makeFolder("state_dir", cfg.StateDir); err != nil {
		return err
	}
	var missing []error
	for i, in := range cfg.Inboxes {
		k := "inboxes[" + strconv.Itoa(i) + "]."
		if _, err := os.Stat(in.Path); errors.Is(err, fs.ErrNotExist) {
			err := fmt.Errorf("%w: %spath %s does not exist (create it, mount the share, or fix %spath)", errInboxMissing, k, in.Path, k)
			if once {
				missing = append(missing, err)
			} else {
				log.Error().Str("inbox", in.Path).Msg(err.Error() + "; flinkdrop keeps looking for it")
			}
		}
		folders := []struct{ key, dir string }{{k + "outbox", in.Outbox}, {k + "failed", in.Failed}}
		if in.AfterSuccess == config.AfterSuccessMove {
			folders = append(folders, struct{ key, dir string }{k + "archive", in.Archive})
		}
		for _, f := range folders {
			if !once {
				if _, err := os.Stat(f.dir); errors.Is(err, fs.ErrNotExist) {
					log.Error().Str("folder", f.dir).Msgf("%s %s does not exist: sessions wait for it (create it, or mount its share)", f.key, f.dir)
				}
				continue
			}
			if err := makeFolder(f.key, f.dir); err != nil {
				return err
			}
		}
	}
	return errors.Join(missing...)
}

// makeFolder creates dir (and its parents) unless it exists; key is the
// config key that names it.
func makeFolder(key, dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, folderMode); err != nil {
		return fmt.Errorf("%s %s cannot be created: %w (create it and give the service user write access, or fix %s)", key, dir, err, key)
	}
	return nil
}
